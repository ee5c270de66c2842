package replication

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"zkfs/tree"
)

// ErrNoSession reports a session that the tree does not hold, or whose
// password does not match: to a client both mean the session is gone.
var ErrNoSession = errors.New("replication: no such session")

// sessionPasswordLen is the length of ZooKeeper's session passwords.
const sessionPasswordLen = 16

// sessionTracker records when each session was last heard from. Every
// replica tracks the sessions of its own clients; the leader expires
// sessions through the log, so that their ephemeral nodes go on every replica
// in the same command.
type sessionTracker struct {
	mu       sync.Mutex
	lastSeen map[int64]time.Time
	// leaderSince is when this replica last became leader. A session
	// cannot expire earlier than one timeout after it: a new leader has no
	// record of the activity its predecessor saw.
	leaderSince time.Time
	wasLeader   bool
	nextID      int64
	// pending holds sessions touched since the last report to the leader.
	pending map[int64]struct{}
}

func (s *sessionTracker) touch(id int64, now time.Time) {
	s.mu.Lock()
	s.lastSeen[id] = now
	s.pending[id] = struct{}{}
	s.mu.Unlock()
}

// touchAll records activity that another replica reported.
func (s *sessionTracker) touchAll(ids []int64) {
	now := time.Now()
	s.mu.Lock()
	for _, id := range ids {
		s.lastSeen[id] = now
	}
	s.mu.Unlock()
}

// takePending returns and clears the sessions touched since the last call.
func (s *sessionTracker) takePending() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return nil
	}
	ids := make([]int64, 0, len(s.pending))
	for id := range s.pending {
		ids = append(ids, id)
	}
	clear(s.pending)
	return ids
}

// touchLoop reports this replica's session activity to the leader in
// batches, since the leader alone expires sessions.
func (r *Replica) touchLoop(tick time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		ids := r.sessions.takePending()
		if len(ids) == 0 || r.IsLeader() {
			continue
		}
		st, err := r.link.stream()
		if err != nil {
			continue // no leader: the next one starts every timeout afresh
		}
		if err := st.send(&peerFrame{typ: frameTouch, sessions: ids}); err != nil {
			st.fail(fmt.Errorf("%w: sending to the leader: %v", ErrTimeout, err))
		}
	}
}

func (s *sessionTracker) forget(id int64) {
	s.mu.Lock()
	delete(s.lastSeen, id)
	delete(s.pending, id)
	s.mu.Unlock()
}

// CreateSession registers a new session through the log and returns its id
// and password.
func (r *Replica) CreateSession(ctx context.Context, timeout time.Duration) (int64, []byte, error) {
	pw := make([]byte, sessionPasswordLen)
	if _, err := rand.Read(pw); err != nil {
		return 0, nil, err
	}
	for {
		id := r.newSessionID()
		res, err := r.Propose(ctx, 0, tree.Identity{Super: true},
			tree.CreateSession{ID: id, Timeout: int32(timeout.Milliseconds()), Password: pw})
		if err != nil {
			return 0, nil, err
		}
		if errors.Is(res.Err, tree.ErrNodeExists) {
			continue // the id is taken; ids only collide across clock jumps
		}
		if res.Err != nil {
			return 0, nil, res.Err
		}
		r.sessions.touch(id, time.Now())
		return id, pw, nil
	}
}

// LocalSession returns the id and password of a session that a replica in
// read-only mode hands out without the log, as ZooKeeper's read-only server
// does: it lives only on this replica and only while the client stays
// connected. Its id comes from the same sequence as logged sessions, so it
// never names one.
func (r *Replica) LocalSession() (int64, []byte, error) {
	pw := make([]byte, sessionPasswordLen)
	if _, err := rand.Read(pw); err != nil {
		return 0, nil, err
	}
	return r.newSessionID(), pw, nil
}

// newSessionID builds ids as ZooKeeper does: the server id in the top byte
// and the clock in the middle, so that ids stay unique across restarts.
func (r *Replica) newSessionID() int64 {
	r.sessions.mu.Lock()
	defer r.sessions.mu.Unlock()
	if r.sessions.nextID == 0 {
		base := int64(uint64(time.Now().UnixMilli()<<24) >> 8)
		r.sessions.nextID = base | int64(r.serverByte())<<56
	}
	id := r.sessions.nextID
	r.sessions.nextID++
	return id
}

func (r *Replica) serverByte() byte {
	var n int
	fmt.Sscan(r.cfg.ID, &n)
	return byte(n)
}

// CheckSession reports whether a session exists with this password.
func (r *Replica) CheckSession(id int64, password []byte) error {
	var s tree.Session
	var ok bool
	r.Read(func(t *tree.Tree) { s, ok = t.Session(id) })
	if !ok || subtle.ConstantTimeCompare(s.Password, password) != 1 {
		return ErrNoSession
	}
	return nil
}

// TouchSession records activity on a session, postponing its expiry.
func (r *Replica) TouchSession(id int64) {
	r.sessions.touch(id, time.Now())
}

// CloseSession ends a session through the log; its ephemeral nodes go in
// the same command.
func (r *Replica) CloseSession(ctx context.Context, id int64) error {
	res, err := r.Propose(ctx, id, tree.Identity{Super: true}, tree.CloseSession{ID: id})
	if err != nil {
		return err
	}
	r.sessions.forget(id)
	if res.Err != nil && !errors.Is(res.Err, tree.ErrSessionExpired) {
		return res.Err
	}
	return nil
}

// expireLoop closes the sessions whose clients went quiet for longer than
// their timeout. Only the leader proposes.
func (r *Replica) expireLoop(tick time.Duration) {
	defer r.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		for _, id := range r.expiredSessions(time.Now()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := r.CloseSession(ctx, id)
			cancel()
			if err != nil {
				r.log.Warn("expiring a session failed", "session", fmt.Sprintf("0x%x", id), "err", err)
				break
			}
			r.log.Info("session expired", "session", fmt.Sprintf("0x%x", id))
		}
	}
}

func (r *Replica) expiredSessions(now time.Time) []int64 {
	leader := r.IsLeader()
	var sessions []tree.Session
	if leader {
		r.Read(func(t *tree.Tree) { sessions = t.Sessions() })
		r.owners.keep(sessions)
	}
	s := &r.sessions
	s.mu.Lock()
	defer s.mu.Unlock()
	if !leader {
		s.wasLeader = false
		return nil
	}
	if !s.wasLeader {
		s.wasLeader = true
		s.leaderSince = now
	}
	var out []int64
	for _, sess := range sessions {
		last, ok := s.lastSeen[sess.ID]
		if !ok {
			// First sighting: a session committed a moment ago, by a client
			// of this replica not yet touched or of another replica not yet
			// reported. Its timeout starts now, as ZooKeeper's leader starts
			// it when it commits the createSession; leaderSince would
			// expire it at once.
			s.lastSeen[sess.ID] = now
			continue
		}
		if last.Before(s.leaderSince) {
			last = s.leaderSince
		}
		if now.Sub(last) > time.Duration(sess.Timeout)*time.Millisecond {
			out = append(out, sess.ID)
		}
	}
	return out
}
