package replication

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// readIndex is the read path's one wait: a linearizable read (Sync) and a
// read after a write (Proposal.Wait) both come down to "this replica has
// applied index n". It keeps no state of its own: the applied index
// belongs to the FSM, which advances it on raft's FSM goroutine (or the
// stream reader applying ahead), and the waits here run on the caller's
// goroutine, a client's processor or a FUSE request's.
type readIndex struct {
	fsm *fsm
	// logs is the log as raft reads it: it tells which indexes the FSM
	// never sees (raft's own no-op and barrier entries).
	logs raft.LogStore
	// stop ends every wait when the replica closes.
	stop <-chan struct{}
}

// atLeader waits for the leadership check that followed noting target,
// the leader's last log index, and returns the index a reader must have
// applied. The last index is at least every committed one, also before the
// leader commits an entry of its own term, which its commit index is not.
// It runs on the leader: in Sync, and on a follower stream's replier for a
// follower's read index.
func (x *readIndex) atLeader(target uint64, verified raft.Future) (uint64, error) {
	if err := verified.Error(); err != nil {
		return 0, raftError(err)
	}
	return x.visible(target), nil
}

// visible returns the last index at or before target that the FSM records
// as applied. Raft keeps its no-op and barrier entries from the FSM, so the
// applied index never lands on one: a reader waiting for a new leader's
// no-op would wait for ever on an idle ensemble.
func (x *readIndex) visible(target uint64) uint64 {
	for i := target; i > 0; i-- {
		var l raft.Log
		if err := x.logs.GetLog(i, &l); err != nil {
			// Compacted into a snapshot, so applied here: the applied
			// index covers what of it the FSM saw.
			return min(i, x.fsm.appliedIndex())
		}
		if l.Type == raft.LogCommand || l.Type == raft.LogConfiguration {
			return i
		}
	}
	return 0
}

// fromLeader asks the leader for its read index on the follower's stream;
// the leader answers it with atLeader.
func (x *readIndex) fromLeader(ctx context.Context, link *leaderLink) (uint64, error) {
	f, err := link.call(ctx, &peerFrame{typ: frameReadIndex}, true)
	if err != nil {
		return 0, err
	}
	return f.index, f.err()
}

// wait blocks until this replica has applied index.
func (x *readIndex) wait(ctx context.Context, index uint64) error {
	for {
		applied, ch := x.fsm.appliedWait()
		if applied >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("%w: waiting to apply index %d: %v", ErrTimeout, index, ctx.Err())
		case <-x.stop:
			return ErrClosed
		}
	}
}
