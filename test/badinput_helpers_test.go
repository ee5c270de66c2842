package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/wire"
)

// treeState is every znode outside /zookeeper, with its data and the
// stat fields a change would move, after a sync.
func treeState(t *testing.T, zc *zk.Conn) map[string]string {
	t.Helper()
	if _, err := zc.Sync("/"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := zc.Get(p)
		if errors.Is(err, zk.ErrNoNode) {
			return
		}
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		out[p] = fmt.Sprintf("%q v%d c%d a%d m%x", data, st.Version, st.Cversion, st.Aversion, st.Mzxid)
		kids, _, err := zc.Children(p)
		if err != nil {
			t.Fatalf("listing %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			c := p + "/" + k
			if p == "/" {
				c = "/" + k
			}
			if c != "/zookeeper" {
				walk(c)
			}
		}
	}
	walk("/")
	return out
}

// unchanged fails the test if the tree differs from before.
func unchanged(t *testing.T, zc *zk.Conn, before map[string]string, what string) {
	t.Helper()
	after := treeState(t, zc)
	for p, v := range after {
		if before[p] != v {
			t.Errorf("%s changed %s: %s -> %s", what, p, before[p], v)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok {
			t.Errorf("%s removed %s", what, p)
		}
	}
}

// cliResult is what one `zkfs` client command printed and how it exited.
type cliResult struct {
	stdout, stderr string
	code           int
}

// zkfsCLI runs a `zkfs` client command against addr.
func zkfsCLI(t *testing.T, addr string, stdin string, args ...string) cliResult {
	t.Helper()
	return runZkfsArgs(t, stdin, 30*time.Second, append([]string{args[0], "-server", addr}, args[1:]...)...)
}

// runZkfsArgs runs the zkfs binary with args and stdin, and returns what it
// printed and how it exited; not finishing within timeout fails the test.
func runZkfsArgs(t *testing.T, stdin string, timeout time.Duration, args ...string) cliResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkfsBin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("zkfs %v: %v", args, err)
	}
	if ctx.Err() != nil {
		t.Fatalf("zkfs %v did not finish within %v", args, timeout)
	}
	return r
}

// cliRefuses checks that a CLI command fails with one line on standard
// error containing want.
func cliRefuses(t *testing.T, r cliResult, what, want string) {
	t.Helper()
	msg := strings.TrimSpace(r.stderr)
	switch {
	case r.code == 0:
		t.Errorf("%s: the CLI succeeded (%q)", what, r.stdout)
	case strings.Count(msg, "\n") > 0:
		t.Errorf("%s: the CLI printed more than one line: %q", what, msg)
	case !strings.Contains(msg, want):
		t.Errorf("%s: the CLI said %q, want %q in it", what, msg, want)
	default:
		t.Logf("%s: CLI exit %d, %q", what, r.code, msg)
	}
}

// rawConn speaks ZooKeeper's protocol with the wire package's encoders,
// so that a test can send what go-zookeeper would refuse to send.
type rawConn struct {
	t   *testing.T
	nc  net.Conn
	xid int32
}

// dialRawSession connects and completes the handshake.
func dialRawSession(t *testing.T, addr string) *rawConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	c := &rawConn{t: t, nc: nc}
	c.write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 10000, Passwd: make([]byte, 16)}))
	var resp wire.ConnectResponse
	if err := wire.Unmarshal(c.read(), &resp); err != nil || resp.SessionID == 0 {
		t.Fatalf("handshake: %+v %v", resp, err)
	}
	return c
}

func (c *rawConn) write(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// writeRefused sends b, which the server may refuse before it has all of
// it: a reset connection is then an answer, not a failure of the test
// (closedByServer tells what the server did).
func (c *rawConn) writeRefused(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write(b); err != nil && !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *rawConn) read() []byte {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wire.ReadFrame(c.nc, 4<<20)
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return b
}

// call sends one request and returns the reply's error code, skipping
// watch notifications.
func (c *rawConn) call(op wire.OpCode, body wire.Record) int32 {
	c.t.Helper()
	c.xid++
	c.write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: c.xid, Type: op}, body))
	for {
		b := c.read()
		var h wire.ReplyHeader
		if err := wire.Unmarshal(b[:16], &h); err != nil {
			c.t.Fatalf("reply header: %v", err)
		}
		if h.Xid == c.xid {
			return h.Err
		}
	}
}

// closedByServer reports whether the server closed the connection within
// a few seconds, reading and dropping whatever else it sent.
func (c *rawConn) closedByServer() bool {
	c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := io.Copy(io.Discard, c.nc)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

// readHeader reads the next reply and returns its header.
func (c *rawConn) readHeader() wire.ReplyHeader {
	c.t.Helper()
	var h wire.ReplyHeader
	if err := wire.Unmarshal(c.read()[:16], &h); err != nil {
		c.t.Fatalf("reply header: %v", err)
	}
	return h
}
