package zkserver

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// conn is one client connection: a reader that decodes requests and
// proposes writes in arrival order, a processor that answers them in the
// same order, and a writer that drains the outbound queue.
type conn struct {
	srv *Server
	nc  net.Conn
	br  *bufio.Reader
	ip  string
	log *slog.Logger

	// Set by the handshake, before the processor starts. Other goroutines
	// (the four-letter words) read them only once ready is set.
	session  int64
	timeout  time.Duration
	readOnly bool
	// owner is this connection's token as its session's owner: the leader
	// refuses its writes once another connection claims the session.
	owner int64
	// local marks a session that a read-only replica handed out without
	// the log: it is in no tree, and ends with the connection.
	local bool
	ready atomic.Bool

	// identity is replaced as a whole by auth, so the listener can read it
	// without a lock while it checks whether a watcher may see an event.
	identity atomic.Pointer[tree.Identity]

	slots chan *slot
	// lastOrdered is closed when the latest non-write request has run.
	// Only the reader touches it: a write waits for it so that it can never
	// overtake an earlier read.
	lastOrdered chan struct{}

	out *outQueue

	closed atomic.Bool
	// endingSession is set once the client asked to close its session. The
	// connection closes itself after that reply; the session sweeper, which
	// sees the session gone first, must not cut the reply off.
	endingSession atomic.Bool
	closeOnce     sync.Once
	done          chan struct{}
	// ctx ends when the connection closes, so that nothing waits on its
	// behalf for an answer nobody will read.
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	stats connStats
}

