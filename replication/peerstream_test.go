package replication

import (
	"context"
	"fmt"
	"testing"
	"time"

	"zkfs/tree"
)

// TestForwardAfterLeaderChange stops the leader after both followers have
// forwarded writes, then sends one write through each survivor as soon as
// it knows the new leader: each must commit at the first try. Before the
// peer stream, a follower kept numbering its batches from where the old
// leader left off while the new one expected batch 0, so that first write
// waited five seconds and failed.
func TestForwardAfterLeaderChange(t *testing.T) {
	e := newEnsemble(t, 3, 0)
	old := e.leader()
	for i, r := range e.reps {
		for j := 0; j < 5; j++ {
			propose(t, r, tree.Create{Path: fmt.Sprintf("/before-%d-%d", i, j), ACL: tree.OpenACL})
		}
	}
	e.stop(old)
	for i, r := range e.reps {
		if r == nil {
			continue
		}
		// Wait until this replica knows a leader other than the old one.
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, id := r.raft.LeaderWithID()
			if id != "" && string(id) != e.peers[old].ID {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("replica %d learned no new leader", i+1)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if r.IsLeader() {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		start := time.Now()
		res, _, err := r.Submit(ctx, 0, tree.Identity{}, tree.Create{Path: fmt.Sprintf("/after-%d", i), ACL: tree.OpenACL}).Wait(ctx)
		cancel()
		if err != nil || res.Err != nil {
			t.Fatalf("first write through follower %d after the leader change: %v %v (after %v)", i+1, err, res.Err, time.Since(start))
		}
		t.Logf("first write through follower %d took %v", i+1, time.Since(start).Round(time.Millisecond))
	}
}

// TestSyncIsAReadIndex checks that sync writes nothing to the log, that a
// read after it on any replica sees a write made through another, and
// that it completes right after a leader change, when the log ends with
// the new leader's no-op entry, which the FSM never sees.
func TestSyncIsAReadIndex(t *testing.T) {
	e := newEnsemble(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, w := range e.reps {
		propose(t, w, tree.Create{Path: fmt.Sprintf("/w%d", i), ACL: tree.OpenACL})
		leader := e.reps[e.leader()]
		last := leader.raft.LastIndex()
		for j, r := range e.reps {
			if err := r.Sync(ctx); err != nil {
				t.Fatalf("sync on replica %d: %v", j+1, err)
			}
			if _, _, err := getData(r, fmt.Sprintf("/w%d", i)); err != nil {
				t.Errorf("replica %d after sync misses the write through replica %d: %v", j+1, i+1, err)
			}
		}
		if got := leader.raft.LastIndex(); got != last {
			t.Errorf("three syncs moved the leader's log from %d to %d", last, got)
		}
	}

	e.stop(e.leader())
	e.leader()
	for i, r := range e.reps {
		if r == nil {
			continue
		}
		if err := r.Sync(ctx); err != nil {
			t.Errorf("sync on replica %d after the leader change: %v", i+1, err)
		}
	}
}
