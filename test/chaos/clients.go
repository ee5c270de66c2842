package chaos

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// clientRoute names the link between one client and one replica.
type clientRoute struct{ client, replica int }

// clientNet holds a proxy per client and replica, so that the nemesis can
// cut one client off its replica and leave the others alone.
type clientNet struct {
	c *cluster

	mu     sync.Mutex
	routes map[clientRoute]*proxy
}

func newClientNet(c *cluster) *clientNet {
	return &clientNet{c: c, routes: map[clientRoute]*proxy{}}
}

// route returns (creating it on first use) the proxy from a client to a
// replica's client port.
func (n *clientNet) route(client int, r *replica) (*proxy, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := clientRoute{client, r.id}
	if p, ok := n.routes[k]; ok {
		return p, nil
	}
	p, err := newProxy(fmt.Sprintf("client %d->%d", client, r.id), r.Addr())
	if err != nil {
		return nil, err
	}
	n.routes[k] = p
	return p, nil
}

// all returns every client proxy.
func (n *clientNet) all() map[clientRoute]*proxy {
	n.mu.Lock()
	defer n.mu.Unlock()
	out := make(map[clientRoute]*proxy, len(n.routes))
	for k, p := range n.routes {
		out[k] = p
	}
	return out
}

func (n *clientNet) heal(reset bool) {
	for _, p := range n.all() {
		p.set(linkUp, reset)
	}
}

func (n *clientNet) close() {
	for _, p := range n.all() {
		p.close()
	}
}

// quietLogger silences go-zookeeper, which logs every reconnection.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// zkConn is one go-zookeeper connection of a client, pinned to one
// replica: a client that reconnects comes back to the same replica, so
// its view of the tree (and a read after its sync) never depends on which
// replica go-zookeeper happened to pick.
type zkConn struct {
	*zk.Conn
	replica int

	mu      sync.Mutex
	expired bool
	onEvent func(zk.Event)
}

// dialZK connects a client to a replica through its proxy and waits for
// a session.
func dialZK(n *clientNet, client int, r *replica, sessionTimeout time.Duration, onEvent func(zk.Event)) (*zkConn, error) {
	return connectZK(n, client, r, sessionTimeout, onEvent, nil)
}

// errOneConnection refuses the reconnections of a connection that may
// make only one.
var errOneConnection = errors.New("chaos: this client makes one connection per session")

// dialZKOnce is dialZK for a client that holds watches: its connection
// never reconnects, and a client that loses it starts a new session.
//
// go-zookeeper v1.0.4 (the newest) sets a reconnected session's watches
// again from one goroutine while its receiving goroutine already updates
// the last zxid that the same request carries: a data race inside the
// library, which the race detector reports. A connection that never
// reconnects never sets watches again.
func dialZKOnce(n *clientNet, client int, r *replica, sessionTimeout time.Duration, onEvent func(zk.Event)) (*zkConn, error) {
	var dialed atomic.Bool
	dial := func(network, addr string, timeout time.Duration) (net.Conn, error) {
		if dialed.Swap(true) {
			return nil, errOneConnection
		}
		return net.DialTimeout(network, addr, timeout)
	}
	return connectZK(n, client, r, sessionTimeout, onEvent, dial)
}

func connectZK(n *clientNet, client int, r *replica, sessionTimeout time.Duration, onEvent func(zk.Event), dial zk.Dialer) (*zkConn, error) {
	p, err := n.route(client, r)
	if err != nil {
		return nil, err
	}
	zc := &zkConn{replica: r.id, onEvent: onEvent}
	if dial == nil {
		dial = net.DialTimeout
	}
	conn, _, err := zk.Connect([]string{p.Addr()}, sessionTimeout,
		zk.WithLogger(quietLogger{}), zk.WithEventCallback(zc.event), zk.WithDialer(dial))
	if err != nil {
		return nil, err
	}
	zc.Conn = conn
	deadline := time.Now().Add(10 * time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("no session with replica %d after 10s", r.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return zc, nil
}

// event runs on go-zookeeper's receiving goroutine, in the order of the
// connection's packets.
func (zc *zkConn) event(e zk.Event) {
	zc.mu.Lock()
	if e.Type == zk.EventSession && e.State == zk.StateExpired {
		zc.expired = true
	}
	cb := zc.onEvent
	zc.mu.Unlock()
	if cb != nil {
		cb(e)
	}
}

// isExpired reports whether go-zookeeper has seen the session expire.
func (zc *zkConn) isExpired() bool {
	zc.mu.Lock()
	defer zc.mu.Unlock()
	return zc.expired
}

// within runs f, and if it has not returned after d closes the connection,
// which makes go-zookeeper fail every pending request at once, and waits
// for f. It reports whether it had to close.
func within(d time.Duration, zc *zkConn, f func()) bool {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
		return false
	case <-time.After(d):
		zc.Close()
		<-done
		return true
	}
}

// definite reports whether a ZooKeeper error proves that a write did not
// take effect: the server checked it against the tree and refused.
func definite(err error) bool {
	return errors.Is(err, zk.ErrBadVersion) || errors.Is(err, zk.ErrNoNode) ||
		errors.Is(err, zk.ErrNodeExists) || errors.Is(err, zk.ErrNotEmpty) ||
		errors.Is(err, zk.ErrBadArguments) || errors.Is(err, zk.ErrNoChildrenForEphemerals)
}

// outcomeOf classifies a write's error.
func outcomeOf(err error) Outcome {
	switch {
	case err == nil:
		return OK
	case definite(err):
		return Fail
	default:
		return Unknown
	}
}

// pick returns a random replica.
func (c *cluster) pick(rng *rand.Rand) *replica {
	return c.nodes[rng.Intn(len(c.nodes))]
}

// stopped reports whether the stop channel is closed.
func stopped(stop <-chan struct{}) bool {
	select {
	case <-stop:
		return true
	default:
		return false
	}
}

// sleep waits d or until stop, and reports whether it was stopped.
func sleep(stop <-chan struct{}, d time.Duration) bool {
	select {
	case <-stop:
		return true
	case <-time.After(d):
		return false
	}
}
