package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMountReaderRacingRename reads a file while another process replaces
// it over and over by writing a temporary file and renaming it over the
// name, as editors save: every read sees one whole version, old or new,
// and the name never goes missing.
func TestMountReaderRacingRename(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir d && echo 'v 0 0' > d/target")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var writes int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				writes = i - 1
				return
			default:
			}
			content := fmt.Sprintf("v %d %d\n", i, i*7)
			if err := os.WriteFile(m.path("d/.target.tmp"), []byte(content), 0o644); err != nil {
				t.Errorf("writing the temporary file: %v", err)
				return
			}
			if err := os.Rename(m.path("d/.target.tmp"), m.path("d/target")); err != nil {
				t.Errorf("renaming over the target: %v", err)
				return
			}
		}
	}()
	reads, last := 0, -1
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(m.path("d/target"))
		if err != nil {
			t.Fatalf("read %d of a file being renamed over: %v", reads, err)
		}
		var n, check int
		if _, err := fmt.Sscanf(string(b), "v %d %d\n", &n, &check); err != nil || check != n*7 || !strings.HasSuffix(string(b), "\n") {
			t.Fatalf("read %d saw %q: not one whole version", reads, b)
		}
		if n < last {
			t.Fatalf("read %d went back from version %d to %d", reads, last, n)
		}
		last = n
		reads++
	}
	close(stop)
	wg.Wait()
	t.Logf("%d reads while %d rename-replaces ran: each one whole version, never missing, never older", reads, writes)
	if writes < 10 {
		t.Errorf("only %d renames ran; the race did not happen", writes)
	}
}

// TestMountWriterRacingDelete writes a file while another process deletes
// it over and over: each write either lands whole or fails with an errno,
// nothing hangs, and the file ends as one whole version or absent, and
// removable.
func TestMountWriterRacingDelete(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir d")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := map[string]int{}
	var mu sync.Mutex
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			f, err := os.OpenFile(m.path("d/f"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
			if err == nil {
				_, err = f.Write([]byte(fmt.Sprintf("w %d %d\n", i, i*3)))
				time.Sleep(time.Millisecond) // the delete gets between open and close
				if cerr := f.Close(); err == nil {
					err = cerr
				}
			}
			mu.Lock()
			if err != nil {
				var errno syscall.Errno
				errors.As(err, &errno)
				errs[errno.Error()]++
			} else {
				errs["ok"]++
			}
			mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(m.path("d/f"))
			time.Sleep(time.Millisecond)
		}
	}()
	done := make(chan struct{})
	go func() {
		time.Sleep(5 * time.Second)
		close(stop)
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the writer or the deleter hung")
	}
	t.Logf("writes racing deletes: %v", errs)
	for e := range errs {
		if e != "ok" && e != "no such file or directory" {
			t.Errorf("a write racing a delete failed with %q", e)
		}
	}
	b, err := os.ReadFile(m.path("d/f"))
	if err == nil {
		var n, check int
		if _, serr := fmt.Sscanf(string(b), "w %d %d\n", &n, &check); serr != nil || check != 3*n {
			t.Errorf("after the race the file holds %q", b)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after the race: %v", err)
	}
	m.ok(t, "rm -f d/f && ls -A d")
	if got := m.ok(t, "ls -A d"); got != "" {
		t.Errorf("after removing: %q", got)
	}
}

// TestMountWhoseReplicaDies kills the replica under a mount that has a
// file open for reading, a process reading @watch, and a shell whose
// working directory is inside: every one of them gets an error at once,
// nothing hangs, and a restart brings the mount back with the data.
func TestMountWhoseReplicaDies(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir d && echo kept > d/f")
	open, err := os.Open(m.path("d/f"))
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()
	watch := exec.Command("cat", m.path("d/@watch"))
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	defer watch.Process.Kill()
	shell := exec.Command("bash", "-c", "while sleep 0.05; do cat f > /dev/null || exit 3; done")
	shell.Dir = m.path("d")
	if err := shell.Start(); err != nil {
		t.Fatal(err)
	}
	defer shell.Process.Kill()
	// Both are inside the mount before the server dies: the shell works in
	// it, cat has @watch open.
	for deadline := time.Now().Add(20 * time.Second); !inMount(shell.Process.Pid, "cwd", m.Mnt) || !inMount(watch.Process.Pid, "fd", m.Mnt); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the shell and cat did not enter the mount")
		}
	}

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	// mustFail: the operation needs the server. Otherwise the kernel may
	// answer from its caches (a stat, a read of cached pages), which is
	// fine as long as nothing hangs.
	within := func(what string, d time.Duration, mustFail bool, f func() error) {
		t.Helper()
		res := make(chan error, 1)
		go func() { res <- f() }()
		select {
		case err := <-res:
			t.Logf("%s after the replica died: %v (%v)", what, err, time.Since(killed).Round(time.Millisecond))
			if err == nil && mustFail {
				t.Errorf("%s succeeded on a dead mount", what)
			}
		case <-time.After(d):
			t.Errorf("%s hung for %v on a dead mount", what, d)
		}
	}
	buf := make([]byte, 10)
	within("read of a descriptor opened before", 10*time.Second, false, func() error { _, err := open.ReadAt(buf, 0); return err })
	within("stat", 10*time.Second, false, func() error { _, err := os.Stat(m.path("d/f")); return err })
	within("a new open", 10*time.Second, true, func() error { _, err := os.ReadFile(m.path("d/f")); return err })
	within("a write", 10*time.Second, true, func() error { return os.WriteFile(m.path("d/g"), []byte("x"), 0o644) })
	within("the @watch reader", 10*time.Second, true, func() error {
		if err := watch.Wait(); err != nil {
			return err
		}
		return errors.New("cat of @watch exited 0")
	})
	within("the shell inside", 10*time.Second, true, func() error {
		if err := shell.Wait(); err != nil {
			return err
		}
		return errors.New("the shell exited 0")
	})
	open.Close()
	m.start(t)
	if got := m.ok(t, "cat d/f"); got != "kept\n" {
		t.Errorf("after the restart: %q", got)
	}
}
