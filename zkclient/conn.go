// Package zkclient sends the ZooKeeper requests that go-zookeeper v1.0.4
// cannot: persistent watches (addWatch), getEphemerals,
// getAllChildrenNumber, whoAmI and reconfig; and the reads that a
// command following a persistent watch makes on the watch's own session
// (read.go), so that it opens one session, not one per client.
//
// go-zookeeper keeps its request path private (Conn.request and its
// reflection-based encoder are unexported) and drops the zxid of
// notifications, so these requests cannot ride on its connection without
// forking it. Conn is therefore a second, minimal client of the protocol,
// built on the jute records of package wire: a session with pings,
// authentication, reconnection within the session timeout and the
// re-registration of persistent watches. Everything else goes through
// go-zookeeper; Code maps the errors of both to ZooKeeper's error codes.
// Grow it only by what a command must send on a session go-zookeeper
// cannot open; a request go-zookeeper gains moves back to it.
package zkclient

import (
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"zkfs/tree"
	"zkfs/wire"
)

// DefaultPort is the port assumed for a server given without one, as
// ZooKeeper's clients do.
const DefaultPort = "2181"

// Errors of the connection itself, as opposed to the server's error codes
// (which come back as wire.ErrorOf(code)).
var (
	// ErrNoServer reports that no server accepted a session before the
	// connect timeout.
	ErrNoServer = errors.New("zkclient: no server answered")
	// ErrClosed reports a call on a closed Conn.
	ErrClosed = errors.New("zkclient: connection closed")
)

// AuthError reports credentials the server refused. The server closes the
// connection after refusing, so trying another server would not help.
type AuthError struct {
	Scheme string
	Err    error
}

// Error names the scheme, since a session may carry several.
func (e *AuthError) Error() string { return "zkclient: auth scheme " + e.Scheme + ": " + e.Err.Error() }

// Unwrap returns the server's error, normally AuthFailed.
func (e *AuthError) Unwrap() error { return e.Err }

// Auth is one addauth identity, sent on every (re)connection before any
// request so that requests never run unauthenticated.
type Auth struct {
	Scheme string
	Data   []byte
}

// Config says where and how to open a session.
type Config struct {
	// Servers are host:port addresses; a missing port means DefaultPort.
	Servers []string
	// SessionTimeout is the requested session timeout; the server may
	// negotiate it into its own bounds.
	SessionTimeout time.Duration
	// ConnectTimeout bounds the search for a server at Dial, over all
	// servers; zero means SessionTimeout.
	ConnectTimeout time.Duration
	// Auth is sent right after every handshake.
	Auth []Auth
	// TLS, when set, wraps every connection (a server's secure client
	// port).
	TLS *tls.Config
}

// Event is one watch notification.
type Event struct {
	Type wire.EventType
	Path string
	// Zxid is the zxid in the notification's header. ZooKeeper 3.8 does not
	// fill it in and sends -1; callers that need a zxid then ask for one.
	Zxid int64
}

// call is a request waiting for its reply.
type call struct {
	resp wire.Record
	zxid int64
	done chan error
}

// Conn is a ZooKeeper session. Its methods are safe for concurrent use.
type Conn struct {
	cfg Config

	mu        sync.Mutex
	nc        net.Conn // nil while (re)connecting
	timeout   time.Duration
	sessionID int64
	passwd    []byte
	lastZxid  int64
	lastRecv  time.Time // when the session was last known alive
	xid       int32
	pending   map[int32]*call
	watches   map[string]wire.AddWatchMode
	closing   bool
	err       error   // why the session ended, once it has
	queue     []Event // notifications not yet handed to events

	wake   chan struct{} // a notification was queued, or the session ended
	events chan Event
	// reconnects is signalled, coalesced, after each reconnection.
	reconnects chan struct{}
	quit       chan struct{} // closed by Close
	stopped    chan struct{} // closed when the reader has finished for good
}

