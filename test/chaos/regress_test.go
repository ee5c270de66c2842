package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/go-zookeeper/zk"

	"zkfs/test"
)

// startCluster starts a three-replica cluster for a regression test.
func startCluster(t *testing.T) *cluster {
	t.Helper()
	bin, err := test.Build("../..", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	c, err := newCluster(bin, t.TempDir(), 3, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.close(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			for _, r := range c.nodes {
				t.Logf("replica %d log (tail):\n%s", r.id, r.LogTail(3000))
			}
		}
	})
	if err := c.waitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	return c
}

// isolate cuts a replica off the others, both ways.
func (c *cluster) isolate(r *replica, s linkState) {
	for _, o := range c.nodes {
		if o != r {
			c.setLink(link{r.id, o.id}, s, false)
			c.setLink(link{o.id, r.id}, s, false)
		}
	}
}

// TestMountCreateLostWithLeader creates a file through the mount of a
// leader cut off from its followers: the create fails, and the new
// leader never has it. The chaos harness found that the mount then
// answered ENOENT to every later `echo > file` of that name, for the
// hour the kernel keeps the entry of the failed create's inode.
func TestMountCreateLostWithLeader(t *testing.T) {
	c := startCluster(t)
	lead := c.leader()
	path := filepath.Join(lead.mnt, "lost")
	// Opened while the ensemble is whole; the create goes out at close.
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("1\n")); err != nil {
		t.Fatal(err)
	}
	c.isolate(lead, linkDrop)
	if err := f.Close(); err == nil {
		t.Fatal("a create through a leader without followers succeeded")
	}
	// The kernel releases the descriptor after close returns, and the
	// release forgets the failed create: the name leads nowhere once it
	// has run. Heal only then, so that the create is lost for good.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the failed create's name still stands 30 s after close (stat: %v)", err)
		}
	}
	c.healLinks(true)
	if err := c.waitHealthy(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	// The healed replica may still be settling (a new session for its
	// mount, a leader to forward to): EIO, a write not committed in time,
	// and EROFS, a replica that has not heard from the new leader yet, are
	// retried. The bug was ENOENT, for good, which is not.
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := os.WriteFile(path, []byte("2\n"), 0o644)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.EROFS) || time.Now().After(deadline) {
			t.Fatalf("writing the file again after healing: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "2\n" {
		t.Errorf("read back %q, %v", b, err)
	}
}

// TestMappedReadOfAPausedReplica copies a mapping of a file on the mount
// of a replica that is stopped (SIGSTOP), as the nemesis's pauses do, and
// meanwhile collects garbage: the collection must finish while the copy
// waits for the replica. A 5-replica chaos run froze when the mmap reader
// copied the mapping in Go: the goroutine waiting in the page fault could
// not be stopped, so the collector waited for it, and with it the whole
// harness, the nemesis that would have resumed the replica included.
func TestMappedReadOfAPausedReplica(t *testing.T) {
	c := startCluster(t)
	r := c.nodes[0]
	zc, err := dialDirect(c.nodes[1])
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	const want = "mapped content\n"
	if _, err := zc.Create("/mapped", []byte(want), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(r.mnt, "mapped")
	var st os.FileInfo
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if st, err = os.Stat(path); err == nil && st.Size() == int64(len(want)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mount never showed the file: %v", err)
		}
	}
	fd, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fd.Close()
	m, err := syscall.Mmap(int(fd.Fd()), 0, len(want), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(m)

	// Nothing of the file has been read through this mount: the copy's
	// page fault goes to the stopped replica and waits. mincore says
	// whether the page is in the page cache already, which would make
	// the copy not wait and the test prove nothing.
	resident := make([]byte, 1)
	if _, _, errno := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&resident[0]))); errno != 0 {
		t.Fatal(errno)
	}
	if resident[0]&1 != 0 {
		t.Fatal("the mapped page is in the page cache before anything read it")
	}
	// A process of its own resumes the replica after 30 s, should this
	// one freeze.
	if err := syscall.Kill(r.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// kill returns once the stop is queued; a thread of the replica that
	// runs on the other CPU stops a moment later, and could serve the
	// copy's page fault meanwhile.
	for deadline := time.Now().Add(10 * time.Second); !allThreadsStopped(r.Pid()); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			syscall.Kill(r.Pid(), syscall.SIGCONT)
			t.Fatal("the replica's threads did not all stop within 10 s of SIGSTOP")
		}
	}
	waker := exec.Command("sh", "-c", fmt.Sprintf("sleep 30; kill -CONT %d", r.Pid()))
	if err := waker.Start(); err != nil {
		syscall.Kill(r.Pid(), syscall.SIGCONT)
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(r.Pid(), syscall.SIGCONT)
		waker.Process.Kill()
		waker.Wait()
	}()
	type copied struct {
		b   []byte
		err error
	}
	done := make(chan copied, 1)
	go func() {
		b, err := copyMapping(m)
		done <- copied{b, err}
	}()
	time.Sleep(200 * time.Millisecond) // let the copy reach the page fault
	start := time.Now()
	runtime.GC()
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("garbage collection took %v: it waited for the copy of a mapping of the stopped replica", d)
	} else {
		select {
		case got := <-done:
			t.Fatalf("the copy did not wait for the stopped replica (%q, %v): the test proves nothing", got.b, got.err)
		default:
		}
	}
	syscall.Kill(r.Pid(), syscall.SIGCONT)
	select {
	case got := <-done:
		if got.err != nil || string(got.b) != want {
			t.Errorf("copy of the mapping: %q, %v; want %q", got.b, got.err, want)
		}
	case <-time.After(30 * time.Second):
		t.Error("the copy of the mapping did not finish once the replica resumed")
	}
}

// allThreadsStopped reports whether every thread of pid is stopped by a
// signal (state T in /proc/PID/task/TID/stat).
func allThreadsStopped(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil || len(tasks) == 0 {
		return false
	}
	for _, task := range tasks {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			return false
		}
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 || i+2 >= len(stat) || stat[i+2] != 'T' {
			return false
		}
	}
	return true
}
