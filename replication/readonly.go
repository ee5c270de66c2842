package replication

import (
	"context"
	"errors"
	"time"
)

// Read-only mode, as ZooKeeper's readonlymode.enabled: a replica that has
// known no leader for a grace period is cut off from the quorum. It keeps
// serving reads from its tree; writes fail at once with ErrReadOnly instead
// of waiting for a leader that is not coming. As soon as raft knows a
// leader again, the replica is out of read-only mode.

// ErrReadOnly reports a write to a replica in read-only mode; nothing was
// sent to any log, so the write was not applied.
var ErrReadOnly = errors.New("replication: read-only: this replica is cut off from the quorum")

// readOnlyGrace is how long a replica must know no leader before it goes
// read-only: ZooKeeper's rule, the larger of 2 s and a tick. An election
// after a leader's death (about a second) stays below it, so writes sent
// during one wait for the new leader rather than failing.
func (r *Replica) readOnlyGrace() time.Duration {
	return max(2*time.Second, r.cfg.TickTime)
}

// noteLeader records whether raft knows a leader now; the leader link's
// goroutine calls it at every leader change and once a second.
func (r *Replica) noteLeader(known bool) {
	if known {
		r.leaderLostAt.Store(0)
		return
	}
	r.leaderLostAt.CompareAndSwap(0, time.Now().UnixNano())
}

// noteStreamLost records that the stream to the leader broke (the
// connection closed or reset, as when the leader's process ends). Raft
// notices a dead leader only after a heartbeat timeout; ZooKeeper's
// follower counts its grace from the socket closing, and so does this
// replica once raft agrees that the leader is gone.
func (r *Replica) noteStreamLost() {
	r.streamLostAt.CompareAndSwap(0, time.Now().UnixNano())
}

// ReadOnly reports whether the replica is in read-only mode: it has known
// no leader for at least the grace period, counted from when its stream to
// the last leader broke if that came first. A standalone replica never is.
func (r *Replica) ReadOnly() bool {
	if r.standalone() {
		return false
	}
	if _, id := r.raft.LeaderWithID(); id != "" {
		r.noteLeader(true)
		return false
	}
	r.noteLeader(false)
	lost := r.leaderLostAt.Load()
	if s := r.streamLostAt.Load(); s != 0 && s < lost {
		lost = s
	}
	return lost != 0 && time.Since(time.Unix(0, lost)) >= r.readOnlyGrace()
}

// AwaitLeaderOrReadOnly waits until the replica can reach a leader (it
// leads, or its stream to the leader is up) or is in read-only mode, and
// reports which. The client port holds the handshake of a client that
// accepts read-only mode in it while the replica looks for a leader, as
// the alternative, turning it away, sends the client on a back-off that
// can outlast the grace: the client then finds the replica read-only
// seconds after it could have been served. It waits at most the grace and
// a tick, or until ctx ends.
func (r *Replica) AwaitLeaderOrReadOnly(ctx context.Context) (readOnly bool, err error) {
	if r.standalone() {
		return false, nil
	}
	deadline := time.NewTimer(r.readOnlyGrace() + r.cfg.TickTime)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		switch {
		case r.IsLeader() || r.link.current() != nil:
			return false, nil
		case r.ReadOnly():
			return true, nil
		}
		select {
		case <-tick.C:
		case <-deadline.C:
			return false, errNoLeader
		case <-ctx.Done():
			return false, ctx.Err()
		case <-r.stop:
			return false, ErrClosed
		}
	}
}
