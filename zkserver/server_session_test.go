package zkserver

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

// shortSessions makes timeouts of a few hundred milliseconds possible.
func shortSessions(cfg *ServerConfig) {
	cfg.TickTime = 50 * time.Millisecond // sessions of 100 ms to 1 s
}

func TestSessionTimeoutNegotiation(t *testing.T) {
	ts := startTestServer(t, shortSessions)
	for _, tc := range []struct{ asked, want int32 }{{10, 100}, {300, 300}, {60000, 1000}} {
		c := dialRaw(t, ts.addr, tc.asked)
		if c.resp.TimeOut != tc.want || len(c.resp.Passwd) != 16 || c.resp.ReadOnly {
			t.Errorf("asked %d ms: %+v, want timeout %d", tc.asked, c.resp, tc.want)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	ts := startTestServer(t, shortSessions)
	a := dialRaw(t, ts.addr, 300)
	a.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/eph", ACL: openACL(), Mode: tree.ModeEphemeral}, nil)
	other, _ := zkConnect(t, ts.addr, time.Second)
	if ok, _, _ := other.Exists("/eph"); !ok {
		t.Fatal("ephemeral missing while its session lives")
	}
	// a goes quiet: its session expires, its node goes, and the server
	// closes its connection.
	if err := a.expectClosed(); err != nil {
		t.Fatalf("connection of an expired session: %v", err)
	}
	if ok, _, err := other.Exists("/eph"); ok || err != nil {
		t.Errorf("after expiry, exists /eph = %v, %v", ok, err)
	}
	// Resuming the expired session is refused the way ZooKeeper refuses
	// it: a zero timeout and id, then the connection closes.
	b := dialRawNoHandshake(t, ts.addr)
	if err := b.handshake(wire.ConnectRequest{TimeOut: 300, SessionID: a.resp.SessionID, Passwd: a.resp.Passwd}); err != nil {
		t.Fatal(err)
	}
	if b.resp.TimeOut != 0 || b.resp.SessionID != 0 || !bytes.Equal(b.resp.Passwd, make([]byte, 16)) {
		t.Errorf("resume of an expired session: %+v", b.resp)
	}
	if err := b.expectClosed(); err != nil {
		t.Error(err)
	}
}

// TestSessionExpiryGoZookeeper checks what a real client sees when its
// session expires while it cannot reach the server: StateExpired.
func TestSessionExpiryGoZookeeper(t *testing.T) {
	ts := startTestServer(t, shortSessions)
	c, ev := zkConnect(t, ts.addr, 500*time.Millisecond)
	id := c.SessionID()
	// Forget the session behind the client's back, as if it had expired
	// while the client was partitioned.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := ts.rep.CloseSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateExpired {
				return
			}
		case <-deadline:
			t.Fatal("go-zookeeper never saw its session expire")
		}
	}
}

