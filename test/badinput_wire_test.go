package test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

// TestBadPacketsToAServer sends a real `zkfs server` what broken and
// hostile clients send: each connection is closed or answered with an
// error code, the tree does not change, and a well-behaved client on the
// side is served throughout. (The wire package checks each case in
// detail in process; this checks the whole server.)
func TestBadPacketsToAServer(t *testing.T) {
	s := startServer(t, "--max-client-cnxns", "0")
	zc := connect(t, s.Addr(), 10*time.Second)
	if _, err := zc.Create("/keep", []byte("v"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, zc)
	frame := func(n uint32, body []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), body...) }
	garbage := make([]byte, 300)
	for i := range garbage {
		garbage[i] = byte(rand.IntN(256))
	}
	dial := func() net.Conn {
		c, err := net.DialTimeout("tcp", s.Addr(), 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	closedSoon := func(c net.Conn) bool {
		raw := &rawConn{t: t, nc: c}
		return raw.closedByServer()
	}
	for _, c := range []struct {
		name string
		b    []byte
	}{
		{"garbage instead of a handshake", frame(300, garbage)},
		{"a length of 2 GiB", frame(0x7fffffff, nil)},
		{"a negative length", frame(0xfffffff0, nil)},
		{"a length over jute.maxbuffer", frame(2<<20, make([]byte, 1000))},
		{"a request before the handshake", wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpDelete}, &wire.DeleteRequest{Path: "/keep", Version: -1})},
		{"an empty handshake", frame(0, nil)},
		{"a truncated handshake", frame(12, make([]byte, 12))},
		{"an unknown four-letter word", []byte("xyzw")},
	} {
		nc := dial()
		nc.Write(c.b)
		if !closedSoon(nc) {
			t.Errorf("%s: the connection stayed open", c.name)
		} else {
			t.Logf("%s: connection closed", c.name)
		}
		nc.Close()
		unchanged(t, zc, before, c.name)
	}
	// A length that promises more than ever comes, and a client that then
	// goes away: the server forgets it.
	nc := dial()
	nc.Write(frame(1000, make([]byte, 10)))
	nc.Close()

	// After the handshake: a body that lies about its lengths, an unknown
	// opcode, a header cut short, a request of the wrong kind in a multi.
	raw := dialRawSession(t, s.Addr())
	body := wire.Marshal(nil, &wire.RequestHeader{Xid: 7, Type: wire.OpSetData})
	body = binary.BigEndian.AppendUint32(body, 5000) // a path longer than the packet
	body = append(body, "/keep"...)
	raw.write(frame(uint32(len(body)), body))
	if h := raw.readHeader(); h.Xid != 7 || h.Err != tree.CodeMarshallingError {
		t.Errorf("a lying path length: %+v, want MarshallingError", h)
	} else {
		t.Logf("a lying path length after the handshake: MarshallingError")
	}
	if code := raw.call(wire.OpCode(999), &wire.SetDataRequest{Path: "/keep"}); code != tree.CodeUnimplemented {
		t.Errorf("an unknown opcode: code %d, want Unimplemented", code)
	} else {
		t.Logf("opcode 999: Unimplemented")
	}
	if code := raw.call(wire.OpGetData, &wire.GetDataRequest{Path: "/keep"}); code != 0 {
		t.Errorf("the connection did not carry on after the bad requests: code %d", code)
	}
	raw.write(frame(4, []byte{0, 0, 0, 1}))
	if !raw.closedByServer() {
		t.Error("a header cut short: the connection stayed open")
	}
	unchanged(t, zc, before, "bad requests after the handshake")
	if _, _, err := zc.Get("/keep"); err != nil {
		t.Errorf("the well-behaved client: %v", err)
	}
}

