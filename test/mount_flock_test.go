package test

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestMountFlockOnNewFile checks that a file created through the mount is
// one inode for everyone who has it open, so that flock(2), which the
// kernel keeps per inode (the mount has no locks of its own), excludes.
// The chaos harness found two workers holding "the" lock at once: the
// creator kept the inode of its pending create, while an opener after the
// create committed got the znode's stable inode.
func TestMountFlockOnNewFile(t *testing.T) {
	m := startMounted(t)
	path := m.path("lock")
	open := func() *os.File {
		t.Helper()
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	ino := func(f *os.File) uint64 {
		var st syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
			t.Fatal(err)
		}
		return st.Ino
	}
	holder := open()
	defer holder.Close()
	if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	// A second opener commits the buffered create; a third comes once
	// the create's event has reached the kernel's caches (its entry for
	// the name dropped, so the third open looks the name up again). A
	// write through the mount returns from close once its own event has
	// (fusefs's doc: a commit waits for its own invalidation), and the
	// mount handles events in order: the marker's close is that point.
	second := open()
	defer second.Close()
	if err := os.WriteFile(m.path("marker"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	third := open()
	defer third.Close()
	for i, f := range []*os.File{second, third} {
		if got, want := ino(f), ino(holder); got != want {
			t.Errorf("opener %d has inode %d, the creator %d", i+2, got, want)
		}
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Errorf("opener %d took the lock the creator holds: %v", i+2, err)
		}
	}
	holder.Close()
	// The kernel sends the release of a closed file's flock locks after
	// close(2) returns, so the cluster lock is freed a moment later.
	eventually(t, 10*time.Second, "the lock freed after its holder closed", func() error {
		return syscall.Flock(int(third.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	})
}
