package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestMountLifecycle checks that SIGTERM unmounts even a busy mount, and
// that a stale mount left by a crash is replaced at the next start.
func TestMountLifecycle(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "echo keep > f")

	// A crash leaves a stale mount: the kernel answers ENOTCONN.
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	_, err := os.Stat(m.Mnt)
	wantErrno(t, "stat of a mount whose server died", err, syscall.ENOTCONN)
	m.start(t)
	if got := m.ok(t, "cat f"); got != "keep\n" {
		t.Errorf("after the restart: %q", got)
	}
	if !errors.Is(m.sh(t, "true").err(), nil) {
		t.Fatal("shell failed in the new mount")
	}

	// SIGTERM with a blocked @watch reader and a process whose working
	// directory is inside: the server still goes, and the mount with it.
	cat := exec.Command("cat", m.path("@watch"))
	if err := cat.Start(); err != nil {
		t.Fatal(err)
	}
	defer cat.Process.Kill()
	sleeper := exec.Command("sleep", "60")
	sleeper.Dir = m.Mnt
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer sleeper.Process.Kill()
	// Both are inside the mount before it is stopped: the sleeper's working
	// directory is the mount, cat has @watch open.
	for deadline := time.Now().Add(20 * time.Second); !inMount(sleeper.Process.Pid, "cwd", m.Mnt) || !inMount(cat.Process.Pid, "fd", m.Mnt); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the sleeper and cat did not enter the mount")
		}
	}
	start := time.Now()
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatalf("stopping a busy mount: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping a busy mount took %v", d)
	}
	if isMounted(m.Mnt) {
		t.Error("the mount is still there after SIGTERM")
	}
	waited := make(chan error, 1)
	go func() { waited <- cat.Wait() }()
	select {
	case <-waited:
	case <-time.After(10 * time.Second):
		t.Error("the @watch reader still blocks after the server stopped")
	}
	sleeper.Process.Kill()
	sleeper.Wait()
	m.start(t)
	if got := m.ok(t, "cat f"); got != "keep\n" {
		t.Errorf("after stopping and starting again: %q", got)
	}
}

func (r shResult) err() error {
	if r.Code != 0 {
		return errors.New(r.Stderr)
	}
	return nil
}

// TestMountUnprivileged runs the server as an ordinary user, which mounts
// through the fusermount3 helper instead of mount(2), and unmounts the
// same way.
func TestMountUnprivileged(t *testing.T) {
	if _, err := exec.LookPath("fusermount3"); err != nil {
		t.Fatal("fusermount3 is not installed (apt-get install fuse3)")
	}
	bin, err := raceBin()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "zkfs-as-nobody")
	script := "#!/bin/sh\nexec setpriv --reuid=65534 --regid=65534 --clear-groups " + bin + " \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	// nobody must be able to reach the binary and own its directories.
	for d := filepath.Dir(bin); strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	for d := dir; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	os.Chmod(dir, 0o777)
	home := filepath.Join(dir, "home")
	mnt := filepath.Join(home, "mnt")
	if err := os.MkdirAll(mnt, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(mnt, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	s, err := NewServer(wrapper, home, "--mount", mnt)
	if err != nil {
		t.Fatal(err)
	}
	m := &mounted{Server: s, Mnt: mnt}
	t.Cleanup(func() {
		if err := s.Stop(20 * time.Second); err != nil && !t.Skipped() {
			t.Errorf("stopping the server: %v", err)
		}
		if isMounted(mnt) {
			t.Errorf("%s is still mounted after the server stopped", mnt)
			exec.Command("umount", "-l", mnt).Run()
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.LogTail(6000))
		}
	})
	// Some sandboxes do not honour fusermount3's setuid bit: the server
	// then answers on its client port, fails to mount and exits, and its
	// log says why. There is nothing to test there.
	refused := func() bool {
		return strings.Contains(s.LogTail(1<<16), "fusermount3: failed to open /dev/fuse")
	}
	if err := s.Start(30 * time.Second); err != nil {
		if refused() {
			t.Skipf("this environment does not let fusermount3 open /dev/fuse for an ordinary user:\n%v", err)
		}
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !isMounted(mnt) {
		if !s.Running() || time.Now().After(deadline) {
			s.Stop(5 * time.Second)
			if refused() {
				t.Skipf("this environment does not let fusermount3 open /dev/fuse for an ordinary user:\n%s", s.LogTail(2000))
			}
			t.Fatalf("no mount at %s\n%s", mnt, s.LogTail(4000))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := m.ok(t, "setpriv --reuid=65534 --regid=65534 --clear-groups sh -c 'echo hi > f && cat f && stat -c %u f'"); got != "hi\n65534\n" {
		t.Errorf("as the mounting user: %q", got)
	}
	if b, _ := os.ReadFile("/proc/mounts"); !strings.Contains(string(b), mnt+" fuse.zkfs") {
		t.Errorf("no fuse.zkfs entry for %s in /proc/mounts", mnt)
	}
}

// inMount reports whether process pid has its working directory (what
// "cwd") or one of its open files (what "fd") inside the directory mnt.
func inMount(pid int, what, mnt string) bool {
	dir := fmt.Sprintf("/proc/%d/%s", pid, what)
	links := []string{dir}
	if what == "fd" {
		ents, _ := os.ReadDir(dir)
		links = links[:0]
		for _, e := range ents {
			links = append(links, filepath.Join(dir, e.Name()))
		}
	}
	for _, l := range links {
		if target, err := os.Readlink(l); err == nil && (target == mnt || strings.HasPrefix(target, mnt+"/")) {
			return true
		}
	}
	return false
}