// Dial opens a session on the first of cfg.Servers that answers, trying them
// in random order as ZooKeeper's clients do so that load spreads.
func Dial(cfg Config) (*Conn, error) {
	if len(cfg.Servers) == 0 {
		return nil, errors.New("zkclient: no servers")
	}
	servers := make([]string, len(cfg.Servers))
	for i, s := range cfg.Servers {
		servers[i] = withPort(s)
	}
	rand.Shuffle(len(servers), func(i, j int) { servers[i], servers[j] = servers[j], servers[i] })
	cfg.Servers = servers
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = cfg.SessionTimeout
	}
	c := &Conn{
		cfg:     cfg,
		timeout: cfg.SessionTimeout,
		passwd:  make([]byte, 16),
		pending: map[int32]*call{},
		watches: map[string]wire.AddWatchMode{},
		wake:    make(chan struct{}, 1),
		events:  make(chan Event),
		quit:    make(chan struct{}),

		reconnects: make(chan struct{}, 1),
		stopped:    make(chan struct{}),
	}
	nc, err := c.connect(time.Now().Add(cfg.ConnectTimeout))
	if err != nil {
		return nil, err
	}
	c.nc = nc
	go c.deliver()
	go c.run(nc)
	go c.ping()
	return c, nil
}

func withPort(s string) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	return net.JoinHostPort(s, DefaultPort)
}