func TestSessionResumeAndMove(t *testing.T) {
	ts := startTestServer(t, nil)
	a := dialRaw(t, ts.addr, 10000)
	a.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/mine", ACL: openACL(), Mode: tree.ModeEphemeral}, nil)

	// A wrong password is refused and does not disturb the owner.
	bad := dialRawNoHandshake(t, ts.addr)
	pw := append([]byte(nil), a.resp.Passwd...)
	pw[0] ^= 0xff
	if err := bad.handshake(wire.ConnectRequest{TimeOut: 10000, SessionID: a.resp.SessionID, Passwd: pw}); err != nil {
		t.Fatal(err)
	}
	if bad.resp.TimeOut != 0 || bad.resp.SessionID != 0 {
		t.Errorf("wrong password accepted: %+v", bad.resp)
	}
	if err := bad.expectClosed(); err != nil {
		t.Error(err)
	}
	a.mustCall(wire.OpPing, &wire.PingRequest{}, nil)

	// The right password moves the session; the older connection closes.
	b := dialRawNoHandshake(t, ts.addr)
	if err := b.handshake(wire.ConnectRequest{TimeOut: 10000, SessionID: a.resp.SessionID, Passwd: a.resp.Passwd}); err != nil {
		t.Fatal(err)
	}
	if b.resp.SessionID != a.resp.SessionID || b.resp.TimeOut != 10000 || !bytes.Equal(b.resp.Passwd, a.resp.Passwd) {
		t.Fatalf("resume: %+v", b.resp)
	}
	if err := a.expectClosed(); err != nil {
		t.Errorf("older connection of a moved session: %v", err)
	}
	var e wire.GetEphemeralsResponse
	b.mustCall(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/"}, &e)
	if len(e.Ephemerals) != 1 || e.Ephemerals[0] != "/mine" {
		t.Errorf("ephemerals after the move: %q", e.Ephemerals)
	}
}

// TestSessionReconnectGoZookeeper drops go-zookeeper's connection from the
// server side: the client dials again, keeps its session, ephemeral node
// and watches.
func TestSessionReconnectGoZookeeper(t *testing.T) {
	ts := startTestServer(t, nil)
	c, ev := zkConnect(t, ts.addr, 10*time.Second)
	id := c.SessionID()
	if _, err := c.Create("/keep", []byte("1"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, w, err := c.GetW("/keep")
	if err != nil {
		t.Fatal(err)
	}
	ts.srv.mu.Lock()
	sc := ts.srv.sessions[id]
	ts.srv.mu.Unlock()
	if sc == nil {
		t.Fatal("no connection holds the session")
	}
	sc.close()
	waitState(t, ev, zk.StateDisconnected)
	waitState(t, ev, zk.StateHasSession)
	if c.SessionID() != id {
		t.Errorf("session changed on reconnect: %x -> %x", id, c.SessionID())
	}
	other, _ := zkConnect(t, ts.addr, 10*time.Second)
	if _, err := other.Set("/keep", []byte("2"), -1); err != nil {
		t.Fatal(err)
	}
	select {
	case e := <-w:
		if e.Type != zk.EventNodeDataChanged || e.Path != "/keep" {
			t.Errorf("re-armed watch fired %+v", e)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch not re-armed after reconnect")
	}
}

func TestHandshakeRefusals(t *testing.T) {
	ts := startTestServer(t, nil)
	// A client that saw a later zxid elsewhere must not go back in time.
	c := dialRawNoHandshake(t, ts.addr)
	c.writeRaw(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 10000, LastZxidSeen: 1 << 40, Passwd: make([]byte, 16)}))
	if err := c.expectClosed(); err != nil {
		t.Errorf("client ahead of the server: %v", err)
	}
	// A readOnly-capable client still gets a read-write session.
	r := dialRawNoHandshake(t, ts.addr)
	if err := r.handshake(wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), ReadOnly: true}); err != nil {
		t.Fatal(err)
	}
	if r.resp.SessionID == 0 || r.resp.ReadOnly {
		t.Errorf("readOnly client: %+v", r.resp)
	}
	// Clients older than 3.4 send no readOnly byte and must get none back.
	o := dialRawNoHandshake(t, ts.addr)
	o.writeRaw(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16), OmitReadOnly: true}))
	pkt, err := o.next()
	if err != nil {
		t.Fatal(err)
	}
	if len(pkt) != 4+4+8+4+16 {
		t.Errorf("response to a client without readOnly is %d bytes, want 36", len(pkt))
	}
}

func waitState(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v event", want)
		}
	}
}

// TestCloseSessionReplyArrives: the client that closes its session gets
// the reply before the connection closes, as on ZooKeeper, even when the
// session sweeper notices the session gone in between. A sweep every 10 ms
// hits that window in a few connections per thousand.
func TestCloseSessionReplyArrives(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.TickTime = 100 * time.Millisecond })
	const n = 1000
	lost := 0
	for i := 0; i < n; i++ {
		c := dialRaw(t, ts.addr, 1000)
		if _, err := c.call(wire.OpCloseSession, &wire.CloseSessionRequest{}, nil); err != nil {
			lost++
		}
		c.nc.Close()
	}
	if lost > 0 {
		t.Errorf("%d of %d closeSession replies lost", lost, n)
	}
}
