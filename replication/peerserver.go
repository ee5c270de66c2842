package replication

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// The leader's side of the peer streams. Each follower's stream has two
// goroutines for its whole life: a reader that submits forwarded writes to
// raft in the order they arrive, and a replier that waits for their
// outcomes in that same order and sends them back. Nothing is started per
// write.

// streamQueue bounds the batches a stream's replier has yet to answer;
// past it the reader stops reading and TCP pushes back on the follower.
const streamQueue = 256

// handshakeTimeout bounds the hello exchange that opens a stream.
const handshakeTimeout = 5 * time.Second

// peerServer accepts followers' streams on the peer port. The streams are
// its own; what their frames act on (raft, the write path's entry, the
// sessions, the read index, the membership) comes in leaderSide when serve
// starts, since every frame needs raft.
type peerServer struct {
	self string // this replica's server id, for the hello
	log  *slog.Logger
	ln   net.Listener
	wg   sync.WaitGroup
	leaderSide

	mu      sync.Mutex
	streams map[*inStream]struct{}
	closed  bool
}

// leaderSide is what the leader's end of the streams acts on.
type leaderSide struct {
	raft     *raft.Raft
	isLeader func() bool
	// submit hands a forwarded command to raft on this replica, the
	// leader (submitter.local).
	submit   func(Command) *Proposal
	sessions *sessions
	reads    *readIndex
	members  *membership
}

// listenPeers opens the peer port, so that a taken port fails the start at
// once; serve starts answering, which must wait until the replica's Raft
// exists, since every frame uses it.
func listenPeers(t *PeerTLS, addr, self string, log *slog.Logger) (*peerServer, error) {
	ln, err := listenPeer(t, addr)
	if err != nil {
		return nil, fmt.Errorf("replication: listen on %s: %w", addr, err)
	}
	return &peerServer{self: self, log: log, ln: ln, streams: make(map[*inStream]struct{})}, nil
}

// serve starts accepting streams, whose frames act on d.
func (s *peerServer) serve(d leaderSide) {
	s.leaderSide = d
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			st := &inStream{srv: s, nc: c, br: bufio.NewReader(c), bw: bufio.NewWriter(c),
				items: make(chan streamItem, streamQueue), done: make(chan struct{})}
			if !s.add(st) {
				c.Close()
				return
			}
			s.wg.Add(1)
			go st.readLoop()
		}
	}()
}

func (s *peerServer) add(st *inStream) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.streams[st] = struct{}{}
	return true
}

func (s *peerServer) remove(st *inStream) {
	s.mu.Lock()
	delete(s.streams, st)
	s.mu.Unlock()
}

// each calls fn for every open stream.
func (s *peerServer) each(fn func(*inStream)) {
	s.mu.Lock()
	list := make([]*inStream, 0, len(s.streams))
	for st := range s.streams {
		list = append(list, st)
	}
	s.mu.Unlock()
	for _, st := range list {
		fn(st)
	}
}

// dropAll closes every stream: this replica stopped leading, and its
// followers must find the new leader.
func (s *peerServer) dropAll() {
	s.each(func(st *inStream) { st.close() })
}

// closeWait bounds how long close waits for the streams' goroutines.
const closeWait = 5 * time.Second

// close stops serving. It runs after raft's shutdown, and a reply loop can
// still wait on a leadership check that raft never answers: VerifyLeader
// queues its future on a buffered channel, and one queued just as raft's
// main loop ends is left unresolved (hashicorp/raft 1.8). The process is
// ending, so such a goroutine is left behind rather than waited for; a
// server hung in its shutdown for minutes before.
func (s *peerServer) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.ln.Close()
	s.dropAll()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(closeWait):
		s.log.Warn("peer streams still waiting for raft at shutdown; not waiting for them", "after", closeWait)
	}
}

// inStream is one follower's stream, as the leader serves it.
type inStream struct {
	srv  *peerServer
	nc   net.Conn
	br   *bufio.Reader
	peer string // the follower's server id, from its hello

	// wmu guards the writer: the replier, reconfig replies and commit
	// notices all write frames.
	wmu     sync.Mutex
	bw      *bufio.Writer
	wbuf    []byte
	noticed uint64 // the last index announced with frameCommitted

	items     chan streamItem
	done      chan struct{}
	closeOnce sync.Once
}

// streamItem is a request waiting for its reply, in stream order.
type streamItem struct {
	id       uint64
	props    []*Proposal // a forwarded batch
	verified raft.Future // a read index: the leadership check
	target   uint64      // and the last log index before it
	err      error       // set when the whole batch of n was refused
	n        int
}

func (st *inStream) close() {
	st.closeOnce.Do(func() {
		close(st.done)
		st.nc.Close()
		st.srv.remove(st)
	})
}

