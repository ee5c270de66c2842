package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// The follower's side of the peer stream: one connection to the leader
// that raft currently knows, replaced as soon as raft learns of another
// leader (or of none). Requests that were in flight on a replaced stream
// fail at once with an unknown outcome, which a ZooKeeper client sees as
// ConnectionLoss and the mount as EIO: nothing waits for a leader that is
// gone, and the new leader starts a new stream with nothing to wait for.

// errLeaderChanged ends a stream whose leader raft no longer knows as
// leader; its requests' outcomes are unknown.
var errLeaderChanged = fmt.Errorf("%w: the leader changed", ErrTimeout)

// errNoLeader reports that raft knows no leader right now.
var errNoLeader = fmt.Errorf("%w: no leader", ErrTimeout)

// leaderLink keeps a follower's stream to the leader. Its goroutine
// (follow) replaces the stream at each leader change; each stream's reader
// (outStream.readLoop) delivers replies and applies commit notices. The
// stream and its replacement signal are its own; what it needs of the rest
// of the replica is passed in by start, once raft exists.
type leaderLink struct {
	self string // this replica's server id
	raft *raft.Raft
	// tls secures the stream when set; stall is the write timeout, past
	// which a leader that answers nothing is stuck.
	tls   *PeerTLS
	stall time.Duration
	// members gives the leader's address; readOnly hears of leaders and
	// streams won and lost, and readOnlyNow tells whether a caller
	// should stop waiting for a leader.
	members     *membership
	readOnly    *readOnlyMode
	readOnlyNow func() bool
	// sessions' memory of closed sessions is a leader's, and is
	// dropped when this replica stops leading.
	sessions *sessions
	// streams are the followers' streams this replica serves while it
	// leads, dropped when it stops.
	streams *peerServer
	// fsm applies ahead on the leader's commit notices, from logs, the
	// log as raft reads it.
	fsm  *fsm
	logs raft.LogStore
	log  *slog.Logger
	// stop and replicaWG are the replica's lifetime, which follow shares;
	// wg counts the streams' readers.
	stop      <-chan struct{}
	replicaWG *sync.WaitGroup
	wg        sync.WaitGroup

	mu  sync.Mutex
	cur *outStream
	// live mirrors cur for readers that must not wait behind a dial.
	live atomic.Pointer[outStream]
	// changed is closed, and replaced, whenever cur is replaced, so that
	// a forwarder waiting for a leader wakes up.
	changed chan struct{}
	closed  bool
}

// follow replaces the stream whenever raft's view of the leader changes,
// and opens the new one at once, so that commit notices flow to a
// follower that forwards nothing.
func (l *leaderLink) follow() {
	defer l.replicaWG.Done()
	obs := make(chan raft.Observation, 16)
	o := raft.NewObserver(obs, false, func(o *raft.Observation) bool {
		_, ok := o.Data.(raft.LeaderObservation)
		return ok
	})
	l.raft.RegisterObserver(o)
	defer l.raft.DeregisterObserver(o)
	// A stream that broke while the leader stayed the same is reopened
	// on this tick, if no write reopened it first.
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-obs:
		case <-t.C:
		}
		_, id := l.raft.LeaderWithID()
		l.readOnly.noteLeader(id != "")
		if string(id) == l.self {
			// This replica leads now: it needs no stream of its own.
			l.drop(errLeaderChanged)
			continue
		}
		// It does not lead (any more): the followers whose streams it
		// serves must go to the leader, and a later term starts with no
		// closed sessions in memory, as a new leader does.
		l.streams.dropAll()
		l.sessions.owners.reset()
		if _, err := l.stream(); err != nil && !errors.Is(err, errNoLeader) {
			l.log.Debug("no stream to the leader", "err", err)
		}
	}
}

// stream returns a live stream to the leader that raft knows now, opening
// it when needed.
func (l *leaderLink) stream() (*outStream, error) {
	_, id := l.raft.LeaderWithID()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil, ErrClosed
	}
	if s := l.cur; s != nil {
		if s.leader == string(id) && s.alive() {
			return s, nil
		}
		l.replace(nil, errLeaderChanged)
	}
	switch string(id) {
	case "":
		return nil, errNoLeader
	case l.self:
		return nil, fmt.Errorf("%w: this replica became the leader", ErrNotLeader)
	}
	p, ok := l.members.peer(string(id))
	if !ok {
		return nil, fmt.Errorf("%w: leader %s has no known address", ErrTimeout, id)
	}
	s, err := l.open(string(id), p.RPCAddr)
	if err != nil {
		return nil, fmt.Errorf("%w: cannot reach the leader at %s: %v", ErrTimeout, p.RPCAddr, err)
	}
	l.replace(s, nil)
	return s, nil
}

