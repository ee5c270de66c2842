package chaos

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

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
