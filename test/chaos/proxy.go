package chaos

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// linkState is what a proxy does with the traffic of its link.
type linkState int

const (
	// linkUp forwards everything.
	linkUp linkState = iota
	// linkDrop forwards nothing and answers nothing, like a cable pulled
	// or a firewall that drops packets: bytes already read are held, new
	// connections are accepted but go nowhere, and peers find out only
	// by their own timeouts.
	linkDrop
	// linkReject resets every connection at once and every new one, like
	// a firewall that answers with RST.
	linkReject
)

func (s linkState) String() string {
	return [...]string{"up", "drop", "reject"}[s]
}

// proxy is one direction of one link: a TCP forwarder that the nemesis
// controls. A replica or client that dials the proxy's address reaches the
// target only while the link is up. One proxy per directed link, so that
// the nemesis can cut exactly the routes it means to.
type proxy struct {
	name   string
	target string
	ln     net.Listener

	mu     sync.Mutex
	state  linkState
	change chan struct{} // closed and replaced on every state change
	conns  map[*proxyConn]struct{}
	closed bool

	forwarded atomic.Int64 // bytes, for the report
}

// proxyConn is one client connection and, once dialed, its upstream.
type proxyConn struct {
	down      net.Conn
	closeOnce sync.Once

	upMu   sync.Mutex // the nemesis closes while serve dials
	up     net.Conn
	closed bool
}

// setUp records the upstream; false means the connection was closed while
// it was dialed, and up has been closed too.
func (c *proxyConn) setUp(up net.Conn) bool {
	c.upMu.Lock()
	defer c.upMu.Unlock()
	if c.closed {
		up.Close()
		return false
	}
	c.up = up
	return true
}

func (c *proxyConn) close() {
	c.closeOnce.Do(func() {
		c.down.Close()
		c.upMu.Lock()
		c.closed = true
		up := c.up
		c.upMu.Unlock()
		if up != nil {
			up.Close()
		}
	})
}

// newProxy listens on a free loopback port and forwards to target.
func newProxy(name, target string) (*proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &proxy{name: name, target: target, ln: ln, change: make(chan struct{}), conns: map[*proxyConn]struct{}{}}
	go p.accept()
	return p, nil
}

// Addr is where to dial to use the link.
func (p *proxy) Addr() string { return p.ln.Addr().String() }

// Port is the proxy's port.
func (p *proxy) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// set changes the link's state. Going up from drop with reset also closes
// the connections that were held, as a partition long enough for TCP to
// give up would; without reset they carry on, their held bytes delivered
// late but in order.
func (p *proxy) set(s linkState, reset bool) {
	p.mu.Lock()
	old := p.state
	p.state = s
	close(p.change)
	p.change = make(chan struct{})
	var victims []*proxyConn
	if s == linkReject || (s == linkUp && old == linkDrop && reset) {
		for c := range p.conns {
			victims = append(victims, c)
		}
		clear(p.conns)
	}
	p.mu.Unlock()
	for _, c := range victims {
		c.close()
	}
}

// get returns the state and a channel closed at the next change.
func (p *proxy) get() (linkState, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state, p.change
}

// close stops the proxy and every connection through it.
func (p *proxy) close() {
	p.ln.Close()
	p.mu.Lock()
	p.closed = true
	var victims []*proxyConn
	for c := range p.conns {
		victims = append(victims, c)
	}
	clear(p.conns)
	close(p.change)
	p.change = make(chan struct{})
	p.mu.Unlock()
	for _, c := range victims {
		c.close()
	}
}

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.serve(c)
	}
}

// waitUp blocks while the link drops traffic; it reports false when the
// connection must go (rejected, closed, or dropped on healing).
func (p *proxy) waitUp(pc *proxyConn) bool {
	for {
		p.mu.Lock()
		state, ch, closed := p.state, p.change, p.closed
		_, live := p.conns[pc]
		p.mu.Unlock()
		if closed || !live || state == linkReject {
			return false
		}
		if state == linkUp {
			return true
		}
		<-ch
	}
}

func (p *proxy) serve(down net.Conn) {
	pc := &proxyConn{down: down}
	p.mu.Lock()
	if p.closed || p.state == linkReject {
		p.mu.Unlock()
		down.Close()
		return
	}
	p.conns[pc] = struct{}{}
	p.mu.Unlock()
	defer p.forget(pc)
	// A dropped link swallows the connection attempt: the dialer sees a
	// connection that never answers.
	if !p.waitUp(pc) {
		pc.close()
		return
	}
	up, err := net.DialTimeout("tcp", p.target, 2*time.Second)
	if err != nil {
		// The target is down: the dialer sees the connection close, as
		// it would see a refused connection.
		pc.close()
		return
	}
	if !pc.setUp(up) {
		return
	}
	p.mu.Lock()
	_, live := p.conns[pc]
	p.mu.Unlock()
	if !live {
		pc.close()
		return
	}
	done := make(chan struct{}, 2)
	go func() { p.pump(pc, up, down); done <- struct{}{} }()
	go func() { p.pump(pc, down, up); done <- struct{}{} }()
	<-done
	pc.close()
	<-done
}

// pump copies src to dst, holding what it read while the link drops.
func (p *proxy) pump(pc *proxyConn, dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if !p.waitUp(pc) {
				return
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
			p.forwarded.Add(int64(n))
		}
		if err != nil {
			// Either side closing ends both: neither Raft, the RPC port
			// nor ZooKeeper's protocol half-closes.
			return
		}
	}
}

func (p *proxy) forget(pc *proxyConn) {
	p.mu.Lock()
	delete(p.conns, pc)
	p.mu.Unlock()
}
