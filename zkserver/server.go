package zkserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// Defaults of ServerConfig. Tick time, connection limit and sessionless
// timeout are ZooKeeper 3.8's; the per-connection bounds are zkfs's own.
const (
	// DefaultTickTime is ZooKeeper's tickTime, the unit of its session
	// timeout bounds.
	DefaultTickTime = 2 * time.Second
	// DefaultMaxClientCnxns is ZooKeeper's maxClientCnxns: connections one
	// client address may hold open.
	DefaultMaxClientCnxns = 60
	// DefaultMaxOutstanding bounds a connection's requests in flight, like
	// ZooKeeper's globalOutstandingLimit does for the whole server: past it
	// the server stops reading from that socket until replies drain.
	DefaultMaxOutstanding = 1000
	// DefaultMaxQueued bounds the bytes waiting to be written to one
	// client. Replies stop being produced at a quarter of it; watch events,
	// which cannot wait, may fill the rest, and a connection that overflows
	// it is closed so that a client that never reads cannot hold the server.
	DefaultMaxQueued = 64 << 20
	// DefaultSessionlessTimeout is how long a new connection may take to
	// send its ConnectRequest (ZooKeeper's nio.sessionlessCnxnTimeout).
	DefaultSessionlessTimeout = 10 * time.Second
)

// ServerConfig configures a Server.
type ServerConfig struct {
	// Replica serves the reads and replicates the writes.
	Replica *replication.Replica
	// TickTime is ZooKeeper's tickTime; 0 means DefaultTickTime.
	TickTime time.Duration
	// MinSessionTimeout and MaxSessionTimeout bound the negotiated session
	// timeout; 0 means 2 and 20 ticks, as in ZooKeeper.
	MinSessionTimeout, MaxSessionTimeout time.Duration
	// MaxPacket is the largest request accepted, ZooKeeper's
	// jute.maxbuffer; 0 means DefaultMaxPacket.
	MaxPacket int
	// MaxClientCnxns limits the connections from one IP address; 0 means
	// no limit, as in ZooKeeper.
	MaxClientCnxns int
	// MaxOutstanding bounds the requests in flight on one connection;
	// 0 means DefaultMaxOutstanding.
	MaxOutstanding int
	// MaxQueued bounds the bytes queued for one client; 0 means
	// DefaultMaxQueued.
	MaxQueued int
	// FourLetterWords is ZooKeeper's 4lw.commands.whitelist: the words
	// answered on the client port, "*" for all. Nil means {"srvr"}, ZooKeeper
	// 3.8's default.
	FourLetterWords []string
	// SuperDigest is ZooKeeper's superDigest, "user:base64(sha1(user:pw))":
	// a client that authenticates with that digest bypasses every ACL.
	SuperDigest string
	// DataDir is reported by the conf and dirs four-letter words.
	DataDir string
	// DataLogDir is the separate directory of the Raft log (zoo.cfg's
	// dataLogDir), reported likewise; empty means the log is in DataDir.
	DataLogDir string
	// ReconfigDisabled refuses reconfig with ReconfigDisabled, as
	// ZooKeeper's reconfigEnabled=false does.
	ReconfigDisabled bool
	// ServerID is the server's id in its ensemble (myid), for conf; 0 for
	// a standalone server, as ZooKeeper reports it.
	ServerID int64
	// Version is reported by srvr and stat.
	Version string
	// Logger receives the server's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Server serves ZooKeeper's client protocol on top of a replica.
type Server struct {
	cfg     ServerConfig
	rep     *replication.Replica
	log     *slog.Logger
	watches *watchRegistry
	stats   serverStats
	metrics *serverMetrics
	words   map[string]bool
	started time.Time

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[string]int
	sessions  map[int64]*conn
	closed    bool
	wg        sync.WaitGroup
	stop      chan struct{}
}

// NewServer returns a server for cfg.Replica and registers it as one of the
// replica's listeners, so that watches see every applied change.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Replica == nil {
		return nil, errors.New("wire: server needs a replica")
	}
	if cfg.TickTime <= 0 {
		cfg.TickTime = DefaultTickTime
	}
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = 2 * cfg.TickTime
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = 20 * cfg.TickTime
	}
	if cfg.MinSessionTimeout > cfg.MaxSessionTimeout {
		return nil, fmt.Errorf("wire: minimum session timeout %v is above the maximum %v", cfg.MinSessionTimeout, cfg.MaxSessionTimeout)
	}
	if cfg.MaxPacket <= 0 {
		cfg.MaxPacket = wire.DefaultMaxPacket
	}
	if cfg.MaxClientCnxns < 0 {
		return nil, fmt.Errorf("wire: negative connection limit %d", cfg.MaxClientCnxns)
	}
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = DefaultMaxOutstanding
	}
	if cfg.MaxQueued <= 0 {
		cfg.MaxQueued = DefaultMaxQueued
	}
	if cfg.FourLetterWords == nil {
		cfg.FourLetterWords = []string{"srvr"}
	}
	if cfg.SuperDigest != "" && !validDigestCredential(cfg.SuperDigest) {
		return nil, fmt.Errorf("wire: super digest %q is not user:base64hash", cfg.SuperDigest)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	words, err := parseWhitelist(cfg.FourLetterWords)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:       cfg,
		rep:       cfg.Replica,
		log:       cfg.Logger,
		watches:   newWatchRegistry(cfg.Replica.Watches()),
		metrics:   newServerMetrics(),
		words:     words,
		started:   time.Now(),
		listeners: make(map[net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[string]int),
		sessions:  make(map[int64]*conn),
		stop:      make(chan struct{}),
	}
	s.wg.Add(1)
	go s.sweepSessions()
	return s, nil
}

