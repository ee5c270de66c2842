package replication

import (
	"context"
	"errors"
	"sync/atomic"
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

// readOnlyMode owns the two clocks that decide read-only mode. They are
// atomics because the leader link's goroutine writes them (at every leader
// change, once a second, and when its stream breaks) while every write and
// every client handshake reads them: neither path may wait on a lock for
// it.
type readOnlyMode struct {
	// grace is how long a replica must know no leader before it goes
	// read-only: ZooKeeper's rule, the larger of 2 s and a tick. An
	// election after a leader's death (about a second) stays below it,
	// so writes sent during one wait for the new leader rather than
	// failing.
	grace time.Duration
	// leaderLostAt is when raft last stopped knowing a leader, in Unix
	// nanoseconds; 0 while it knows one.
	leaderLostAt atomic.Int64
	// streamLostAt is when the stream to the leader last broke, 0 once a
	// new one is open.
	streamLostAt atomic.Int64
}

// newReadOnlyMode starts the clock as if the leader had just been lost: a
// replica that starts with no quorum to join goes read-only after the
// grace period, as one that loses it does.
func newReadOnlyMode(tick time.Duration) *readOnlyMode {
	m := &readOnlyMode{grace: max(2*time.Second, tick)}
	m.leaderLostAt.Store(time.Now().UnixNano())
	return m
}

// noteLeader records whether raft knows a leader now.
func (m *readOnlyMode) noteLeader(known bool) {
	if known {
		m.leaderLostAt.Store(0)
		return
	}
	m.leaderLostAt.CompareAndSwap(0, time.Now().UnixNano())
}

// noteStreamLost records that the stream to the leader broke (the
// connection closed or reset, as when the leader's process ends). Raft
// notices a dead leader only after a heartbeat timeout; ZooKeeper's
// follower counts its grace from the socket closing, and so does this
// replica once raft agrees that the leader is gone.
func (m *readOnlyMode) noteStreamLost() {
	m.streamLostAt.CompareAndSwap(0, time.Now().UnixNano())
}

// noteStreamUp records that a stream to a leader is open again.
func (m *readOnlyMode) noteStreamUp() {
	m.streamLostAt.Store(0)
}

// in reports whether the replica is in read-only mode, given whether raft
// knows a leader now: it has known none for at least the grace period,
// counted from when its stream to the last leader broke if that came
// first.
func (m *readOnlyMode) in(leaderKnown bool) bool {
	m.noteLeader(leaderKnown)
	if leaderKnown {
		return false
	}
	lost := m.leaderLostAt.Load()
	if s := m.streamLostAt.Load(); s != 0 && s < lost {
		lost = s
	}
	return lost != 0 && time.Since(time.Unix(0, lost)) >= m.grace
}

// ReadOnly reports whether the replica is in read-only mode: it has known
// no leader for at least the grace period, counted from when its stream to
// the last leader broke if that came first. A standalone replica never is.
func (r *Replica) ReadOnly() bool {
	if r.standalone() {
		return false
	}
	_, id := r.raft.LeaderWithID()
	return r.readOnly.in(id != "")
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
	deadline := time.NewTimer(r.readOnly.grace + r.cfg.TickTime)
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