// connect tries the servers in turn until one grants the session or the
// deadline passes. A server that declares the session expired ends the
// search at once: no other server will revive it.
func (c *Conn) connect(deadline time.Time) (net.Conn, error) {
	var last error
	for {
		for _, addr := range c.cfg.Servers {
			if !time.Now().Before(deadline) {
				return nil, fmt.Errorf("%w (%v)", ErrNoServer, last)
			}
			select {
			case <-c.quit:
				return nil, ErrClosed
			default:
			}
			nc, err := c.handshake(addr, deadline)
			if err == nil {
				return nc, nil
			}
			var ae *AuthError
			if errors.Is(err, wire.ErrorOf(tree.CodeSessionExpired)) || errors.As(err, &ae) {
				return nil, err
			}
			last = err
		}
		select {
		case <-c.quit:
			return nil, ErrClosed
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// handshake opens one TCP connection, creates or resumes the session, sends
// the credentials and re-registers the persistent watches.
func (c *Conn) handshake(addr string, deadline time.Time) (net.Conn, error) {
	step := time.Until(deadline)
	if step > 2*time.Second {
		step = 2 * time.Second // let an unresponsive server not eat the whole budget
	}
	var nc net.Conn
	var err error
	if c.cfg.TLS != nil {
		nc, err = tls.DialWithDialer(&net.Dialer{Timeout: step}, "tcp", addr, c.cfg.TLS)
	} else {
		nc, err = net.DialTimeout("tcp", addr, step)
	}
	if err != nil {
		return nil, err
	}
	ok := false
	defer func() {
		if !ok {
			nc.Close()
		}
	}()
	nc.SetDeadline(time.Now().Add(step))

	c.mu.Lock()
	req := &wire.ConnectRequest{
		ProtocolVersion: wire.ProtocolVersion,
		LastZxidSeen:    c.lastZxid,
		TimeOut:         int32(c.cfg.SessionTimeout / time.Millisecond),
		SessionID:       c.sessionID,
		Passwd:          c.passwd,
	}
	watches := make(map[string]wire.AddWatchMode, len(c.watches))
	for p, m := range c.watches {
		watches[p] = m
	}
	c.mu.Unlock()

	if err := wire.WriteFrame(nc, wire.Marshal(nil, req)); err != nil {
		return nil, err
	}
	b, err := wire.ReadFrame(nc, 0)
	if err != nil {
		return nil, err
	}
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(b, &resp); err != nil {
		return nil, err
	}
	if resp.TimeOut <= 0 || resp.SessionID == 0 {
		return nil, wire.ErrorOf(tree.CodeSessionExpired)
	}

	for _, a := range c.cfg.Auth {
		pkt := &wire.AuthPacket{Scheme: a.Scheme, Auth: a.Data}
		hdr := &wire.RequestHeader{Xid: wire.XidAuth, Type: wire.OpAuth}
		if err := wire.WriteFrame(nc, wire.Marshal(nil, hdr, pkt)); err != nil {
			return nil, err
		}
		b, err := wire.ReadFrame(nc, 0)
		if err != nil {
			return nil, err
		}
		var rh wire.ReplyHeader
		if err := wire.Unmarshal(b, &rh); err != nil {
			return nil, err
		}
		if rh.Err != 0 {
			return nil, &AuthError{Scheme: a.Scheme, Err: wire.ErrorOf(rh.Err)}
		}
	}

	if len(watches) > 0 {
		sw := &wire.SetWatches2{RelativeZxid: req.LastZxidSeen}
		for p, m := range watches {
			if m == wire.AddWatchPersistentRecursive {
				sw.PersistentRecursiveWatches = append(sw.PersistentRecursiveWatches, p)
			} else {
				sw.PersistentWatches = append(sw.PersistentWatches, p)
			}
		}
		hdr := &wire.RequestHeader{Xid: wire.XidSetWatches, Type: wire.OpSetWatches2}
		if err := wire.WriteFrame(nc, wire.Marshal(nil, hdr, sw)); err != nil {
			return nil, err
		}
		// The reply comes to the reader, which ignores it.
	}

	nc.SetDeadline(time.Time{})
	c.mu.Lock()
	c.sessionID = resp.SessionID
	c.passwd = resp.Passwd
	c.timeout = time.Duration(resp.TimeOut) * time.Millisecond
	c.lastRecv = time.Now()
	c.mu.Unlock()
	ok = true
	return nc, nil
}

// SessionID returns the session's id.
func (c *Conn) SessionID() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sessionID
}

// Events returns the notifications of the session's watches, in the order
// the server sent them. The channel is closed when the session ends (Close,
// expiry, or no server reachable within the session timeout); Err then says
// why. Notifications are queued without bound, so a slow reader never stalls
// the replies to its own requests.
func (c *Conn) Events() <-chan Event { return c.events }

// Reconnects receives after each reconnection within the session,
// coalesced. The persistent watches are set again, but changes made while
// the connection was down sent no events: a caller that mirrors the data
// reads it again.
func (c *Conn) Reconnects() <-chan struct{} { return c.reconnects }

// Err returns why the session ended: nil while it lives, ErrClosed after
// Close, or the error that ended it.
func (c *Conn) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// run reads replies and notifications until the connection fails, then
// reconnects, until the session ends.
func (c *Conn) run(nc net.Conn) {
	defer close(c.stopped)
	for {
		err := c.read(nc)
		nc.Close()
		c.mu.Lock()
		c.nc = nil
		for xid, cl := range c.pending {
			cl.done <- wire.ErrorOf(tree.CodeConnectionLoss)
			delete(c.pending, xid)
		}
		closing := c.closing
		// The server expires the session one timeout after it last heard
		// from us; past that there is nothing to resume.
		deadline := c.lastRecv.Add(c.timeout)
		c.mu.Unlock()
		if closing {
			c.end(ErrClosed)
			return
		}
		nc, err = c.connect(deadline)
		if err != nil {
			if errors.Is(err, ErrNoServer) {
				err = wire.ErrorOf(tree.CodeSessionExpired)
			}
			c.end(err)
			return
		}
		c.mu.Lock()
		if c.closing {
			c.mu.Unlock()
			nc.Close()
			c.end(ErrClosed)
			return
		}
		c.nc = nc
		c.mu.Unlock()
		select {
		case c.reconnects <- struct{}{}:
		default:
		}
	}
}

// read handles frames from one connection until it fails.
func (c *Conn) read(nc net.Conn) error {
	fr := wire.NewFrameReader(nc, 0)
	for {
		c.mu.Lock()
		readTimeout := c.timeout * 2 / 3
		c.mu.Unlock()
		nc.SetReadDeadline(time.Now().Add(readTimeout))
		b, err := fr.Next()
		if err != nil {
			return err
		}
		d := wire.NewDecoder(b)
		var hdr wire.ReplyHeader
		if err := hdr.Decode(d); err != nil {
			return err
		}
		c.mu.Lock()
		c.lastRecv = time.Now()
		if hdr.Xid >= 0 && hdr.Zxid > 0 {
			c.lastZxid = hdr.Zxid
		}
		c.mu.Unlock()
		switch hdr.Xid {
		case wire.XidNotification:
			var ev wire.WatcherEvent
			if err := ev.Decode(d); err != nil {
				return err
			}
			c.mu.Lock()
			c.queue = append(c.queue, Event{Type: ev.Type, Path: ev.Path, Zxid: hdr.Zxid})
			c.mu.Unlock()
			c.poke()
			continue
		case wire.XidPing, wire.XidSetWatches, wire.XidAuth:
			continue
		}
		c.mu.Lock()
		cl := c.pending[hdr.Xid]
		delete(c.pending, hdr.Xid)
		c.mu.Unlock()
		if cl == nil {
			continue // the caller gave up (Close) before the reply came
		}
		cl.zxid = hdr.Zxid
		switch {
		case hdr.Err != 0:
			cl.done <- wire.ErrorOf(hdr.Err)
		case cl.resp != nil:
			cl.done <- cl.resp.Decode(d)
		default:
			cl.done <- nil
		}
	}
}

func (c *Conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// end records why the session ended and lets deliver close the events.
func (c *Conn) end(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.poke()
}

// deliver hands queued notifications to Events, then closes it once the
// session has ended and the queue is drained.
func (c *Conn) deliver() {
	defer close(c.events)
	for {
		c.mu.Lock()
		q := c.queue
		c.queue = nil
		ended := c.err != nil
		c.mu.Unlock()
		for _, ev := range q {
			select {
			case c.events <- ev:
			case <-c.quit:
				return
			}
		}
		if len(q) > 0 {
			continue
		}
		if ended {
			return
		}
		select {
		case <-c.wake:
		case <-c.quit:
			return
		}
	}
}

// ping keeps the session alive and lets read notice a dead server: replies
// to pings arrive well within the read deadline.
func (c *Conn) ping() {
	for {
		c.mu.Lock()
		interval := c.timeout / 3
		c.mu.Unlock()
		select {
		case <-c.stopped:
			return
		case <-time.After(interval):
		}
		hdr := &wire.RequestHeader{Xid: wire.XidPing, Type: wire.OpPing}
		c.mu.Lock()
		if c.nc != nil {
			c.write(wire.Marshal(nil, hdr))
		}
		c.mu.Unlock()
	}
}

// write sends one frame; c.mu must be held so that frames never interleave.
// A failed write closes the connection, which makes read fail and reconnect.
func (c *Conn) write(payload []byte) {
	c.nc.SetWriteDeadline(time.Now().Add(c.timeout / 3))
	if err := wire.WriteFrame(c.nc, payload); err != nil {
		c.nc.Close()
	}
}

// do sends one request of the caller's and waits for its reply. It returns
// the reply's zxid (the server's last zxid when it answered) even on error.
func (c *Conn) do(op wire.OpCode, req, resp wire.Record) (int64, error) {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		return 0, ErrClosed
	}
	return c.send(op, req, resp)
}

// send is do without the check for Close, which needs it for closeSession;
// it is called with c.mu held and releases it.
func (c *Conn) send(op wire.OpCode, req, resp wire.Record) (int64, error) {
	switch {
	case c.err != nil:
		err := c.err
		c.mu.Unlock()
		return 0, err
	case c.nc == nil:
		c.mu.Unlock()
		return 0, wire.ErrorOf(tree.CodeConnectionLoss)
	}
	c.xid = (c.xid + 1) & 0x7fffffff
	if c.xid == 0 {
		c.xid = 1
	}
	cl := &call{resp: resp, done: make(chan error, 1)}
	c.pending[c.xid] = cl
	recs := []wire.Record{&wire.RequestHeader{Xid: c.xid, Type: op}}
	if req != nil {
		recs = append(recs, req)
	}
	c.write(wire.Marshal(nil, recs...))
	c.mu.Unlock()
	err := <-cl.done
	return cl.zxid, err
}

// AddWatch sets a persistent watch on path (wire.AddWatchPersistent: the
// node's own changes and its children list; wire.AddWatchPersistentRecursive:
// every node below path as well). The watch survives reconnections.
func (c *Conn) AddWatch(path string, mode wire.AddWatchMode) error {
	_, err := c.do(wire.OpAddWatch, &wire.AddWatchRequest{Path: path, Mode: mode}, &wire.ErrorResponse{})
	if err == nil {
		c.mu.Lock()
		c.watches[path] = mode
		c.mu.Unlock()
	}
	return err
}

// Exists returns the node's stat, nil if there is no such node, and the
// zxid of the reply, which is at least that of every change the server had
// applied when it answered.
func (c *Conn) Exists(path string) (*wire.Stat, int64, error) {
	var resp wire.ExistsResponse
	zxid, err := c.do(wire.OpExists, &wire.ExistsRequest{Path: path}, &resp)
	if errors.Is(err, wire.ErrorOf(tree.CodeNoNode)) {
		return nil, zxid, nil
	}
	if err != nil {
		return nil, zxid, err
	}
	return &resp.Stat, zxid, nil
}

// GetEphemerals returns the paths of the ephemeral nodes this session owns
// whose paths start with prefix ("/" for all).
func (c *Conn) GetEphemerals(prefix string) ([]string, error) {
	var resp wire.GetEphemeralsResponse
	_, err := c.do(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: prefix}, &resp)
	return resp.Ephemerals, err
}

// GetAllChildrenNumber returns how many nodes lie below path, at any depth.
func (c *Conn) GetAllChildrenNumber(path string) (int32, error) {
	var resp wire.GetAllChildrenNumberResponse
	_, err := c.do(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: path}, &resp)
	return resp.TotalNumber, err
}

