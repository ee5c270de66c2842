package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// mounted is a `zkfs server --mount` process and its mount point. The
// mount is always served by that separate process: a process that serves
// a FUSE mount and uses it too can deadlock.
type mounted struct {
	*Server
	Mnt string
}

// raceBin is zkfs built with the race detector, so that the mount tests
// also check the FUSE server's own concurrency; built once, on first use.
var raceBin = sync.OnceValues(func() (string, error) {
	// Next to the plain binary, whose directory TestMain removes.
	bin := filepath.Join(filepath.Dir(zkfsBin), "zkfs-race")
	cmd := exec.Command("go", "build", "-race", "-o", bin, "./cmd/zkfs")
	cmd.Dir = ".."
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -race: %v\n%s", err, out)
	}
	return bin, nil
})

// startMounted starts a server that mounts the namespace, waits until the
// mount is there, and at cleanup stops the server and checks that the
// mount went away with it and that the race detector found nothing.
func startMounted(t *testing.T, args ...string) *mounted {
	t.Helper()
	bin, err := raceBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	mnt := filepath.Join(dir, "mnt")
	s, err := NewServer(bin, dir, append([]string{"--mount", mnt}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	m := &mounted{Server: s, Mnt: mnt}
	t.Cleanup(func() {
		if err := s.Stop(20 * time.Second); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
		if isMounted(mnt) {
			t.Errorf("%s is still mounted after the server stopped", mnt)
			exec.Command("umount", "-l", mnt).Run()
		}
		if log := s.LogTail(1 << 20); strings.Contains(log, "DATA RACE") {
			t.Errorf("the race detector reported a race in the server:\n%s", log[strings.Index(log, "WARNING: DATA RACE"):])
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.LogTail(6000))
		}
	})
	m.start(t)
	return m
}

// start starts (or restarts) the process and waits for its mount.
func (m *mounted) start(t *testing.T) {
	t.Helper()
	if err := m.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !mountAnswers(m.Mnt) {
		if time.Now().After(deadline) {
			t.Fatalf("no mount at %s\n%s", m.Mnt, m.LogTail(4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// path returns a path inside the mount.
func (m *mounted) path(rel string) string { return filepath.Join(m.Mnt, rel) }

// fuseSuperMagic is a FUSE file system's type in statfs.
const fuseSuperMagic = 0x65735546

// mountAnswers reports whether a live FUSE mount answers at dir. A server
// started on a mount point where its killed predecessor left a stale
// mount detaches that one before it mounts: /proc/mounts lists a FUSE
// mount at dir all along, but a script run in between finds the bare
// directory underneath.
func mountAnswers(dir string) bool {
	var st syscall.Statfs_t
	return syscall.Statfs(dir, &st) == nil && st.Type == fuseSuperMagic
}

// isMounted reports whether a FUSE file system is mounted at dir.
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == dir && strings.HasPrefix(f[2], "fuse") {
			return true
		}
	}
	return false
}

// shResult is what a shell script did.
type shResult struct {
	Stdout, Stderr string
	Code           int
}

// sh runs a bash script in the mount, as a user's shell would.
func (m *mounted) sh(t *testing.T, script string) shResult {
	t.Helper()
	return shIn(t, m.Mnt, script)
}

// shIn runs a bash script in dir.
func shIn(t *testing.T, dir, script string) shResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := shResult{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	default:
		t.Fatalf("running %q: %v", script, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("script %q did not finish within 60s; stderr: %s", script, r.Stderr)
	}
	return r
}

// ok runs a script that must succeed and returns its output.
func (m *mounted) ok(t *testing.T, script string) string {
	t.Helper()
	r := m.sh(t, script)
	if r.Code != 0 {
		t.Fatalf("%q: exit %d\nstdout: %s\nstderr: %s", script, r.Code, r.Stdout, r.Stderr)
	}
	return r.Stdout
}

// fails runs a script that must fail with a message containing want (the
// strerror text of the errno expected, as the tools print it).
func (m *mounted) fails(t *testing.T, script, want string) {
	t.Helper()
	r := m.sh(t, script)
	if r.Code == 0 {
		t.Errorf("%q succeeded; want failure with %q (stdout %q)", script, want, r.Stdout)
		return
	}
	if !strings.Contains(r.Stderr, want) {
		t.Errorf("%q: stderr %q, want it to contain %q", script, r.Stderr, want)
	}
}

// xattr reads one attribute with getfattr.
func (m *mounted) xattr(t *testing.T, rel, name string) string {
	t.Helper()
	return m.ok(t, fmt.Sprintf("getfattr --only-values -n %s %q", name, rel))
}

// wantErrno checks the errno of a system call made by the test itself.
func wantErrno(t *testing.T, what string, err error, want syscall.Errno) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v (%d)", what, err, want, int(want))
	}
}

// watchStream reads an @watch file through a `cat` process, line by line.
// cat runs in its own process so that a read blocked in the kernel never
// holds up the test; cleanup kills it, which also checks that a blocked
// read gives way to a signal.
type watchStream struct {
	cmd   *exec.Cmd
	lines chan string
	path  string
	once  sync.Once
}

// stop kills the reader, which also checks that a read blocked in the
// kernel gives way to a signal.
func (w *watchStream) stop(t *testing.T) {
	w.once.Do(func() {
		w.cmd.Process.Kill()
		done := make(chan struct{})
		go func() { w.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("%s of %s did not die on SIGKILL", w.cmd.Args[0], w.path)
		}
	})
}

// openWatch starts reading path and returns once the file is open, which
// is when the watch is registered.
func openWatch(t *testing.T, path string) *watchStream {
	t.Helper()
	return openStream(t, path, "cat", path)
}

// openStream runs a command that reads path (cat, tail -f) and returns
// once the command has the file open.
func openStream(t *testing.T, path string, argv ...string) *watchStream {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &watchStream{cmd: cmd, lines: make(chan string, 1000), path: path}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
		close(w.lines)
	}()
	t.Cleanup(func() { w.stop(t) })
	deadline := time.Now().Add(10 * time.Second)
	for !hasOpen(cmd.Process.Pid, path) {
		if time.Now().After(deadline) {
			t.Fatalf("cat did not open %s", path)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return w
}

// hasOpen reports whether process pid has path open.
func hasOpen(pid int, path string) bool {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return false
	}
	for _, fd := range fds {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); err == nil && l == path {
			return true
		}
	}
	return false
}

// next returns the next line, or fails the test after timeout.
func (w *watchStream) next(t *testing.T, timeout time.Duration) string {
	t.Helper()
	select {
	case l, ok := <-w.lines:
		if !ok {
			t.Fatal("@watch stream ended")
		}
		return l
	case <-time.After(timeout):
		t.Fatalf("no @watch line within %v", timeout)
	}
	return ""
}

// quiet checks that nothing is pending on w, the @watch of the znode dir:
// it sets dir's data to the bytes it holds, a change made now, and expects that
// change's event as the next line. The mount queues events in apply order,
// so a pending one would come first; no time window is involved.
func (w *watchStream) quiet(t *testing.T, zc *zk.Conn, dir string) {
	t.Helper()
	data, _, err := zc.Get(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Set(dir, data, -1); err != nil {
		t.Fatal(err)
	}
	if typ, p := watchLine(t, w.next(t, 10*time.Second)); typ != "NodeDataChanged" || p != dir {
		t.Errorf("unexpected @watch line %s %s before the marker change of %s", typ, p, dir)
	}
}

// watchLine splits "0x1f NodeDataChanged /a/b" and checks its shape.
func watchLine(t *testing.T, line string) (typ, path string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 3 || !strings.HasPrefix(f[0], "0x") {
		t.Fatalf("@watch line %q is not ZXID TYPE PATH", line)
	}
	return f[1], f[2]
}
