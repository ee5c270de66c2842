package fusefs

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"zkfs/replication"
)

// TestConfirmMissingOutlivesAnInterrupt: a lookup on a follower that finds
// nothing asks the leader whether the name was just made elsewhere. The
// FUSE request's context ends when the kernel sends an interrupt, which
// any handled signal to the caller's thread brings about; the answer must
// still be the leader's, not this replica's view alone.
func TestConfirmMissingOutlivesAnInterrupt(t *testing.T) {
	peers := twoPeers(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	var reps []*replication.Replica
	for _, id := range []string{"1", "2"} {
		r, err := replication.Open(replication.Config{
			DataDir: t.TempDir(), ID: id, Peers: peers,
			TickTime: 200 * time.Millisecond, WriteTimeout: 2 * time.Second,
			Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		reps = append(reps, r)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, r := range reps {
		if err := r.WaitReady(ctx); err != nil {
			t.Fatal(err)
		}
	}
	follower := reps[1]
	if follower.IsLeader() {
		follower = reps[0]
	}
	m, err := New(Options{Dir: filepath.Join(t.TempDir(), "mnt"), Replica: follower, UID: -1, GID: -1, WriteTimeout: 2 * time.Second, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	if follower.IsLeader() {
		t.Fatal("the leader moved to the mount's replica; the test needs a follower")
	}
	interrupted, stop := context.WithCancel(context.Background())
	stop()
	if !m.confirmMissing(interrupted) {
		t.Errorf("an interrupted lookup was answered from the follower's view alone")
	}
}
