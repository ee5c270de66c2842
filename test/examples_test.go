package test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExamples runs every examples/*/run.sh on one three-replica ensemble
// with mounts, as their READMEs describe, under nohup, and compares what
// each prints with its expected.out, which its README shows.
func TestExamples(t *testing.T) {
	scripts, err := filepath.Glob("../examples/*/run.sh")
	if err != nil || len(scripts) == 0 {
		t.Fatalf("no examples found: %v", err)
	}
	if only := os.Getenv("ZKFS_EXAMPLE"); only != "" {
		scripts = []string{filepath.Join("../examples", only, "run.sh")}
	}
	e := newTestEnsemble(t, 3, 0)
	ms := e.members
	env := append(os.Environ(),
		"PATH="+filepath.Dir(zkfsBin)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"MNT1="+ms[0].Mnt, "MNT2="+ms[1].Mnt, "MNT3="+ms[2].Mnt,
		"ZK1="+ms[0].Addr(), "ZK2="+ms[1].Addr(), "ZK3="+ms[2].Addr())
	for _, script := range scripts {
		dir := filepath.Dir(script)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			want, err := os.ReadFile(filepath.Join(dir, "expected.out"))
			if err != nil {
				t.Fatal(err)
			}
			readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
			if err != nil || !bytes.Contains(readme, []byte("```\n"+string(want)+"```")) {
				t.Errorf("README.md does not show expected.out in a code block (%v)", err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			// Under nohup, as scripts often are started, SIGHUP is
			// ignored, and bash cannot trap a signal ignored at its
			// start: lib.sh must undo that.
			cmd := exec.CommandContext(ctx, "nohup", "bash", "run.sh")
			cmd.Dir = dir
			cmd.Env = append(slices.Clip(env), "WORK="+t.TempDir()) // a copy: the subtests run at once
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err = cmd.Run()
			if err != nil {
				t.Fatalf("run.sh: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			if got := stdout.String(); got != string(want) {
				t.Errorf("run.sh printed:\n%s\nwant (expected.out):\n%s\nstderr:\n%s", got, want, stderr.String())
			}
			if strings.Contains(stderr.String(), "timed out") {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