// readLoop reads the follower's frames and acts on them in order.
func (st *inStream) readLoop() {
	defer st.srv.wg.Done()
	srv := st.srv
	if err := st.handshake(); err != nil {
		srv.log.Debug("peer stream refused", "remote", st.nc.RemoteAddr(), "err", err)
		st.close()
		return
	}
	st.srv.wg.Add(1)
	go st.replyLoop()
	defer close(st.items) // the replier answers what is queued, then closes
	var buf []byte
	for {
		var f *peerFrame
		var err error
		f, buf, err = readFrame(st.br, buf)
		if err != nil {
			if errors.Is(err, ErrBadFrame) {
				srv.log.Warn("closing a peer stream", "peer", st.peer, "err", err)
			}
			return
		}
		switch f.typ {
		case frameForward:
			it := streamItem{id: f.id, n: len(f.commands)}
			if !srv.isLeader() {
				// Nothing after a refused batch may be accepted, or
				// the follower's retry would land behind it: the
				// stream ends here.
				it.err = ErrNotLeader
				st.push(it)
				return
			}
			it.props = make([]*Proposal, len(f.commands))
			for i, b := range f.commands {
				if err := srv.sessions.owners.check(f.owners[i].session, f.owners[i].owner); err != nil {
					it.props[i] = &Proposal{err: err}
					continue
				}
				cmd, err := DecodeCommand(b)
				if err != nil {
					it.props[i] = &Proposal{err: err}
					continue
				}
				it.props[i] = srv.submit(cmd)
			}
			if !st.push(it) {
				return
			}
		case frameReadIndex:
			// The last index first, then the leadership check: it must
			// follow the request (Sync).
			target := srv.raft.LastIndex()
			if !st.push(streamItem{id: f.id, target: target, verified: srv.raft.VerifyLeader()}) {
				return
			}
		case frameTouch:
			srv.sessions.tracker.touchAll(f.sessions)
		case frameReconfig:
			st.srv.wg.Add(1)
			go st.reconfig(f) // rare, and may take a minute: off the stream's order
		default:
			srv.log.Warn("closing a peer stream: unexpected frame", "peer", st.peer, "type", f.typ)
			return
		}
	}
}

func (st *inStream) handshake() error {
	st.nc.SetDeadline(time.Now().Add(handshakeTimeout))
	f, _, err := readFrame(st.br, nil)
	if err != nil {
		return err
	}
	if f.typ != frameHello || f.version != peerVersion {
		return fmt.Errorf("%w: want hello version %d, got frame %d version %d", ErrBadFrame, peerVersion, f.typ, f.version)
	}
	st.peer = f.serverID
	if err := st.write(&peerFrame{typ: frameHello, version: peerVersion, serverID: st.srv.self}, true); err != nil {
		return err
	}
	return st.nc.SetDeadline(time.Time{})
}

func (st *inStream) push(it streamItem) bool {
	select {
	case st.items <- it:
		return true
	case <-st.done:
		return false
	}
}

// replyLoop answers queued requests in order. Raft resolves every future
// it waits on: on commit, on a lost leadership or at shutdown.
func (st *inStream) replyLoop() {
	defer st.srv.wg.Done()
	srv := st.srv
	for {
		var it streamItem
		var ok bool
		select {
		case it, ok = <-st.items:
		case <-st.done:
			return
		}
		if !ok {
			st.close()
			return
		}
		var f *peerFrame
		switch {
		case it.verified != nil:
			f = &peerFrame{typ: frameReadIndexReply, id: it.id}
			idx, err := srv.reads.atLeader(it.target, it.verified)
			f.code, f.index = codeOf(err), idx
		default:
			f = &peerFrame{typ: frameForwardReply, id: it.id}
			if it.err != nil {
				f.outcomes = make([]forwardOutcome, it.n)
				for i := range f.outcomes {
					f.outcomes[i].err = it.err
				}
				break
			}
			f.outcomes = make([]forwardOutcome, len(it.props))
			for i, p := range it.props {
				f.outcomes[i] = p.outcome()
			}
		}
		if err := st.write(f, len(st.items) == 0); err != nil {
			st.close()
			return
		}
	}
}

// reconfig runs a forwarded membership change and answers it.
func (st *inStream) reconfig(f *peerFrame) {
	defer st.srv.wg.Done()
	srv := st.srv
	reply := &peerFrame{typ: frameReconfigReply, id: f.id}
	var err error
	if !srv.isLeader() {
		err = ErrNotLeader
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), reconfigTimeout)
		err = srv.members.reconfig(ctx, f.add, f.remove)
		cancel()
	}
	if err != nil {
		reply.code, reply.msg = codeOf(err), err.Error()
	}
	if st.write(reply, true) != nil {
		st.close()
	}
}

// reconfigTimeout bounds a forwarded membership change on the leader: a
// joining server must catch up before raft commits its addition.
const reconfigTimeout = time.Minute

// notice tells the follower that the leader applied its log up to index.
func (st *inStream) notice(index, term uint64) {
	st.wmu.Lock()
	if index <= st.noticed {
		st.wmu.Unlock()
		return
	}
	st.noticed = index
	st.wmu.Unlock()
	if st.write(&peerFrame{typ: frameCommitted, index: index, term: term}, true) != nil {
		st.close()
	}
}

// streamWriteTimeout bounds one write to a peer. A peer that reads nothing
// for that long is stuck, and its stream is closed.
const streamWriteTimeout = 5 * time.Second

// write encodes f and, when flush is set, sends what is buffered.
func (st *inStream) write(f *peerFrame, flush bool) error {
	st.wmu.Lock()
	defer st.wmu.Unlock()
	return writeFrame(st.nc, st.bw, &st.wbuf, f, flush)
}

// writeFrame is both sides' writer; the caller holds the writer's lock.
func writeFrame(nc net.Conn, bw *bufio.Writer, buf *[]byte, f *peerFrame, flush bool) error {
	*buf = appendFrame((*buf)[:0], f)
	nc.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
	if _, err := bw.Write(*buf); err != nil {
		return err
	}
	if cap(*buf) > 1<<20 {
		*buf = nil // do not keep a large batch's buffer for good
	}
	if flush {
		return bw.Flush()
	}
	return nil
}

// outcome waits for a write submitted on this replica, the leader.
func (p *Proposal) outcome() forwardOutcome {
	if p.err != nil {
		return forwardOutcome{err: p.err}
	}
	if err := p.fut.Error(); err != nil {
		return forwardOutcome{err: raftError(err)}
	}
	res, ok := p.fut.Response().(applyResult)
	if !ok {
		return forwardOutcome{err: fmt.Errorf("replication: entry %d was not applied as a command", p.fut.Index())}
	}
	return forwardOutcome{index: p.fut.Index(), result: res.result}
}
