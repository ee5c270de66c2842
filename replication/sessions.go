package replication

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"zkfs/tree"
)

// ErrNoSession reports a session that the tree does not hold, or whose
// password does not match: to a client both mean the session is gone.
var ErrNoSession = errors.New("replication: no such session")

// sessionPasswordLen is the length of ZooKeeper's session passwords.
const sessionPasswordLen = 16

// sessions is the session stage: session ids, activity and expiry, and who
// owns each session (owners.go). Its state is its own; what it needs of the
// rest of the replica (raft's view of leadership, the write path's Propose,
// a read of the tree, the stream to the leader) is passed in when the
// replica is built. Its goroutines are touchLoop (a follower's reports of
// activity to the leader) and expireLoop (the leader's expiry); the client
// port calls the rest from each connection's goroutines, and the leader's
// stream readers from theirs (touches in stream order).
type sessions struct {
	tracker sessionTracker
	// owners is the leader's memory of closed sessions; the owners
	// themselves are in the tree (owners.go).
	owners sessionOwners
	// serverByte is the top byte of this server's session ids and owner
	// tokens; ownerBase starts this process's owner tokens.
	serverByte byte
	ownerOnce  sync.Once
	ownerBase  int64

	log        *slog.Logger
	standalone bool
	isLeader   func() bool
	propose    proposeFunc
	read       func(func(*tree.Tree))
	// link is the stream to the leader, nil on a standalone replica; set
	// by start, which makes the link once raft exists.
	link *leaderLink
	// stop and wg are the replica's lifetime, which the session
	// goroutines share.
	stop <-chan struct{}
	wg   *sync.WaitGroup
}

// newSessions makes the session stage of a replica configured by cfg.
func newSessions(cfg Config, isLeader func() bool, propose proposeFunc, read func(func(*tree.Tree)), stop <-chan struct{}, wg *sync.WaitGroup) *sessions {
	s := &sessions{serverByte: serverByte(cfg.ID), log: cfg.Logger, standalone: len(cfg.Peers) == 0,
		isLeader: isLeader, propose: propose, read: read, stop: stop, wg: wg}
	s.tracker.lastSeen = make(map[int64]time.Time)
	s.tracker.pending = make(map[int64]struct{})
	return s
}

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
func (s *sessions) touchLoop(tick time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		ids := s.tracker.takePending()
		if len(ids) == 0 || s.isLeader() {
			continue
		}
		st, err := s.link.stream()
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

// create registers a new session through the log and returns its id and
// password.
func (s *sessions) create(ctx context.Context, timeout time.Duration) (int64, []byte, error) {
	pw := make([]byte, sessionPasswordLen)
	if _, err := rand.Read(pw); err != nil {
		return 0, nil, err
	}
	for {
		id := s.newID()
		res, err := s.propose(ctx, 0, tree.Identity{Super: true},
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
		s.tracker.touch(id, time.Now())
		return id, pw, nil
	}
}

// local returns the id and password of a session that lives only on this
// replica (LocalSession).
func (s *sessions) local() (int64, []byte, error) {
	pw := make([]byte, sessionPasswordLen)
	if _, err := rand.Read(pw); err != nil {
		return 0, nil, err
	}
	return s.newID(), pw, nil
}

// newID builds ids as ZooKeeper does: the server id in the top byte and
// the clock in the middle, so that ids stay unique across restarts.
func (s *sessions) newID() int64 {
	s.tracker.mu.Lock()
	defer s.tracker.mu.Unlock()
	if s.tracker.nextID == 0 {
		base := int64(uint64(time.Now().UnixMilli()<<24) >> 8)
		s.tracker.nextID = base | int64(s.serverByte)<<56
	}
	id := s.tracker.nextID
	s.tracker.nextID++
	return id
}

// serverByte is the server id's low byte, which session ids and owner
// tokens start with.
func serverByte(id string) byte {
	var n int
	fmt.Sscan(id, &n)
	return byte(n)
}

// check reports whether a session exists with this password.
func (s *sessions) check(id int64, password []byte) error {
	var sess tree.Session
	var ok bool
	s.read(func(t *tree.Tree) { sess, ok = t.Session(id) })
	if !ok || subtle.ConstantTimeCompare(sess.Password, password) != 1 {
		return ErrNoSession
	}
	return nil
}

// close ends a session through the log; its ephemeral nodes go in the
// same command.
func (s *sessions) close(ctx context.Context, id int64) error {
	res, err := s.propose(ctx, id, tree.Identity{Super: true}, tree.CloseSession{ID: id})
	if err != nil {
		return err
	}
	s.tracker.forget(id)
	if res.Err != nil && !errors.Is(res.Err, tree.ErrSessionExpired) {
		return res.Err
	}
	return nil
}

// expireLoop closes the sessions whose clients went quiet for longer than
// their timeout. Only the leader proposes.
func (s *sessions) expireLoop(tick time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		for _, id := range s.expired(time.Now()) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := s.close(ctx, id)
			cancel()
			if err != nil {
				s.log.Warn("expiring a session failed", "session", fmt.Sprintf("0x%x", id), "err", err)
				break
			}
			s.log.Info("session expired", "session", fmt.Sprintf("0x%x", id))
		}
	}
}

// expired returns the sessions to expire now; only the leader has any.
func (s *sessions) expired(now time.Time) []int64 {
	leader := s.isLeader()
	var live []tree.Session
	if leader {
		s.read(func(t *tree.Tree) { live = t.Sessions() })
		s.owners.keep()
	}
	tr := &s.tracker
	tr.mu.Lock()
	defer tr.mu.Unlock()
	if !leader {
		tr.wasLeader = false
		return nil
	}
	if !tr.wasLeader {
		tr.wasLeader = true
		tr.leaderSince = now
	}
	var out []int64
	for _, sess := range live {
		last, ok := tr.lastSeen[sess.ID]
		if !ok {
			// First sighting: a session committed a moment ago, by a client
			// of this replica not yet touched or of another replica not yet
			// reported. Its timeout starts now, as ZooKeeper's leader starts
			// it when it commits the createSession; leaderSince would
			// expire it at once.
			tr.lastSeen[sess.ID] = now
			continue
		}
		if last.Before(tr.leaderSince) {
			last = tr.leaderSince
		}
		if now.Sub(last) > time.Duration(sess.Timeout)*time.Millisecond {
			out = append(out, sess.ID)
		}
	}
	return out
}

// CreateSession registers a new session through the log and returns its id
// and password.
func (r *Replica) CreateSession(ctx context.Context, timeout time.Duration) (int64, []byte, error) {
	return r.sessions.create(ctx, timeout)
}

// LocalSession returns the id and password of a session that a replica in
// read-only mode hands out without the log, as ZooKeeper's read-only server
// does: it lives only on this replica and only while the client stays
// connected. Its id comes from the same sequence as logged sessions, so it
// never names one.
func (r *Replica) LocalSession() (int64, []byte, error) { return r.sessions.local() }

// CheckSession reports whether a session exists with this password.
func (r *Replica) CheckSession(id int64, password []byte) error {
	return r.sessions.check(id, password)
}

// TouchSession records activity on a session, postponing its expiry.
func (r *Replica) TouchSession(id int64) {
	r.sessions.tracker.touch(id, time.Now())
}

// CloseSession ends a session through the log; its ephemeral nodes go in
// the same command.
func (r *Replica) CloseSession(ctx context.Context, id int64) error {
	return r.sessions.close(ctx, id)
}
