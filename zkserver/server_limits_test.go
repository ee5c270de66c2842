package zkserver

import (
	"encoding/binary"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"zkfs/tree"
	"zkfs/wire"

	"github.com/go-zookeeper/zk"
)

// TestBadPackets sends what a broken or hostile client might. Each bad
// connection is closed or answered with an error code; the server and its
// other clients carry on.
func TestBadPackets(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.MaxPacket = 4096 })
	good, _ := zkConnect(t, ts.addr, 10*time.Second)
	if _, err := good.Create("/ok", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	frame := func(n uint32, body []byte) []byte {
		b := binary.BigEndian.AppendUint32(nil, n)
		return append(b, body...)
	}
	garbage := make([]byte, 200)
	for i := range garbage {
		garbage[i] = byte(rand.IntN(256))
	}
	closing := map[string][]byte{
		"garbage connect request":   frame(200, garbage),
		"huge length":               frame(0x7fffffff, nil),
		"negative length":           frame(0xfffffff0, nil),
		"request before handshake":  wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/ok"}),
		"empty connect request":     frame(0, nil),
		"length over the max":       frame(5000, make([]byte, 5000)),
		"truncated connect request": frame(10, []byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}),
	}
	for name, b := range closing {
		c := dialRawNoHandshake(t, ts.addr)
		c.writeRaw(b)
		if err := c.expectClosed(); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A length prefix that promises more than arrives: the client gives
	// up and the server must simply forget the connection.
	c := dialRawNoHandshake(t, ts.addr)
	c.writeRaw(frame(1000, make([]byte, 10)))
	c.nc.Close()

	afterHandshake := map[string][]byte{
		"huge length":         frame(0x7fffffff, nil),
		"negative length":     frame(0x80000000, nil),
		"packet over the max": frame(4097, make([]byte, 4097)),
		"short header":        frame(4, []byte{0, 0, 0, 1}),
	}
	for name, b := range afterHandshake {
		c := dialRaw(t, ts.addr, 10000)
		c.writeRaw(b)
		if err := c.expectClosed(); err != nil {
			t.Errorf("%s after the handshake: %v", name, err)
		}
	}

	// A well-framed request whose body lies is answered MarshallingError,
	// as ZooKeeper answers it, and the connection goes on.
	c = dialRaw(t, ts.addr, 10000)
	body := wire.Marshal(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpGetData})
	body = binary.BigEndian.AppendUint32(body, 3000) // path length beyond the packet
	body = append(body, "/ok"...)
	c.writeRaw(frame(uint32(len(body)), body))
	h, _, err := c.recv()
	if err != nil || h.Xid != 1 || h.Err != tree.CodeMarshallingError {
		t.Errorf("lying string length: %+v, %v", h, err)
	}
	if _, err := c.call(wire.OpCode(999), &wire.PingRequest{}, nil); wire.CodeOf(err) != tree.CodeUnimplemented {
		t.Errorf("unknown opcode: %v", err)
	}
	if _, err := c.call(wire.OpMulti, &wire.MultiRequest{Ops: []wire.MultiOp{{Op: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/ok"}}}}, nil); wire.CodeOf(err) != tree.CodeMarshallingError {
		t.Errorf("read inside a multi: %v", err)
	}
	c.mustCall(wire.OpExists, &wire.ExistsRequest{Path: "/ok"}, nil)

	// Data over the tree's limit but within the packet is BadArguments.
	big := startTestServer(t, nil)
	bc := dialRaw(t, big.addr, 10000)
	if _, err := bc.call(wire.OpCreate, &wire.CreateRequest{Path: "/big", Data: make([]byte, 1<<20+1), ACL: openACL()}, nil); wire.CodeOf(err) != tree.CodeBadArguments {
		t.Errorf("data over 1 MiB: %v", err)
	}

	if _, err := good.Set("/ok", []byte("still here"), -1); err != nil {
		t.Errorf("the well-behaved client was disturbed: %v", err)
	}
}

func TestMaxClientCnxns(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.MaxClientCnxns = 3 })
	var open []*rawClient
	for i := 0; i < 3; i++ {
		open = append(open, dialRaw(t, ts.addr, 10000))
	}
	extra := dialRawNoHandshake(t, ts.addr)
	extra.writeRaw(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	if err := extra.expectClosed(); err != nil {
		t.Errorf("fourth connection from one address: %v", err)
	}
	open[0].nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dialRawNoHandshake(t, ts.addr)
		if err := c.handshake(wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}); err == nil && c.resp.SessionID != 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no room after a connection closed")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBoundedOutstanding pipelines far more requests than the limit: the
// server stops reading while it catches up, and answers all of them.
func TestBoundedOutstanding(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.MaxOutstanding = 8 })
	c := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/b", ACL: openACL()}, nil)
	const n = 2000
	done := make(chan error, 1)
	go func() {
		var b []byte
		for i := 0; i < n; i++ {
			if i%2 == 0 {
				b = wire.AppendFrame(b, &wire.RequestHeader{Xid: int32(i + 100), Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/b"})
			} else {
				b = wire.AppendFrame(b, &wire.RequestHeader{Xid: int32(i + 100), Type: wire.OpSetData}, &wire.SetDataRequest{Path: "/b", Version: -1})
			}
		}
		_, err := c.nc.Write(b)
		done <- err
	}()
	for i := 0; i < n; i++ {
		h, _, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if h.Xid != int32(i+100) || h.Err != 0 {
			t.Fatalf("reply %d: %+v", i, h)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestNonReadingClientIsClosed: a client that watches everything and never
// reads fills its queue; the server closes it rather than let it hold the
// apply loop or other clients.
func TestNonReadingClientIsClosed(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.MaxQueued = 256 << 10 })
	long := "/" + strings.Repeat("x", 2000)
	w := dialRaw(t, ts.addr, 30000)
	w.mustCall(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/", Mode: wire.AddWatchPersistentRecursive}, nil)

	writer := dialRaw(t, ts.addr, 30000)
	writer.mustCall(wire.OpCreate, &wire.CreateRequest{Path: long, ACL: openACL()}, nil)
	deadline := time.Now().Add(30 * time.Second)
	for round := 0; ; round++ {
		if time.Now().After(deadline) {
			t.Fatal("the non-reading client was never closed")
		}
		// Pipelined writes, each firing a 2 KB event at w.
		for i := 0; i < 200; i++ {
			writer.send(wire.OpSetData, &wire.SetDataRequest{Path: long, Version: -1})
		}
		for i := 0; i < 200; i++ {
			if h, _, err := writer.recv(); err != nil || h.Err != 0 {
				t.Fatalf("writer: %+v, %v", h, err)
			}
		}
		if !sessionAttached(ts.srv, w.resp.SessionID) {
			break
		}
	}
	// w's socket still holds what was written; past it, the end.
	w.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.Copy(io.Discard, w.nc); err != nil {
		t.Errorf("draining the closed client: %v", err)
	}
	writer.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: long, Version: -1}, nil)
}

// sessionAttached reports whether a live connection holds the session.
func sessionAttached(s *Server, id int64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id] != nil
}
