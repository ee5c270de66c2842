package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBashCompletion loads `zkfs completion bash` into a real bash and
// completes commands, subcommands, flags (read from --help) and znode
// paths (listed from a real server given by $ZKFS_SERVER).
func TestBashCompletion(t *testing.T) {
	bin := buildZkfs(t)
	addr := startZkfsServer(t, bin)
	for _, p := range []string{"/apps", "/apps/web", "/apps/worker", "/other"} {
		if out, err := exec.Command(bin, "create", "-server", addr, p, "x").CombinedOutput(); err != nil {
			t.Fatalf("create %s: %v %s", p, err, out)
		}
	}
	script, err := exec.Command(bin, "completion", "bash").Output()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "zkfs.bash")
	if err := os.WriteFile(file, script, 0o644); err != nil {
		t.Fatal(err)
	}
	complete := func(line string) string {
		t.Helper()
		words := strings.Fields(line)
		if strings.HasSuffix(line, " ") {
			words = append(words, "")
		}
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		sh := "source " + file + "; COMP_WORDS=(" + strings.Join(quoted, " ") + "); COMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "; _zkfs; printf '%s\\n' \"${COMPREPLY[@]}\""
		cmd := exec.Command("bash", "-c", sh)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "ZKFS_SERVER="+addr, raceEnv)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	for _, tc := range []struct{ line, want string }{
		{"zkfs sn", "snapshot"},
		{"zkfs snapshot re", "restore"},
		{"zkfs snapshot restore --data-d", "--data-dir"},
		{"zkfs server --log-f", "--log-format"},
		{"zkfs reconfig -", ""}, // checked below: has -add
		{"zkfs get /ap", "/apps"},
		{"zkfs ls /apps/w", "/apps/web /apps/worker"},
	} {
		got := complete(tc.line)
		if tc.line == "zkfs reconfig -" {
			if !strings.Contains(got, "--add") || !strings.Contains(got, "--server") {
				t.Errorf("%q completed to %q, want --add and --server among them", tc.line, got)
			}
			continue
		}
		if got != tc.want {
			t.Errorf("%q completed to %q, want %q", tc.line, got, tc.want)
		}
	}
}
