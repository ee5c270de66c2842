package fusefs

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"zkfs/replication"
)

// TestLockCreateAppliedAfterItFailed is the regression test of a lock
// the chaos harness found held for good: a flock whose contender's create
// failed with an unknown outcome (the write timeout) returned an error,
// and the create was applied later all the same; the contender, owned by
// the mount's live session, then held the lock against everyone. Here the
// leader of two replicas loses its follower right before a flock, so the
// create waits in its log uncommitted and the flock fails; when the
// follower returns, the leader (whose log is the longer) is elected again
// and commits the create. The lock must still be free.
func TestLockCreateAppliedAfterItFailed(t *testing.T) {
	peers := twoPeers(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	dirs := map[string]string{"1": t.TempDir(), "2": t.TempDir()}
	open := func(id string) *replication.Replica {
		// A long tick: the leader keeps leading for a while after its
		// follower goes, long enough to take the create into its log.
		r, err := replication.Open(replication.Config{
			DataDir: dirs[id], ID: id, Peers: peers,
			TickTime: 2 * time.Second, WriteTimeout: 300 * time.Millisecond,
			Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	reps := map[string]*replication.Replica{"1": open("1"), "2": open("2")}
	defer func() {
		for _, r := range reps {
			r.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, r := range reps {
		if err := r.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	var lead, other string
	for lead == "" {
		for id, r := range reps {
			if r.IsLeader() {
				lead = id
			} else {
				other = id
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no leader")
		}
		time.Sleep(20 * time.Millisecond)
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	m, err := New(Options{Dir: dir, Replica: reps[lead], UID: -1, GID: -1, WriteTimeout: 300 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Unmount()
	path := filepath.Join(dir, "lk")
	if err := os.WriteFile(path, []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	flock := func(how int) error {
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		return syscall.Flock(int(f.Fd()), how)
	}
	// Once with the quorum, so that the lock's container nodes exist and
	// the failing flock's only write is its contender's create.
	if err := flock(syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}

	reps[other].Close()
	delete(reps, other)
	if err := flock(syscall.LOCK_EX); err == nil {
		t.Fatal("a flock without a quorum succeeded")
	}
	if !reps[lead].IsLeader() {
		t.Fatal("the leader stepped down before the flock: its create is not in its log, and the test proves nothing")
	}
	reps[other] = open(other)
	if err := reps[other].WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(45 * time.Second)
	for {
		err := flock(syscall.LOCK_EX | syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.EROFS) {
			t.Fatalf("flock after the quorum came back: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lock is still held 45 s after the quorum came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
