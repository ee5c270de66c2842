package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestBashCompletion loads `zkfs completion bash` into a real bash (and
// the zsh form into zsh, through its bashcompinit) and
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
	zshScript, err := exec.Command(bin, "completion", "zsh").Output()
	if err != nil {
		t.Fatal(err)
	}
	zshFile := filepath.Join(t.TempDir(), "zkfs.zsh")
	if err := os.WriteFile(zshFile, zshScript, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("zsh"); err != nil {
		t.Fatalf("zsh is missing (%v); apt-get install zsh, as .ci/run does", err)
	}
	complete := func(shell, line string) string {
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
		script := file
		if shell == "zsh" {
			script = zshFile
		}
		sh = strings.Replace(sh, file, script, 1)
		if shell == "zsh" {
			// What an interactive zsh has done before loading it.
			sh = "autoload -U compinit && compinit -u -D; " + sh
		}
		cmd := exec.Command(shell, "-c", sh)
		cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "ZKFS_SERVER="+addr, raceEnv)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("completing %q: %v\n%s", line, err, out)
		}
		return strings.Join(strings.Fields(string(out)), " ")
	}
	for _, shell := range []string{"bash", "zsh"} {
		for _, tc := range []struct{ line, want string }{
			{"zkfs sn", "snapshot"},
			{"zkfs snapshot re", "restore"},
			{"zkfs snapshot restore --data-d", "--data-dir"},
			{"zkfs server --log-f", "--log-format"},
			{"zkfs reconfig -", ""}, // checked below: has -add
			{"zkfs get /ap", "/apps"},
			{"zkfs ls /apps/w", "/apps/web /apps/worker"},
			{"zkfs mo", ""}, // mount-guard is the server's, not the user's
		} {
			got := complete(shell, tc.line)
			if tc.line == "zkfs reconfig -" {
				if !strings.Contains(got, "--add") || !strings.Contains(got, "--server") {
					t.Errorf("%s: %q completed to %q, want --add and --server among them", shell, tc.line, got)
				}
				continue
			}
			if got != tc.want {
				t.Errorf("%s: %q completed to %q, want %q", shell, tc.line, got, tc.want)
			}
		}
	}
}
