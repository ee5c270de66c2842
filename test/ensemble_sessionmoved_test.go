package test

import (
	"net"
	"testing"
	"time"

	"zkfs/tree"
	"zkfs/wire"
)

// wireConn is a bare ZooKeeper client connection: the test needs two
// connections to one session, which no client library gives.
type wireConn struct {
	t   *testing.T
	nc  net.Conn
	fr  *wire.FrameReader
	xid int32
	// zxid is the last zxid seen, which a resuming client sends so that
	// a replica that is behind turns it away until it catches up.
	zxid int64
	wire.ConnectResponse
}

// dialWire opens a new session, or resumes session from a client that has
// seen zxid, retrying while the replica turns the client away.
func dialWire(t *testing.T, addr string, session int64, passwd []byte, zxid int64) *wireConn {
	t.Helper()
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	var err error
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		var nc net.Conn
		nc, err = net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			continue
		}
		c := &wireConn{t: t, nc: nc, fr: wire.NewFrameReader(nc, 0), zxid: zxid}
		nc.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err = nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{ProtocolVersion: wire.ProtocolVersion,
			LastZxidSeen: zxid, TimeOut: 10000, SessionID: session, Passwd: passwd})); err == nil {
			var pkt []byte
			if pkt, err = c.fr.Next(); err == nil {
				err = wire.Unmarshal(pkt, &c.ConnectResponse)
			}
		}
		if err == nil && c.SessionID != 0 {
			t.Cleanup(func() { nc.Close() })
			return c
		}
		nc.Close()
	}
	t.Fatalf("connect to %s: %v", addr, err)
	return nil
}

// create sends a create and returns the reply's error code.
func (c *wireConn) create(path string) int32 {
	c.t.Helper()
	c.xid++
	c.nc.SetDeadline(time.Now().Add(20 * time.Second))
	req := &wire.CreateRequest{Path: path, ACL: []wire.ACL{{Perms: tree.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}}
	if _, err := c.nc.Write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: c.xid, Type: wire.OpCreate}, req)); err != nil {
		c.t.Fatal(err)
	}
	for {
		pkt, err := c.fr.Next()
		if err != nil {
			c.t.Fatalf("create %s: %v", path, err)
		}
		var h wire.ReplyHeader
		if err := h.Decode(wire.NewDecoder(pkt)); err != nil {
			c.t.Fatal(err)
		}
		c.zxid = max(c.zxid, h.Zxid)
		if h.Xid == c.xid {
			return h.Err
		}
	}
}

// TestEnsembleSessionMoved opens a session on one follower, resumes it on
// another, and writes through both connections: the old one's write gets
// SessionMoved and is not applied, the new one's succeeds. ZooKeeper does
// the same for the requests a client left behind when it moved.
func TestEnsembleSessionMoved(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	leader := e.leader()
	var fs []*member
	for _, m := range e.members {
		if m != leader {
			fs = append(fs, m)
		}
	}
	old := dialWire(t, fs[0].Addr(), 0, nil, 0)
	if code := old.create("/moved-before"); code != tree.CodeOK {
		t.Fatalf("create through the first connection: code %d", code)
	}
	moved := dialWire(t, fs[1].Addr(), old.SessionID, old.Passwd, old.zxid)
	if moved.SessionID != old.SessionID {
		t.Fatalf("resumed session %#x, want %#x", moved.SessionID, old.SessionID)
	}
	// The new connection's first write reaches the leader behind its
	// claim, on the same stream; the old one's after that is refused.
	if code := moved.create("/moved-after"); code != tree.CodeOK {
		t.Errorf("create through the new connection: code %d", code)
	}
	if code := old.create("/moved-lost"); code != tree.CodeSessionMoved {
		t.Errorf("create through the old connection after the move: code %d, want SessionMoved (%d)", code, tree.CodeSessionMoved)
	}
	// A session on the leader moves to a follower, and the old
	// connection writes the moment the follower has answered: the
	// follower answers only once the leader knows of the move, so the
	// write is refused (it used to race the follower's claim to the
	// leader and win).
	onLeader := dialWire(t, leader.Addr(), 0, nil, 0)
	if code := onLeader.create("/leader-before"); code != tree.CodeOK {
		t.Fatalf("create through the leader: code %d", code)
	}
	dialWire(t, fs[0].Addr(), onLeader.SessionID, onLeader.Passwd, onLeader.zxid)
	if code := onLeader.create("/leader-lost"); code != tree.CodeSessionMoved {
		t.Errorf("create through the leader's old connection right after the move: code %d, want SessionMoved (%d)", code, tree.CodeSessionMoved)
	}
	c := connect(t, leader.Addr(), 10*time.Second)
	if _, err := c.Sync("/"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"/moved-lost", "/leader-lost"} {
		if ok, _, err := c.Exists(p); err != nil || ok {
			t.Errorf("the refused create of %s was applied: %v %v", p, ok, err)
		}
	}
}
