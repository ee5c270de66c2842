package replication

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"zkfs/tree"
)

// SessionMoved, as ZooKeeper has it: a session is owned by the client
// connection that last opened or resumed it, and the leader refuses the
// writes of any other. When a client moves to another replica, the writes
// still on their way from its old connection get ErrSessionMoved instead of
// being applied after, or among, the ones it now sends.
//
// As ZooKeeper's session tracker does, the leader also refuses the writes
// of a session whose close it has put in the log (SessionExpired), checked
// when the write reaches it: a connection's writes can come late (a
// follower's stream held up by the network delivers them after the session
// was closed), and nothing may be applied in a session's name after its
// end. It remembers closed sessions for closedRetention.
//
// Like ZooKeeper's session tracker, the leader keeps all this in memory.
// A new leader learns the owners again from each replica's claims for its
// client connections, which every replica sends first on a new stream
// (and a new leader takes from its own); until a replica's stream is up,
// the new leader accepts every connection's writes for its sessions.
// (ZooKeeper's followers close their client connections on a leader
// change instead.)

// ErrSessionMoved reports a write from a connection that no longer owns its
// session; it was not applied.
var ErrSessionMoved = errors.New("replication: session moved to another connection")

// closedRetention is how long the leader refuses the late writes of a
// closed session; far longer than a partition lasts in which a follower
// still holds writes for the leader.
const closedRetention = 5 * time.Minute

// sessionOwners is the leader's table of session owners.
type sessionOwners struct {
	mu     sync.Mutex
	owners map[int64]int64     // session id to owner token
	closed map[int64]time.Time // sessions whose close is in the log, and since when
}

func (o *sessionOwners) claim(session, owner int64) {
	o.mu.Lock()
	if o.owners == nil {
		o.owners = make(map[int64]int64)
	}
	o.owners[session] = owner
	o.mu.Unlock()
}

// claimIfAbsent claims a session no connection has claimed here yet.
func (o *sessionOwners) claimIfAbsent(session, owner int64) {
	o.mu.Lock()
	if o.owners == nil {
		o.owners = make(map[int64]int64)
	}
	if _, ok := o.owners[session]; !ok {
		o.owners[session] = owner
	}
	o.mu.Unlock()
}

// localClaims are the claims of this replica's own client connections,
// sent again to every new leader.
type localClaims struct {
	mu     sync.Mutex
	claims map[int64]int64 // session id to owner token
}

func (c *localClaims) add(session, owner int64) {
	c.mu.Lock()
	if c.claims == nil {
		c.claims = make(map[int64]int64)
	}
	c.claims[session] = owner
	c.mu.Unlock()
}

func (c *localClaims) drop(session, owner int64) {
	c.mu.Lock()
	if c.claims[session] == owner {
		delete(c.claims, session)
	}
	c.mu.Unlock()
}

func (c *localClaims) all() map[int64]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int64]int64, len(c.claims))
	for s, o := range c.claims {
		out[s] = o
	}
	return out
}

// resendClaims sends this replica's claims first on a new stream to a
// leader, which knows no owners yet.
func (s *sessions) resendClaims(st *outStream) error {
	for session, owner := range s.claims.all() {
		if err := st.send(&peerFrame{typ: frameClaim, session: session, owner: owner}); err != nil {
			return err
		}
	}
	return nil
}

// takeOwnClaims gives a new leader the claims of its own connections.
func (s *sessions) takeOwnClaims() {
	for session, owner := range s.claims.all() {
		s.owners.claimIfAbsent(session, owner)
	}
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

// check returns tree.ErrSessionExpired if the session is closed, and
// ErrSessionMoved if it is claimed by another owner. Owner 0 (the
// replica's own proposals, the mount) is never checked.
func (o *sessionOwners) check(session, owner int64) error {
	if owner == 0 || session == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.closed[session]; ok {
		return tree.ErrSessionExpired
	}
	if cur, ok := o.owners[session]; ok && cur != owner {
		return ErrSessionMoved
	}
	return nil
}

// keep forgets the owners of sessions that no longer exist, and the
// closed sessions older than closedRetention.
func (o *sessionOwners) keep(live []tree.Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for id, at := range o.closed {
		if time.Since(at) > closedRetention {
			delete(o.closed, id)
		}
	}
	if len(o.owners) == 0 {
		return
	}
	ids := make(map[int64]bool, len(live))
	for _, s := range live {
		ids[s.ID] = true
	}
	for id := range o.owners {
		if !ids[id] {
			delete(o.owners, id)
		}
	}
}

func (o *sessionOwners) reset() {
	o.mu.Lock()
	o.owners, o.closed = nil, nil
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

// claim makes owner the session's owner at the leader (ClaimSession). It
// runs on the client's connection goroutine and waits for the leader.
func (s *sessions) claim(ctx context.Context, session, owner int64) error {
	if s.standalone || s.isLeader() {
		s.owners.claim(session, owner)
		s.claims.add(session, owner)
		return nil
	}
	st := s.link.current()
	if st == nil {
		return errNoLeader
	}
	if err := st.send(&peerFrame{typ: frameClaim, session: session, owner: owner}); err != nil {
		st.fail(fmt.Errorf("%w: sending to the leader: %v", ErrTimeout, err))
		return err
	}
	c := &streamCall{reply: make(chan *peerFrame, 1), watch: true}
	st.call(&peerFrame{typ: frameReadIndex}, c)
	select {
	case f := <-c.reply:
		if err := f.err(); err != nil {
			return err
		}
		s.claims.add(session, owner)
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%w: claiming session: %v", ErrTimeout, ctx.Err())
	case <-s.stop:
		return ErrClosed
	}
}

// NewOwner returns a token for one client connection, unique across the
// ensemble: the server id in the top byte, as in session ids, then this
// process's start time and a counter.
func (r *Replica) NewOwner() int64 { return r.sessions.newOwner() }

// ClaimSession makes owner the session's owner at the leader: writes from
// any other connection that reach the leader after the claim are refused.
// It returns once the leader has recorded the claim, as a ZooKeeper
// follower revalidates a resumed session with the leader before it
// answers the client: a write the client sends on its old connection
// after the move, through any replica, then reaches the leader behind the
// claim. On a follower the claim goes on the stream to the leader, and a
// ReadIndex request behind it on the same stream is its acknowledgement
// (the leader records claims in stream order, and answers the ReadIndex
// only while it leads). Without a stream (no leader known) the claim
// cannot be made, and ClaimSession says so.
func (r *Replica) ClaimSession(ctx context.Context, session, owner int64) error {
	return r.sessions.claim(ctx, session, owner)
}

// DropClaim forgets the claim of a client connection that closed.
func (r *Replica) DropClaim(session, owner int64) {
	r.sessions.claims.drop(session, owner)
}

// SubmitAs is Submit on behalf of a client connection: the leader refuses
// the write with ErrSessionMoved if another connection has claimed the
// session since.
func (r *Replica) SubmitAs(ctx context.Context, owner, session int64, id tree.Identity, op tree.Op) *Proposal {
	return r.writes.submit(ctx, owner, session, id, op)
}