// Serve accepts connections on l until l fails or the server is closed.
// It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors or similar: wait, as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		s.accept(nc)
	}
}

// accept admits a connection unless its address has too many already.
func (s *Server) accept(nc net.Conn) {
	ip := remoteIP(nc)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.cfg.MaxClientCnxns > 0 && s.perIP[ip] >= s.cfg.MaxClientCnxns {
		n := s.perIP[ip]
		s.mu.Unlock()
		s.log.Warn("too many connections from this address; closing the new one", "addr", ip, "open", n, "max", s.cfg.MaxClientCnxns)
		nc.Close()
		return
	}
	s.perIP[ip]++
	c := newConn(s, nc, ip)
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c.serve()
	}()
}

// forget removes a closed connection from the server's tables.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
		delete(s.perIP, c.ip)
	}
	if c.ready.Load() && s.sessions[c.session] == c {
		delete(s.sessions, c.session)
	}
}

// attach makes c the owner of its session. ZooKeeper lets the newest
// connection of a session win: the older one is closed, so that two
// connections never interleave one session's requests.
func (s *Server) attach(c *conn) bool {
	s.mu.Lock()
	// A connection closed meanwhile has already been forgotten; it must
	// not take the session.
	if s.closed || c.closed.Load() {
		s.mu.Unlock()
		return false
	}
	old := s.sessions[c.session]
	s.sessions[c.session] = c
	s.mu.Unlock()
	if old != nil && old != c {
		old.log.Info("session moved to a newer connection; closing this one", "to", c.nc.RemoteAddr().String())
		old.close()
	}
	return true
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every client connection and waits for their
// goroutines. Sessions are left alone: they outlive a restart and expire
// on their own, as ZooKeeper's do.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	var conns []*conn
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
	s.wg.Wait()
	return nil
}

// sweepSessions closes the connections whose session the replica expired.
// ZooKeeper closes them as part of the closeSession; here the replica
// expires sessions through the log without knowing about connections.
func (s *Server) sweepSessions() {
	defer s.wg.Done()
	t := time.NewTicker(sweepInterval(s.cfg.TickTime))
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.mu.Lock()
		attached := make(map[int64]*conn, len(s.sessions))
		for id, c := range s.sessions {
			if !c.endingSession.Load() {
				attached[id] = c
			}
		}
		s.mu.Unlock()
		if len(attached) == 0 {
			continue
		}
		var gone []*conn
		// A replica that enters or leaves read-only mode drops the
		// sessions of the other kind, as ZooKeeper restarts its server
		// in the new mode: clients reconnect and get what it serves now.
		ro := s.readOnly()
		for _, c := range attached {
			if c.readOnly != ro {
				c.log.Info("read-only mode changed; closing the connection", "read-only", ro)
				c.close()
				delete(attached, c.session)
			} else if c.local {
				delete(attached, c.session) // in no tree
			}
		}
		s.rep.Read(func(t *tree.Tree) {
			for id, c := range attached {
				if _, ok := t.Session(id); !ok {
					gone = append(gone, c)
				}
			}
		})
		for _, c := range gone {
			c.log.Info("session expired; closing its connection")
			c.close()
		}
	}
}

func sweepInterval(tick time.Duration) time.Duration {
	return min(max(tick/10, 10*time.Millisecond), 200*time.Millisecond)
}

// negotiateTimeout clamps a requested session timeout into the server's
// bounds, as ZooKeeperServer.processConnectRequest does.
func (s *Server) negotiateTimeout(ms int32) time.Duration {
	d := time.Duration(ms) * time.Millisecond
	return min(max(d, s.cfg.MinSessionTimeout), s.cfg.MaxSessionTimeout)
}

// mode is the server's role as srvr and mntr report it: standalone for a
// lone replica, leader, follower or observer in an ensemble.
func (s *Server) mode() string {
	return s.rep.Mode()
}

// readOnly reports whether the server only serves reads, as a partitioned
// ZooKeeper server in read-only mode does: without a leader, writes cannot
// commit. A standalone replica always has its quorum.
func (s *Server) readOnly() bool {
	return !s.rep.HasQuorum()
}

func remoteIP(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if v4 := a.IP.To4(); v4 != nil {
			return v4.String()
		}
		return a.IP.String()
	}
	host, _, err := net.SplitHostPort(nc.RemoteAddr().String())
	if err != nil {
		return nc.RemoteAddr().String()
	}
	return host
}

// logDir is where the Raft log lives, as conf and dirs report it.
func (s *Server) logDir() string {
	if s.cfg.DataLogDir != "" {
		return s.cfg.DataLogDir
	}
	return s.cfg.DataDir
}