// current returns the live stream to the leader raft knows now, or nil;
// it never dials.
func (l *leaderLink) current() *outStream {
	_, id := l.raft.LeaderWithID()
	if s := l.live.Load(); s != nil && s.leader == string(id) && s.alive() {
		return s
	}
	return nil
}

// replace installs s as the current stream and ends the old one with
// err; l.mu is held.
func (l *leaderLink) replace(s *outStream, err error) {
	if l.cur != nil {
		l.cur.fail(err)
	}
	l.cur = s
	l.live.Store(s)
	close(l.changed)
	l.changed = make(chan struct{})
}

// drop ends the current stream, if any.
func (l *leaderLink) drop(err error) {
	l.mu.Lock()
	if l.cur != nil {
		l.replace(nil, err)
	}
	l.mu.Unlock()
}

// waitChange returns a channel closed at the next change of stream.
func (l *leaderLink) waitChange() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.changed
}

func (l *leaderLink) close() {
	l.mu.Lock()
	l.closed = true
	if l.cur != nil {
		l.replace(nil, ErrClosed)
	}
	l.mu.Unlock()
	l.wg.Wait()
}

// open dials the leader and exchanges hellos.
func (l *leaderLink) open(leader, addr string) (*outStream, error) {
	nc, err := dialPeer(l.tls, addr)
	if err != nil {
		return nil, err
	}
	s := &outStream{link: l, leader: leader, nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc),
		stall: l.stall, calls: make(map[uint64]*streamCall)}
	nc.SetDeadline(time.Now().Add(handshakeTimeout))
	if err := writeFrame(nc, s.bw, &s.wbuf, &peerFrame{typ: frameHello, version: peerVersion, serverID: l.self}, true); err != nil {
		nc.Close()
		return nil, err
	}
	f, _, err := readFrame(s.br, nil)
	if err == nil && (f.typ != frameHello || f.version != peerVersion) {
		err = fmt.Errorf("%w: want hello version %d, got frame %d version %d", ErrBadFrame, peerVersion, f.typ, f.version)
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	l.readOnly.noteStreamUp()
	l.wg.Add(1)
	go s.readLoop()
	return s, nil
}

// outStream is a follower's stream to one leader.
type outStream struct {
	link   *leaderLink
	leader string
	nc     net.Conn
	br     *bufio.Reader
	// stall is how long the stream may go without any reply while a
	// forward or read index waits; past it the leader is stuck and the
	// stream ends.
	stall time.Duration

	wmu  sync.Mutex
	bw   *bufio.Writer
	wbuf []byte

	mu      sync.Mutex
	err     error // set once the stream has ended
	nextID  uint64
	calls   map[uint64]*streamCall
	watched int // calls that count towards stall
}

// streamCall is one request waiting for its reply.
type streamCall struct {
	fwd   []*pendingForward // a forwarded batch: one outcome each
	reply chan *peerFrame   // otherwise: the reply frame (buffered)
	sent  time.Time
	watch bool
}

func (s *outStream) alive() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err == nil
}

// call sends a request; its outcome arrives through c, also when the
// stream fails.
func (s *outStream) call(f *peerFrame, c *streamCall) {
	s.mu.Lock()
	if err := s.err; err != nil {
		s.mu.Unlock()
		c.fail(err)
		return
	}
	s.nextID++
	f.id = s.nextID
	c.sent = time.Now()
	s.calls[f.id] = c
	if c.watch {
		s.watched++
		if s.watched == 1 {
			s.nc.SetReadDeadline(c.sent.Add(s.stall))
		}
	}
	s.mu.Unlock()
	if err := s.send(f); err != nil {
		s.fail(fmt.Errorf("%w: sending to the leader: %v", ErrTimeout, err))
	}
}

// send writes a frame that expects no reply.
func (s *outStream) send(f *peerFrame) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return writeFrame(s.nc, s.bw, &s.wbuf, f, true)
}

// take removes the call a reply answers.
func (s *outStream) take(id uint64) *streamCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls[id]
	if c == nil {
		return nil
	}
	delete(s.calls, id)
	if c.watch {
		s.watched--
		if s.watched == 0 {
			s.nc.SetReadDeadline(time.Time{})
		} else {
			s.nc.SetReadDeadline(time.Now().Add(s.stall))
		}
	}
	return c
}

