package test

import (
	"errors"
	"os"
	"os/exec"
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
	time.Sleep(200 * time.Millisecond)
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
