package zkserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/replication"
	"zkfs/wire"
)

// testServer is a real replica in a temporary directory with a server on a
// loopback port.
type testServer struct {
	rep  *replication.Replica
	srv  *Server
	addr string
}

// testLogger is silent unless ZKFS_TEST_LOG is set, so that failures can be
// investigated without drowning every run in logs.
func testLogger() *slog.Logger {
	if os.Getenv("ZKFS_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// startTestServer opens a replica and serves it on 127.0.0.1:0; mod may
// change the configuration. Everything is closed when t ends.
func startTestServer(t testing.TB, mod func(*ServerConfig)) *testServer {
	t.Helper()
	rep, err := replication.Open(replication.Config{DataDir: t.TempDir(), Logger: testLogger(), SessionTick: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rep.WaitReady(ctx); err != nil {
		rep.Close()
		t.Fatal(err)
	}
	cfg := ServerConfig{Replica: rep, Logger: testLogger(), FourLetterWords: []string{"*"}}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		rep.Close()
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() {
		srv.Close()
		rep.Close()
	})
	return &testServer{rep: rep, srv: srv, addr: l.Addr().String()}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// zkConnect opens a go-zookeeper session and waits for it.
func zkConnect(t testing.TB, addr string, timeout time.Duration) (*zk.Conn, <-chan zk.Event) {
	t.Helper()
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				return c, ev
			}
		case <-deadline:
			t.Fatalf("no session with %s", addr)
		}
	}
}

// rawClient speaks the protocol by hand with the package's own records,
// for what go-zookeeper cannot send or does not show: persistent watches,
// reply zxids, pipelining, malformed packets.
type rawClient struct {
	t       testing.TB
	nc      net.Conn
	fr      *wire.FrameReader
	xid     int32
	resp    wire.ConnectResponse
	events  []wire.WatcherEvent
	replies []wire.ReplyHeader // every reply header, in arrival order
	// stream records replies and events in arrival order: events as
	// "event:<type>:<path>", replies as "reply:<xid>".
	stream []string
}

// dialRaw connects and performs the handshake with a new session.
func dialRaw(t testing.TB, addr string, timeoutMs int32) *rawClient {
	t.Helper()
	c := dialRawNoHandshake(t, addr)
	c.handshake(wire.ConnectRequest{TimeOut: timeoutMs, Passwd: make([]byte, 16)})
	if c.resp.SessionID == 0 {
		t.Fatalf("handshake: no session: %+v", c.resp)
	}
	return c
}

func dialRawNoHandshake(t testing.TB, addr string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rawClient{t: t, nc: nc, fr: wire.NewFrameReader(nc, 64<<20)}
}

// handshake sends req and reads the ConnectResponse into c.resp.
func (c *rawClient) handshake(req wire.ConnectRequest) error {
	c.t.Helper()
	c.writeRaw(wire.AppendFrame(nil, &req))
	pkt, err := c.next()
	if err != nil {
		return err
	}
	c.resp = wire.ConnectResponse{}
	return wire.Unmarshal(pkt, &c.resp)
}

func (c *rawClient) next() ([]byte, error) {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	return c.fr.Next()
}

func (c *rawClient) writeRaw(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// send writes a request and returns its xid.
func (c *rawClient) send(op wire.OpCode, req wire.Record) int32 {
	c.t.Helper()
	c.xid++
	xid := c.xid
	switch op {
	case wire.OpPing:
		xid = wire.XidPing
	case wire.OpAuth:
		xid = wire.XidAuth
	}
	c.writeRaw(wire.AppendFrame(nil, &wire.RequestHeader{Xid: xid, Type: op}, req))
	return xid
}

// recv reads the next reply, recording notifications on the way.
func (c *rawClient) recv() (wire.ReplyHeader, []byte, error) {
	for {
		pkt, err := c.next()
		if err != nil {
			return wire.ReplyHeader{}, nil, err
		}
		var h wire.ReplyHeader
		d := wire.NewDecoder(pkt)
		if err := h.Decode(d); err != nil {
			return h, nil, err
		}
		body := pkt[16:]
		if h.Xid == wire.XidNotification {
			var ev wire.WatcherEvent
			if err := wire.Unmarshal(body, &ev); err != nil {
				return h, nil, err
			}
			if h.Zxid != -1 {
				return h, nil, fmt.Errorf("notification with zxid %d, want -1", h.Zxid)
			}
			c.events = append(c.events, ev)
			c.stream = append(c.stream, fmt.Sprintf("event:%v:%s", ev.Type, ev.Path))
			continue
		}
		c.replies = append(c.replies, h)
		c.stream = append(c.stream, fmt.Sprintf("reply:%d", h.Xid))
		return h, body, nil
	}
}

// call sends a request and waits for its reply, decoding the body into
// resp when the reply is a success.
func (c *rawClient) call(op wire.OpCode, req wire.Record, resp wire.Record) (wire.ReplyHeader, error) {
	c.t.Helper()
	xid := c.send(op, req)
	h, body, err := c.recv()
	if err != nil {
		return h, err
	}
	if h.Xid != xid {
		return h, fmt.Errorf("reply xid %d, want %d", h.Xid, xid)
	}
	if h.Err != 0 {
		return h, wire.ErrorOf(h.Err)
	}
	if resp != nil {
		if err := wire.Unmarshal(body, resp); err != nil {
			return h, err
		}
	}
	return h, nil
}

// mustCall is call that fails the test on any error.
func (c *rawClient) mustCall(op wire.OpCode, req wire.Record, resp wire.Record) wire.ReplyHeader {
	c.t.Helper()
	h, err := c.call(op, req, resp)
	if err != nil {
		c.t.Fatalf("%v %+v: %v", op, req, err)
	}
	return h
}

// waitEvents reads (pinging to provoke traffic) until n events arrived.
func (c *rawClient) waitEvents(n int) []wire.WatcherEvent {
	c.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(c.events) < n {
		if time.Now().After(deadline) {
			c.t.Fatalf("got %d events %+v, want %d", len(c.events), c.events, n)
		}
		c.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	}
	return c.events
}

// expectClosed waits for the server to close the connection.
func (c *rawClient) expectClosed() error {
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, 4096)
	for {
		_, err := c.nc.Read(buf)
		if errors.Is(err, io.EOF) {
			return nil
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return errors.New("connection still open after 10s")
		}
		if err != nil {
			return nil // reset by peer counts as closed
		}
	}
}

// openACL is world:anyone with every permission.
func openACL() []wire.ACL {
	return []wire.ACL{{Perms: 31, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
}
