package fusefs

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"zkfs/replication"
	"zkfs/tree"
)

// TestMountWaitsForALeader is the regression test of a bug the chaos
// harness found: a replica restarting while the leader changed exited,
// because its mount gave up on the first createSession that could not be
// forwarded. Here the mount starts on one replica of two, with no leader;
// it must keep trying and mount once the second replica comes up.
func TestMountWaitsForALeader(t *testing.T) {
	peers := twoPeers(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	open := func(id string) *replication.Replica {
		r, err := replication.Open(replication.Config{
			DataDir: t.TempDir(), ID: id, Peers: peers,
			TickTime: 200 * time.Millisecond, WriteTimeout: 500 * time.Millisecond,
			Logger: quiet,
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	r1 := open("1")

	type result struct {
		m   *Mount
		err error
	}
	done := make(chan result, 1)
	dir := filepath.Join(t.TempDir(), "mnt")
	retries := make(chan struct{}, 100)
	mountLog := slog.New(retryCounter{retries})
	go func() {
		m, err := New(Options{Dir: dir, Replica: r1, UID: -1, GID: -1, WriteTimeout: 500 * time.Millisecond, Logger: mountLog})
		done <- result{m, err}
	}()
	// Several createSession attempts fail for want of a leader: the mount
	// says so each time, and is still waiting.
	for i := 0; i < 3; i++ {
		select {
		case res := <-done:
			if res.m != nil {
				res.m.Unmount()
			}
			t.Fatalf("the mount finished without a leader: %v", res.err)
		case <-retries:
		case <-time.After(30 * time.Second):
			t.Fatalf("no retry of the mount's createSession after %d", i)
		}
	}

	r2 := open("2")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := r2.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	var res result
	select {
	case res = <-done:
	case <-time.After(45 * time.Second):
		t.Fatal("the mount did not start within 45 s of a leader")
	}
	if res.err != nil {
		t.Fatalf("the mount gave up: %v", res.err)
	}
	defer func() {
		if err := res.m.Unmount(); err != nil {
			t.Errorf("unmount: %v", err)
		}
	}()
	// The mount works: a write through it is replicated.
	if err := os.WriteFile(filepath.Join(dir, "up"), []byte("yes"), 0o644); err != nil {
		t.Fatalf("write through the mount: %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var got []byte
		var err error
		r2.Read(func(t *tree.Tree) { got, _, err = t.Get("/up") })
		if err == nil && string(got) == "yes" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the write through the mount is not on the other replica: %q, %v", got, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// retryCounter is a log handler that signals each "trying again" of the
// mount's createSession and drops everything else.
type retryCounter struct{ retries chan<- struct{} }

func (h retryCounter) Enabled(context.Context, slog.Level) bool { return true }

func (h retryCounter) Handle(_ context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "creating the mount's session") {
		select {
		case h.retries <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h retryCounter) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h retryCounter) WithGroup(string) slog.Handler { return h }

// twoPeers skips a test that cannot mount FUSE here, and returns the
// members of a two-replica ensemble on free loopback ports.
func twoPeers(t *testing.T) []replication.Peer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting FUSE here needs root")
	}
	if _, err := os.Stat("/dev/fuse"); err != nil {
		t.Skipf("no /dev/fuse: %v", err)
	}
	var addrs []string
	var lns []net.Listener
	for i := 0; i < 4; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		addrs = append(addrs, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return []replication.Peer{
		{ID: "1", RaftAddr: addrs[0], RPCAddr: addrs[1]},
		{ID: "2", RaftAddr: addrs[2], RPCAddr: addrs[3]},
	}
}
