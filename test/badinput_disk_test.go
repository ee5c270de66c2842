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

	"github.com/go-zookeeper/zk"
)

// TestDiskFull runs a replica on a small tmpfs and fills it: once a write
// cannot reach the disk the replica stops, with a message saying why,
// rather than go on serving in a state its disk does not hold. Given room
// again it starts with every write it acknowledged.
func TestDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root; the storage tests inject I/O errors without it")
	}
	dir := t.TempDir()
	disk := filepath.Join(dir, "disk")
	if err := os.Mkdir(disk, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", disk).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { syscall.Unmount(disk, syscall.MNT_DETACH) })

	s, err := NewServer(zkfsBin, dir)
	if err != nil {
		t.Fatal(err)
	}
	s.DataDir = filepath.Join(disk, "data")
	if err := s.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	defer s.Stop(10 * time.Second)
	zc, err := dial(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	// Leave a little room, then write until the replica goes. What the
	// replica took at start (Pebble preallocates its write-ahead log)
	// depends on its settings, so the ballast is sized from what is free.
	var st syscall.Statfs_t
	if err := syscall.Statfs(disk, &st); err != nil {
		t.Fatal(err)
	}
	room := int64(st.Bavail)*st.Bsize - 6<<20
	if room <= 0 {
		t.Fatalf("the replica took all but %d bytes of a 48 MiB disk at start", int64(st.Bavail)*st.Bsize)
	}
	ballast := filepath.Join(disk, "ballast")
	if out, err := exec.Command("fallocate", "-l", fmt.Sprint(room), ballast).CombinedOutput(); err != nil {
		t.Fatalf("fallocate: %v %s", err, out)
	}
	data := make([]byte, 64<<10)
	acked := 0
	var lastErr error
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.Done():
			lastErr = errors.New("the replica exited")
		default:
		}
		if lastErr != nil {
			break
		}
		if _, err := zc.Create(fmt.Sprintf("/n%05d", acked), data, 0, zk.WorldACL(zk.PermAll)); err != nil {
			lastErr = err
			continue // a failed write; the replica should be on its way out
		}
		acked++
	}
	select {
	case <-s.Done():
	case <-time.After(30 * time.Second):
		t.Fatalf("the disk is full and the replica still runs after %d acknowledged writes (last error %v)", acked, lastErr)
	}
	log := s.LogTail(3000)
	t.Logf("the replica stopped after %d acknowledged writes of 64 KiB: %v; log tail:\n%s", acked, s.ExitErr(), lastLinesOf(log, 3))
	if !strings.Contains(log, "no space left on device") {
		t.Errorf("the replica's last words do not say the disk is full:\n%s", log)
	}
	if s.ExitErr() == nil {
		t.Error("the replica exited with status 0")
	}

	// Room again: every acknowledged write is there.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	if err := s.Start(30 * time.Second); err != nil {
		t.Fatalf("restart with room again: %v", err)
	}
	zc2, err := dial(s.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer zc2.Close()
	for i := 0; i < acked; i++ {
		if ok, _, err := zc2.Exists(fmt.Sprintf("/n%05d", i)); err != nil || !ok {
			t.Fatalf("acknowledged /n%05d is missing after the disk filled: %v", i, err)
		}
	}
}

func lastLinesOf(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