// stalled reports whether a watched call has waited longer than stall; if
// not, it moves the read deadline to when the oldest would.
func (s *outStream) stalled() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	var oldest time.Time
	for _, c := range s.calls {
		if c.watch && (oldest.IsZero() || c.sent.Before(oldest)) {
			oldest = c.sent
		}
	}
	if oldest.IsZero() {
		s.nc.SetReadDeadline(time.Time{})
		return false
	}
	if time.Since(oldest) >= s.stall {
		return true
	}
	s.nc.SetReadDeadline(oldest.Add(s.stall))
	return false
}

// fail ends the stream; every call still waiting gets err.
func (s *outStream) fail(err error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = err
	calls := s.calls
	s.calls = nil
	s.mu.Unlock()
	s.nc.Close()
	for _, c := range calls {
		c.fail(err)
	}
}

func (c *streamCall) fail(err error) {
	for _, p := range c.fwd {
		p.done <- forwardOutcome{err: err}
	}
	if c.reply != nil {
		c.reply <- &peerFrame{code: codeOf(err), msg: err.Error()}
	}
}

// readLoop delivers the leader's replies and applies its commit notices.
func (s *outStream) readLoop() {
	defer s.link.wg.Done()
	l := s.link
	var buf []byte
	for {
		// The read deadline tells a stuck leader; it may only pass
		// between frames, where nothing has been consumed.
		_, err := s.br.Peek(1)
		if errors.Is(err, os.ErrDeadlineExceeded) && !s.stalled() {
			continue
		}
		var f *peerFrame
		if err == nil {
			f, buf, err = readFrame(s.br, buf)
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("%w: the leader sent nothing for %v", ErrTimeout, s.stall)
			} else {
				if s.alive() {
					l.readOnly.noteStreamLost() // the leader closed it, not this replica
				}
				err = fmt.Errorf("%w: stream to the leader: %v", ErrTimeout, err)
			}
			s.fail(err)
			return
		}
		switch f.typ {
		case frameForwardReply:
			c := s.take(f.id)
			if c == nil || c.fwd == nil || len(f.outcomes) != len(c.fwd) {
				err := fmt.Errorf("%w: reply %d matches no forwarded batch", ErrBadFrame, f.id)
				if c != nil {
					c.fail(fmt.Errorf("%w: %v", ErrTimeout, err))
				}
				s.fail(err)
				return
			}
			for i, p := range c.fwd {
				p.done <- f.outcomes[i]
			}
		case frameReadIndexReply, frameReconfigReply:
			c := s.take(f.id)
			if c == nil || c.reply == nil {
				s.fail(fmt.Errorf("%w: reply %d matches no request", ErrBadFrame, f.id))
				return
			}
			c.reply <- f
		case frameCommitted:
			l.fsm.applyAhead(l.logs, f.index, f.term)
		default:
			s.fail(fmt.Errorf("%w: unexpected frame %d from the leader", ErrBadFrame, f.typ))
			return
		}
	}
}

// err returns a reply's outcome: its code's sentinel error, with the
// leader's own text for people when it sent one.
func (f *peerFrame) err() error {
	err := errOf(f.code)
	if err == nil || f.msg == "" {
		return err
	}
	return &remoteError{err: err, msg: f.msg}
}

// remoteError is an error the leader reported.
type remoteError struct {
	err error
	msg string
}

func (e *remoteError) Error() string { return e.msg }
func (e *remoteError) Unwrap() error { return e.err }

// call sends a request on the stream to the leader and waits for
// its reply, or for ctx to end. While no leader is known it waits for
// one. A watched request ends the stream if the leader does not answer
// within the write timeout.
func (l *leaderLink) call(ctx context.Context, f *peerFrame, watch bool) (*peerFrame, error) {
	var retry *time.Timer
	for {
		s, err := l.stream()
		if err == nil {
			c := &streamCall{reply: make(chan *peerFrame, 1), watch: watch}
			s.call(f, c)
			select {
			case reply := <-c.reply:
				return reply, nil
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
			case <-l.stop:
				return nil, ErrClosed
			}
		}
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrNotLeader) {
			return nil, err
		}
		if l.readOnlyNow() {
			return nil, ErrReadOnly
		}
		if retry == nil {
			retry = time.NewTimer(leaderRetry)
			defer retry.Stop()
		} else {
			retry.Reset(leaderRetry)
		}
		select {
		case <-retry.C:
		case <-l.waitChange():
			if !retry.Stop() {
				<-retry.C
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %v: %v", ErrTimeout, ctx.Err(), err)
		case <-l.stop:
			return nil, ErrClosed
		}
	}
}