// WhoAmI returns the identities the server knows the session by.
func (c *Conn) WhoAmI() ([]wire.ClientInfo, error) {
	var resp wire.WhoAmIResponse
	_, err := c.do(wire.OpWhoAmI, &wire.WhoAmIRequest{}, &resp)
	return resp.ClientInfo, err
}

// Close ends the session, so that the server removes its ephemeral nodes and
// watches now rather than one session timeout later, and stops the
// connection's goroutines. It waits a bounded time for the server's
// acknowledgement.
func (c *Conn) Close() error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		<-c.stopped
		return nil
	}
	// From here on a lost connection means the end, not a reconnection.
	c.closing = true
	var err error
	if c.nc != nil && c.err == nil {
		done := make(chan error, 1)
		go func() {
			c.mu.Lock()
			_, err := c.send(wire.OpCloseSession, &wire.CloseSessionRequest{}, nil)
			done <- err
		}()
		c.mu.Unlock()
		select {
		case err = <-done:
		case <-time.After(2 * time.Second):
			err = wire.ErrorOf(tree.CodeOperationTimeout)
		}
		c.mu.Lock()
	}
	if c.nc != nil {
		c.nc.Close()
	}
	c.mu.Unlock()
	close(c.quit)
	<-c.stopped
	return err
}

// Reconfig asks the ensemble to change its membership, as zkCli.sh's
// reconfig does: joining is a comma-separated list of server.N specs,
// leaving a comma-separated list of ids, or members the whole new
// membership. fromConfig is the expected configuration version, -1 for any.
// It returns the new configuration and the stat of /zookeeper/config.
func (c *Conn) Reconfig(joining, leaving, members string, fromConfig int64) ([]byte, *wire.Stat, error) {
	var resp wire.GetDataResponse
	_, err := c.do(wire.OpReconfig, &wire.ReconfigRequest{
		JoiningServers: joining, LeavingServers: leaving, NewMembers: members, CurConfigID: fromConfig,
	}, &resp)
	if err != nil {
		return nil, nil, err
	}
	return resp.Data, &resp.Stat, nil
}
