package replication

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"zkfs/tree"
)

// SessionMoved, as ZooKeeper has it: a session is owned by the client
// connection that last resumed it, and the writes of any other connection
// of the session are refused. When a client moves to another replica, the
// writes still on their way from its old connection get ErrSessionMoved
// instead of being applied after, or among, the ones it now sends.
//
// The claim is a log entry (tree.ClaimSession), and every write carries
// its connection's owner token (Command.Owner): the tree refuses a write
// whose connection no longer owns its session when it applies it. So the
// check holds on every replica and across leader changes: a new leader
// cannot accept an old connection's write before it has heard of the
// move, because the move is in the log ahead of the write. (ZooKeeper's
// leader keeps the owners in memory, and a new leader learns them again
// from the first connection that touches each session.)
//
// As ZooKeeper's session tracker does, the leader also refuses the writes
// of a session whose close it has put in the log (SessionExpired), checked
// when the write reaches it: a connection's writes can come late (a
// follower's stream held up by the network delivers them after the session
// was closed), and nothing may be applied in a session's name after its
// end. It remembers closed sessions for closedRetention, in memory.

// ErrSessionMoved reports a write from a connection that no longer owns its
// session; it was not applied. The tree refuses it (tree.ErrSessionMoved);
// the peer stream carries it as replication's own code.
var ErrSessionMoved = tree.ErrSessionMoved

// closedRetention is how long the leader refuses the late writes of a
// closed session; far longer than a partition lasts in which a follower
// still holds writes for the leader.
const closedRetention = 5 * time.Minute

// sessionOwners is the leader's memory of the sessions it closed.
type sessionOwners struct {
	mu     sync.Mutex
	closed map[int64]time.Time // sessions whose close is in the log, and since when
}

// closing records that the session's close is in the log: from now on the
// writes of its connections are refused.
func (o *sessionOwners) closing(session int64) {
	o.mu.Lock()
	if o.closed == nil {
		o.closed = make(map[int64]time.Time)
	}
	o.closed[session] = time.Now()
	o.mu.Unlock()
}

// check returns tree.ErrSessionExpired if the session is closed. Owner 0
// (the replica's own proposals, the mount) is never checked.
func (o *sessionOwners) check(session, owner int64) error {
	if owner == 0 || session == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.closed[session]; ok {
		return tree.ErrSessionExpired
	}
	return nil
}

// keep forgets the closed sessions older than closedRetention.
func (o *sessionOwners) keep() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, at := range o.closed {
		if time.Since(at) > closedRetention {
			delete(o.closed, id)
		}
	}
}

func (o *sessionOwners) reset() {
	o.mu.Lock()
	o.closed = nil
	o.mu.Unlock()
}

// ownerSeq numbers the owner tokens of this process.
var ownerSeq atomic.Int64

// newOwner returns a token for one client connection (NewOwner).
func (s *sessions) newOwner() int64 {
	s.ownerOnce.Do(func() {
		s.ownerBase = int64(s.serverByte)<<56 | (time.Now().UnixMilli()&0xffffff)<<32
	})
	return s.ownerBase | ownerSeq.Add(1)&0xffffffff
}

// claim makes owner the session's owner through the log
// (ClaimSession); it runs on the client's connection goroutine.
func (s *sessions) claim(ctx context.Context, session, owner int64) error {
	res, err := s.propose(ctx, session, tree.Identity{Super: true}, tree.ClaimSession{ID: session, Owner: owner})
	if err == nil {
		err = res.Err
	}
	return err
}

// NewOwner returns a token for one client connection, unique across the
// ensemble: the server id in the top byte, as in session ids, then this
// process's start time and a counter.
func (r *Replica) NewOwner() int64 { return r.sessions.newOwner() }

// ClaimSession makes owner the session's owner, through the log: it
// returns once the claim is applied on this replica (and so on the
// leader), as a ZooKeeper follower revalidates a resumed session with the
// leader before it answers the client. A write the client sends on its
// old connection after the move then comes after the claim in the log, on
// whatever replica it was sent, and the tree refuses it.
func (r *Replica) ClaimSession(ctx context.Context, session, owner int64) error {
	return r.sessions.claim(ctx, session, owner)
}

// SubmitAs is Submit on behalf of a client connection, whose owner token
// the command carries: the tree refuses the write with ErrSessionMoved if
// another connection has claimed the session before it in the log.
func (r *Replica) SubmitAs(ctx context.Context, owner, session int64, id tree.Identity, op tree.Op) *Proposal {
	return r.writes.submit(ctx, owner, session, id, op)
}
