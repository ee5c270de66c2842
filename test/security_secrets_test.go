package test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestSecuritySecretsOffCommandLine checks that credentials can be given
// in files (--mount-auth-file, --super-digest-file, the CLI's --auth-file)
// and in ZKFS_AUTH, that ps then never shows them, that a file other users
// may read is warned about, and that a credential on the command line
// still works with a warning saying where it shows.
func TestSecuritySecretsOffCommandLine(t *testing.T) {
	const password, superPassword = "pw-Zk7qW3", "sup-Zk7qW3"
	dir := t.TempDir()
	authFile := filepath.Join(dir, "mount.auth")
	if err := os.WriteFile(authFile, []byte("digest:u:"+password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	superFile := filepath.Join(dir, "super.digest")
	superDigest := "super:" + digestHash("super:"+superPassword)
	if err := os.WriteFile(superFile, []byte(superDigest+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	metricsPort, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	m := startMounted(t, "--mount-auth-file", authFile, "--super-digest-file", superFile,
		"--metrics-port", fmt.Sprint(metricsPort), "--metrics-address", "127.0.0.1")
	zc := connect(t, m.Addr(), 10*time.Second)
	if err := zc.AddAuth("digest", []byte("super:"+superPassword)); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, zc, "/mine", "v0", zk.DigestACL(zk.PermAll, "u", password))
	// The superuser from the file could create the node under u's ACL and
	// still reads it; the mount acts as u, from its file.
	if d, _, err := zc.Get("/mine"); err != nil || string(d) != "v0" {
		t.Errorf("the superuser reading /mine: %q, %v", d, err)
	}
	if got := m.ok(t, "cat mine"); got != "v0" {
		t.Errorf("the mount with --mount-auth-file reading /mine: %q", got)
	}
	log := m.LogTail(1 << 20)
	if !strings.Contains(log, "--super-digest-file: "+superFile+" has mode 0644") {
		t.Errorf("no warning about the super digest file's mode in the log")
	}
	if strings.Contains(log, "--mount-auth-file: ") || strings.Contains(log, "on the command line") {
		t.Errorf("a warning about a private file or a command line that holds no secret")
	}

	// Two long-running client commands, one with --auth-file, one with
	// ZKFS_AUTH; each proves its credentials by seeing an event of /mine.
	watchers := []*exec.Cmd{
		exec.Command(zkfsBin, "watch", "-m", "/mine", "-server", m.Addr(), "--auth-file", authFile),
		exec.Command(zkfsBin, "watch", "-m", "/mine", "-server", m.Addr()),
	}
	watchers[1].Env = append(os.Environ(), "ZKFS_AUTH=digest:u:"+password)
	var outs []*lineReader
	for _, c := range watchers {
		c.Stderr = os.Stderr
		lr := newLineReader(t, c)
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		outs = append(outs, lr)
	}
	// Set until both have printed an event: a watch is set once the
	// command has connected, which the test cannot see otherwise.
	for i, lr := range outs {
		deadline := time.Now().Add(20 * time.Second)
		for {
			if _, err := zc.Set("/mine", []byte("v"), -1); err != nil {
				t.Fatal(err)
			}
			if line, ok := lr.next(200 * time.Millisecond); ok {
				if !strings.Contains(line, "NodeDataChanged /mine") {
					t.Errorf("watcher %d printed %q", i, line)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("watcher %d saw no event of /mine: its credentials did not work", i)
			}
		}
	}
	// Neither /metrics nor the log holds them either.
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(metrics), "zkfs_") {
		t.Fatalf("/metrics served no zkfs metrics:\n%s", metrics)
	}
	for _, secret := range []string{password, superPassword, digestHash("super:" + superPassword), digestHash("u:" + password)} {
		if strings.Contains(string(metrics), secret) {
			t.Errorf("/metrics shows a credential")
		}
		if strings.Contains(m.LogTail(1<<20), secret) {
			t.Errorf("the server's log shows a credential:\n%s", grepLines(m.LogTail(1<<20), secret))
		}
	}
	// What ps prints as a process's arguments is its /proc/PID/cmdline,
	// which every local user may read. It is read directly for these
	// processes: ps itself reads every process's, and blocks on one stuck
	// in a page fault on some FUSE mount (the chaos harness makes those).
	var ps []byte
	for _, pid := range []int{m.Pid(), watchers[0].Process.Pid, watchers[1].Process.Pid} {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			t.Fatalf("the command line of process %d: %q, %v", pid, b, err)
		}
		ps = append(append(ps, bytes.ReplaceAll(b, []byte{0}, []byte{' '})...), '\n')
	}
	if !strings.Contains(string(ps), "--auth-file "+authFile) || !strings.Contains(string(ps), "--mount-auth-file "+authFile) {
		t.Errorf("the command lines read are not the commands started:\n%s", ps)
	}
	for _, secret := range []string{password, superPassword, digestHash("super:" + superPassword)} {
		if strings.Contains(string(ps), secret) {
			t.Errorf("ps shows a credential:\n%s", grepLines(string(ps), secret))
		}
	}

	// On the command line, a credential still works, with a warning.
	cli := exec.Command(zkfsBin, "get", "/mine", "-server", m.Addr(), "--auth", "digest:u:"+password)
	var stdout, stderr strings.Builder
	cli.Stdout, cli.Stderr = &stdout, &stderr
	if err := cli.Run(); err != nil || stdout.String() != "v\n" || !strings.Contains(stderr.String(), "--auth on the command line is visible to every local user") {
		t.Errorf("zkfs get --auth: %v, stdout %q, stderr %q", err, stdout.String(), stderr.String())
	}
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Args = []string{"--mount", m.Mnt, "--mount-auth", "digest:u:" + password}
	m.start(t)
	if got := m.ok(t, "cat mine"); got != "v" {
		t.Errorf("the mount with --mount-auth reading /mine: %q", got)
	}
	if !strings.Contains(m.LogTail(1<<20), "--mount-auth on the command line is visible to every local user") {
		t.Errorf("no warning about --mount-auth on the command line")
	}
	// And the warning is true: the same reading finds the password now.
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", m.Pid())); err != nil || !bytes.Contains(b, []byte(password)) {
		t.Errorf("the password given with --mount-auth is not in the command line read (%v): the check above proves nothing", err)
	}
}

// grepLines returns the lines of s that contain sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// lineReader hands out a command's output lines as they come.
type lineReader struct{ lines chan string }

func newLineReader(t *testing.T, c *exec.Cmd) *lineReader {
	t.Helper()
	out, err := c.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	lr := &lineReader{lines: make(chan string, 100)}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lr.lines <- sc.Text()
		}
		close(lr.lines)
	}()
	return lr
}

// next waits up to d for a line.
func (lr *lineReader) next(d time.Duration) (string, bool) {
	select {
	case l, ok := <-lr.lines:
		return l, ok
	case <-time.After(d):
		return "", false
	}
}