func newConn(s *Server, nc net.Conn, ip string) *conn {
	c := &conn{
		srv:   s,
		nc:    nc,
		br:    bufio.NewReaderSize(nc, 64<<10),
		ip:    ip,
		log:   s.log.With("client", nc.RemoteAddr().String()),
		slots: make(chan *slot, s.cfg.MaxOutstanding),
		done:  make(chan struct{}),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.stats.established = time.Now()
	c.identity.Store(&tree.Identity{IDs: []tree.ID{{Scheme: "ip", ID: ip}}})
	c.out = newOutQueue(s.cfg.MaxQueued/4, s.cfg.MaxQueued, func() {
		c.log.Warn("client is not reading; its outbound queue is full; closing the connection", "limit", s.cfg.MaxQueued)
		c.close()
	})
	return c
}

// serve runs the connection until it closes.
func (c *conn) serve() {
	c.wg.Add(1)
	go c.writeLoop()
	if c.run() == readDrain {
		// The last reply is queued and the writer closes the connection
		// once it is out; a client that stops reading is not waited for.
		select {
		case <-c.done:
		case <-time.After(drainTimeout):
			c.log.Warn("client did not read its last reply; closing")
		}
	}
	c.close()
	c.wg.Wait()
}

// drainTimeout bounds the wait for a final reply to reach the client.
const drainTimeout = 30 * time.Second

// readState tells the reader what to do after a packet.
type readState uint8

const (
	readOn    readState = iota // keep reading
	readStop                   // close the connection now
	readDrain                  // stop reading; close once the replies are out
)

func (c *conn) run() readState {
	c.nc.SetReadDeadline(time.Now().Add(DefaultSessionlessTimeout))
	var first [4]byte
	if _, err := io.ReadFull(c.br, first[:]); err != nil {
		if !errors.Is(err, io.EOF) {
			c.log.Debug("connection closed before its first packet", "err", err)
		}
		return readStop
	}
	c.certIdentity()
	if word := string(first[:]); isFourLetterWord(word) {
		c.srv.fourLetter(c, word)
		return readStop
	}
	n := int32(binary.BigEndian.Uint32(first[:]))
	if n < 0 || int(n) > c.srv.cfg.MaxPacket {
		c.log.Warn("closing the connection: bad length for a connect request", "len", n, "max", c.srv.cfg.MaxPacket)
		return readStop
	}
	pkt, err := wire.ReadPayload(c.br, int(n))
	if err != nil {
		c.log.Debug("connection closed inside its connect request", "err", err)
		return readStop
	}
	if st := c.handshake(pkt); st != readOn {
		return st
	}
	c.nc.SetReadDeadline(time.Time{})
	c.wg.Add(1)
	go c.processLoop()
	return c.readLoop()
}

// handshake answers the ConnectRequest; anything but readOn ends the
// connection.
func (c *conn) handshake(pkt []byte) readState {
	var req wire.ConnectRequest
	if err := wire.Unmarshal(pkt, &req); err != nil {
		c.log.Warn("closing the connection: malformed connect request", "err", err)
		return readStop
	}
	if req.ProtocolVersion != wire.ProtocolVersion {
		c.log.Warn("closing the connection: unknown protocol version", "version", req.ProtocolVersion)
		return readStop
	}
	if c.srv.readOnly() && !req.ReadOnly {
		c.log.Info("refusing a session from a client that does not accept read-only mode")
		return readStop
	}
	if last := c.srv.rep.LastZxid(); req.LastZxidSeen > last {
		// The client saw a later state on another server: it must not go
		// back in time here. ZooKeeper closes such a connection.
		c.log.Warn(fmt.Sprintf("refusing session request: client has seen zxid 0x%x, our last zxid is 0x%x; client must try another server", req.LastZxidSeen, last))
		return readStop
	}
	if req.ReadOnly && !c.srv.readOnly() {
		// The client would take a read-only session: while this replica
		// looks for a leader, it waits for one or for read-only mode
		// instead of being turned away (AwaitLeaderOrReadOnly).
		if _, err := c.srv.rep.AwaitLeaderOrReadOnly(c.ctx); err != nil {
			c.log.Info("closing the connection: no leader, and not yet read-only", "err", err)
			return readStop
		}
	}
	timeout := c.srv.negotiateTimeout(req.TimeOut)
	id, pw := req.SessionID, req.Passwd
	if id == 0 && c.srv.readOnly() {
		var err error
		if id, pw, err = c.srv.rep.LocalSession(); err != nil {
			c.log.Warn("closing the connection: cannot make a local session", "err", err)
			return readStop
		}
		c.local = true
		c.log.Info("read-only local session established", "session", sessionHex(id), "timeout", timeout)
	} else if id == 0 {
		ctx, cancel := context.WithTimeout(c.ctx, max(timeout, 10*time.Second))
		var err error
		id, pw, err = c.srv.rep.CreateSession(ctx, timeout)
		cancel()
		if err != nil {
			c.log.Warn("closing the connection: cannot create a session", "err", err)
			return readStop
		}
		c.log.Info("session established", "session", sessionHex(id), "timeout", timeout)
	} else {
		if err := c.srv.rep.CheckSession(id, pw); err != nil {
			// ZooKeeper answers an expired session or a wrong password with
			// a zero timeout and id, from which clients raise SessionExpired.
			c.log.Info("refusing to resume session: expired or wrong password", "session", sessionHex(id))
			resp := wire.ConnectResponse{ProtocolVersion: wire.ProtocolVersion, Passwd: make([]byte, 16), ReadOnly: c.srv.readOnly(), OmitReadOnly: req.OmitReadOnly}
			c.out.push(wire.AppendFrame(nil, &resp))
			c.out.closeWhenDrained()
			return readDrain
		}
		c.srv.rep.TouchSession(id)
		c.log.Info("session resumed", "session", sessionHex(id), "timeout", timeout)
	}
	c.session, c.timeout, c.readOnly = id, timeout, c.srv.readOnly()
	c.owner = c.srv.rep.NewOwner()
	if req.SessionID != 0 && !c.readOnly {
		// From now on the writes of the session's older connections,
		// here or on another replica, get SessionMoved. The client may
		// write on one as soon as it has the answer, so the leader must
		// have the claim first; a replica that cannot reach the leader
		// turns the client away, as a ZooKeeper follower without a
		// leader does. (A new session needs no claim: no other
		// connection has it.)
		ctx, cancel := context.WithTimeout(c.ctx, timeout)
		err := c.srv.rep.ClaimSession(ctx, id, c.owner)
		cancel()
		if err != nil && req.ReadOnly {
			// The leader went away during the claim: a client that takes
			// read-only mode gets it if the replica turns read-only, and
			// a second claim if a leader comes instead.
			if ro, werr := c.srv.rep.AwaitLeaderOrReadOnly(c.ctx); werr == nil && ro {
				c.readOnly, err = true, nil
			} else if werr == nil {
				ctx, cancel := context.WithTimeout(c.ctx, timeout)
				err = c.srv.rep.ClaimSession(ctx, id, c.owner)
				cancel()
			}
		}
		if err != nil {
			c.log.Info("refusing to resume session: the leader did not record its new connection; client must try again", "session", sessionHex(id), "err", err)
			return readStop
		}
	}
	c.log = c.log.With("session", sessionHex(id))
	c.ready.Store(true)
	if !c.srv.attach(c) {
		return readStop
	}
	resp := wire.ConnectResponse{
		ProtocolVersion: wire.ProtocolVersion,
		TimeOut:         int32(timeout / time.Millisecond),
		SessionID:       id,
		Passwd:          pw,
		ReadOnly:        c.readOnly,
		OmitReadOnly:    req.OmitReadOnly,
	}
	c.out.push(wire.AppendFrame(nil, &resp))
	return readOn
}

// readLoop reads requests until the client goes away or a request ends the
// connection. Blocking on a full slots channel is the back-pressure: the
// socket is not read while too many requests are in flight.
func (c *conn) readLoop() readState {
	fr := wire.NewFrameReader(c.br, c.srv.cfg.MaxPacket)
	for {
		pkt, err := fr.Next()
		if err != nil {
			switch {
			case c.closed.Load():
			case errors.Is(err, io.EOF):
				c.log.Debug("client closed the connection")
			case errors.Is(err, wire.ErrPacketLength):
				c.log.Warn("closing the connection: packet length out of range", "err", err)
			default:
				c.log.Debug("read failed", "err", err)
			}
			return readStop
		}
		c.stats.received.Add(1)
		c.srv.stats.received.Add(1)
		if !c.local {
			c.srv.rep.TouchSession(c.session)
		}
		if len(pkt) < 8 {
			c.log.Warn("closing the connection: packet too short for a request header", "len", len(pkt))
			return readStop
		}
		h, req, err := wire.ParseRequest(pkt)
		if st := c.dispatch(h, req, err); st != readOn {
			return st
		}
	}
}

// enqueue hands a slot to the processor, waiting while too many are in
// flight. It reports false if the connection closed meanwhile.
func (c *conn) enqueue(s *slot) bool {
	select {
	case c.slots <- s:
		return true
	case <-c.done:
		return false
	}
}

// writeLoop writes queued frames until the connection closes.
func (c *conn) writeLoop() {
	defer c.wg.Done()
	for {
		batch, n, drain, ok := c.out.take()
		if !ok {
			return
		}
		if drain {
			c.close()
			return
		}
		bufs := net.Buffers(batch)
		if _, err := bufs.WriteTo(c.nc); err != nil {
			if !c.closed.Load() {
				c.log.Debug("write failed; closing", "err", err)
			}
			c.close()
			return
		}
		c.stats.sent.Add(int64(len(batch)))
		c.srv.stats.sent.Add(int64(len(batch)))
		c.out.written(n)
	}
}

// close ends the connection. It may be called from any goroutine, any
// number of times. The session is not closed: the client may resume it on
// another connection until it expires.
func (c *conn) close() {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		close(c.done)
		c.cancel()
		c.out.close()
		// The tables first: a client that sees the socket close and asks
		// cons or wchs at once must not find this connection there.
		c.srv.watches.removeConn(c)
		c.srv.forget(c)
		c.nc.Close()
	})
}