// TestClientThatNeverReads fills a server's replies to a client that
// never reads them: the server closes that connection rather than buffer
// without bound, and serves the others meanwhile.
func TestClientThatNeverReads(t *testing.T) {
	s := startServer(t)
	zc := connect(t, s.Addr(), 10*time.Second)
	big := make([]byte, 512<<10)
	if _, err := zc.Create("/big", big, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	raw := dialRawSession(t, s.Addr())
	raw.nc.(*net.TCPConn).SetReadBuffer(4096)
	req := wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpGetData}, &wire.GetDataRequest{Path: "/big"})
	start := time.Now()
	closed := false
	for sent := 0; time.Since(start) < 60*time.Second; sent++ {
		raw.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		if _, err := raw.nc.Write(req); err != nil {
			closed = true
			t.Logf("the server stopped reading requests after %d of them (%v), unread replies of 512 KiB piling up: %v", sent, time.Since(start).Round(time.Millisecond), err)
			break
		}
		if sent%100 == 0 {
			if _, _, err := zc.Get("/big"); err != nil {
				t.Fatalf("the other client, while one never reads: %v", err)
			}
		}
	}
	if !closed {
		t.Fatal("the server kept taking requests from a client that reads nothing for 60s")
	}
	// What the kernel buffered drains, then the server has closed it.
	raw.nc.SetReadDeadline(time.Now().Add(30 * time.Second))
	n, err := io.Copy(io.Discard, raw.nc)
	t.Logf("the server closed the non-reading client: %d MiB drained, then %v", n>>20, err)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Errorf("the server did not close the non-reading client: %v", err)
	}
	if _, _, err := zc.Get("/big"); err != nil {
		t.Errorf("the other client afterwards: %v", err)
	}
	if rss := rssMiB(s.Pid()); rss > 1024 {
		t.Errorf("the server holds %d MiB", rss)
	}
}

// TestTenThousandConnections opens 10,000 connections to one server at
// once, half of them handshaking and half saying nothing: the server
// takes them all, keeps serving, and is fine once they go.
func TestTenThousandConnections(t *testing.T) {
	const n = 10000
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < 2*n {
		t.Fatalf("RLIMIT_NOFILE hard limit %d; the test needs %d descriptors for itself and as many for the server", lim.Max, 2*n)
	}
	old := lim.Cur
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	defer func() {
		lim.Cur = old
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}()
	// The server inherits the raised limit.
	s := startServer(t, "--max-client-cnxns", "0", "--min-session-timeout", "4000", "--max-session-timeout", "4000")
	zc := connect(t, s.Addr(), 10*time.Second)
	if _, err := zc.Create("/alive", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	conns := make([]net.Conn, n)
	var handshakes, failures atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 500)
	start := time.Now()
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := net.DialTimeout("tcp", s.Addr(), 30*time.Second)
			if err != nil {
				failures.Add(1)
				return
			}
			conns[i] = c
			if i%2 == 1 {
				return // says nothing
			}
			c.SetDeadline(time.Now().Add(60 * time.Second))
			if _, err := c.Write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16)})); err != nil {
				failures.Add(1)
				return
			}
			b, err := wire.ReadFrame(c, 1<<20)
			var resp wire.ConnectResponse
			if err != nil || wire.Unmarshal(b, &resp) != nil || resp.SessionID == 0 {
				failures.Add(1)
				return
			}
			handshakes.Add(1)
		}()
	}
	wg.Wait()
	t.Logf("%d connections in %v: %d handshakes, %d failures; server RSS %d MiB",
		n, time.Since(start).Round(time.Millisecond), handshakes.Load(), failures.Load(), rssMiB(s.Pid()))
	if failures.Load() > 0 {
		t.Errorf("%d of %d connections failed", failures.Load(), n)
	}
	getStart := time.Now()
	if data, _, err := zc.Get("/alive"); err != nil || string(data) != "1" {
		t.Errorf("a client beside 10,000 connections: %q %v", data, err)
	}
	if _, err := zc.Set("/alive", []byte("2"), -1); err != nil {
		t.Errorf("a write beside 10,000 connections: %v", err)
	}
	t.Logf("a get and a set beside them took %v", time.Since(getStart).Round(time.Millisecond))
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
	// The 5,000 sessions expire (mntr counts them); the server carries on.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, err := FourLetter(s.Addr(), "mntr", 5*time.Second)
		if err == nil && strings.Contains(out, "zk_global_sessions\t1\n") {
			break // zc's own session is left
		}
		if time.Now().After(deadline) {
			t.Fatalf("the 5,000 sessions did not expire: %v\n%s", err, out)
		}
	}
	if data, _, err := zc.Get("/alive"); err != nil || string(data) != "2" {
		t.Errorf("after the 10,000 went: %q %v", data, err)
	}
	out, err := FourLetter(s.Addr(), "srvr", 5*time.Second)
	if err != nil || !strings.Contains(out, "Mode: standalone") {
		t.Errorf("srvr after the 10,000 went: %q %v", out, err)
	}
}

// rssMiB returns a process's resident memory in MiB, 0 if unknown.
func rssMiB(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return kb / 1024
		}
	}
	return 0
}
