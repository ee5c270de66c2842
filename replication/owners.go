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
// Like ZooKeeper's session tracker, the leader keeps owners in memory: a
// new leader knows none, and accepts every connection's writes for a
// session until that session is claimed again.

// ErrSessionMoved reports a write from a connection that no longer owns its
// session; it was not applied.
var ErrSessionMoved = errors.New("replication: session moved to another connection")

// sessionOwners is the leader's table of session owners.
type sessionOwners struct {
	mu     sync.Mutex
	owners map[int64]int64 // session id to owner token
}

func (o *sessionOwners) claim(session, owner int64) {
	o.mu.Lock()
	if o.owners == nil {
		o.owners = make(map[int64]int64)
	}
	o.owners[session] = owner
	o.mu.Unlock()
}

// check returns ErrSessionMoved if session is claimed by another owner.
// Owner 0 (the replica's own proposals, the mount) is never checked.
func (o *sessionOwners) check(session, owner int64) error {
	if owner == 0 || session == 0 {
		return nil
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if cur, ok := o.owners[session]; ok && cur != owner {
		return ErrSessionMoved
	}
	return nil
}

// keep forgets the owners of sessions that no longer exist.
func (o *sessionOwners) keep(live []tree.Session) {
	o.mu.Lock()
	defer o.mu.Unlock()
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
	o.owners = nil
	o.mu.Unlock()
}

// ownerSeq numbers the owner tokens of this process.
var ownerSeq atomic.Int64

// NewOwner returns a token for one client connection, unique across the
// ensemble: the server id in the top byte, as in session ids, then this
// process's start time and a counter.
func (r *Replica) NewOwner() int64 {
	r.ownerOnce.Do(func() {
		r.ownerBase = int64(r.serverByte())<<56 | (time.Now().UnixMilli()&0xffffff)<<32
	})
	return r.ownerBase | ownerSeq.Add(1)&0xffffffff
}

// ClaimSession makes owner the session's owner at the leader: writes from
// any other connection that reach the leader after the claim are refused.
// It does not wait: on a follower the claim goes on the stream to the
// leader ahead of every write the new connection will forward, which is
// the order that matters. Without a stream (no leader known) the claim is
// not made, and ClaimSession says so.
func (r *Replica) ClaimSession(session, owner int64) error {
	if r.standalone() || r.IsLeader() {
		r.owners.claim(session, owner)
		return nil
	}
	s := r.link.current()
	if s == nil {
		return errNoLeader
	}
	if err := s.send(&peerFrame{typ: frameClaim, session: session, owner: owner}); err != nil {
		s.fail(fmt.Errorf("%w: sending to the leader: %v", ErrTimeout, err))
		return err
	}
	return nil
}

// SubmitAs is Submit on behalf of a client connection: the leader refuses
// the write with ErrSessionMoved if another connection has claimed the
// session since.
func (r *Replica) SubmitAs(ctx context.Context, owner, session int64, id tree.Identity, op tree.Op) *Proposal {
	return r.submit(ctx, owner, session, id, op)
}
