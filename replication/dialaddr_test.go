package replication

import (
	"context"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"zkfs/tree"
)

// linkProxy forwards one replica's connections to one peer port, so a
// test can cut exactly that replica's route to the peer.
type linkProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	cut   bool
	conns []net.Conn
}

func newLinkProxy(t *testing.T, target string) *linkProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &linkProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setCut(true) })
	go p.serve()
	return p
}

func (p *linkProxy) addr() string { return p.ln.Addr().String() }

func (p *linkProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.cut {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		go func() { io.Copy(up, c); up.Close() }()
		go func() { io.Copy(c, up); c.Close() }()
	}
}

// setCut refuses new connections and drops the open ones, or lets them
// through again.
func (p *linkProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// TestPeersDialedAtLocalAddresses gives replica 1 its own routes to the
// others, through proxies, while replicas 2 and 3 list each other
// directly. Once the leader (2 or 3) has published /zookeeper/config with
// its own view, replica 1 must still reach its peers only through its
// routes: cutting them isolates it, Raft and forwarded writes alike.
func TestPeersDialedAtLocalAddresses(t *testing.T) {
	addrs := freeAddrs(t, 6)
	var peers []Peer
	for i := 0; i < 3; i++ {
		peers = append(peers, Peer{ID: string(rune('1' + i)), RaftAddr: addrs[2*i], RPCAddr: addrs[2*i+1]})
	}
	var proxies []*linkProxy
	local := append([]Peer(nil), peers...)
	for i := 1; i < 3; i++ {
		raftP, rpcP := newLinkProxy(t, peers[i].RaftAddr), newLinkProxy(t, peers[i].RPCAddr)
		proxies = append(proxies, raftP, rpcP)
		local[i].RaftAddr, local[i].RPCAddr = raftP.addr(), rpcP.addr()
	}
	e := &ensemble{t: t, peers: peers, reps: make([]*Replica, 3), mod: func(i int, c *Config) {
		c.WriteTimeout = 2 * time.Second
		if i == 0 {
			c.Peers = local
		}
	}}
	for i := 0; i < 3; i++ {
		e.dirs = append(e.dirs, t.TempDir())
	}
	t.Cleanup(func() {
		for i := range e.reps {
			e.stop(i)
		}
	})
	// Replicas 2 and 3 elect a leader and publish the configuration
	// before replica 1 starts.
	e.start(1)
	e.start(2)
	e.ready(1)
	e.ready(2)
	waitConfigPublished(t, e.reps[1])
	e.start(0)
	e.ready(0)
	r1 := e.reps[0]
	propose(t, r1, tree.Create{Path: "/through-proxies", ACL: tree.OpenACL})
	if r1.IsLeader() {
		t.Fatal("replica 1 leads; the test needs the leader among 2 and 3")
	}
	if p, _ := r1.members.peer("2"); p.RPCAddr != local[1].RPCAddr {
		t.Fatalf("replica 1 reaches server 2's RPC port at %s, want its own route %s", p.RPCAddr, local[1].RPCAddr)
	}

	for _, p := range proxies {
		p.setCut(true)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	res, err := r1.Propose(ctx, 0, tree.Identity{}, tree.Create{Path: "/isolated", ACL: tree.OpenACL})
	cancel()
	if err == nil && res.Err == nil {
		t.Fatal("a write through replica 1 succeeded with every route of replica 1 cut: it reached a peer at the leader's addresses")
	}
	// The other two still make progress.
	propose(t, e.reps[1], tree.Create{Path: "/majority", ACL: tree.OpenACL})

	for _, p := range proxies {
		p.setCut(false)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := r1.Sync(ctx)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("replica 1 did not rejoin after its routes healed: %v", err)
		}
	}
	if _, _, err := getData(r1, "/majority"); err != nil {
		t.Errorf("replica 1 after healing: %v", err)
	}
}

func waitConfigPublished(t *testing.T, r *Replica) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var data []byte
		r.Read(func(tr *tree.Tree) { data, _, _ = tr.Get(ConfigPath) })
		if len(data) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no /zookeeper/config published")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