func (c *conn) ident() tree.Identity {
	return *c.identity.Load()
}

func sessionHex(id int64) string {
	return fmt.Sprintf("0x%x", uint64(id))
}

// errConnection marks failures after which the connection cannot go on,
// such as a write whose outcome is unknown.
func connectionError(err error) bool {
	return errors.Is(err, replication.ErrClosed) || errors.Is(err, replication.ErrTimeout) || errors.Is(err, replication.ErrNotLeader) ||
		errors.Is(err, replication.ErrReadOnly)
}

// certIdentity adds the subject of a verified client certificate to the
// connection's identity as x509:<subject>, as ZooKeeper's
// X509AuthenticationProvider does. The TLS handshake is over once the
// first bytes are read; a secure port without a CA asks for no
// certificate, and a plain connection has none.
func (c *conn) certIdentity() {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return
	}
	st := tc.ConnectionState()
	if len(st.VerifiedChains) == 0 || len(st.PeerCertificates) == 0 {
		return
	}
	old := c.ident()
	next := tree.Identity{Super: old.Super, IDs: append([]tree.ID(nil), old.IDs...)}
	next.IDs = addID(next.IDs, tree.ID{Scheme: "x509", ID: st.PeerCertificates[0].Subject.String()})
	c.identity.Store(&next)
}
