package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"zkfs/tree"
)

func openTest(t testing.TB, dir string, mod func(*Config)) *Replica {
	t.Helper()
	cfg := Config{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if mod != nil {
		mod(&cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.WaitReady(ctx); err != nil {
		r.Close()
		t.Fatal(err)
	}
	return r
}

// A write whose outcome is unknown (a leader change on a loaded machine) is
// sent again when sending it twice changes nothing: a plain create, whose
// second try finds the node the first one made, or an unconditional set.
func propose(t testing.TB, r *Replica, op tree.Op) tree.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for unknown := false; ; unknown = true {
		res, err := r.Propose(ctx, 0, tree.Identity{}, op)
		if err == nil {
			if c, ok := op.(tree.Create); ok && unknown && errors.Is(res.Err, tree.ErrNodeExists) && c.Mode == tree.ModePersistent {
				res.Err = nil // made by the try whose outcome was unknown
			}
			return res
		}
		if !errors.Is(err, ErrTimeout) || !idempotent(op) || ctx.Err() != nil {
			t.Fatal(err)
		}
	}
}

// idempotent reports whether applying op twice is the same as once.
func idempotent(op tree.Op) bool {
	switch op := op.(type) {
	case tree.Create:
		return op.Mode == tree.ModePersistent
	case tree.SetData:
		return op.Version == -1
	}
	return false
}

func getData(r *Replica, path string) (string, tree.Stat, error) {
	var data []byte
	var st tree.Stat
	var err error
	r.Read(func(t *tree.Tree) { data, st, err = t.Get(path) })
	return string(data), st, err
}

func TestProposeApplyAndRestart(t *testing.T) {
	dir := t.TempDir()
	r := openTest(t, dir, nil)
	res := propose(t, r, tree.Create{Path: "/a", Data: []byte("one"), ACL: tree.OpenACL})
	if res.Err != nil || res.Path != "/a" {
		t.Fatalf("create: %+v", res)
	}
	if res.Stat.Ctime == 0 || res.Stat.Ctime > time.Now().UnixMilli() {
		t.Errorf("ctime %d was not stamped by the leader", res.Stat.Ctime)
	}
	res = propose(t, r, tree.SetData{Path: "/a", Data: []byte("two"), Version: 0})
	if res.Err != nil || res.Stat.Version != 1 {
		t.Fatalf("set: %+v", res)
	}
	res = propose(t, r, tree.SetData{Path: "/a", Data: []byte("three"), Version: 0})
	if !errors.Is(res.Err, tree.ErrBadVersion) {
		t.Fatalf("stale set: got %v, want ErrBadVersion", res.Err)
	}
	want, wantStat, _ := getData(r, "/a")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	r = openTest(t, dir, nil)
	defer r.Close()
	got, gotStat, err := getData(r, "/a")
	if err != nil || got != want || gotStat != wantStat {
		t.Fatalf("after restart got %q %+v %v, want %q %+v", got, gotStat, err, want, wantStat)
	}
	if want != "two" {
		t.Fatalf("got %q, want two", want)
	}
}

func TestConcurrentProposalsAreBatched(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	defer r.Close()
	var batches, entries int
	var mu sync.Mutex
	r.Listen(func(a Applied) {
		mu.Lock()
		batches++
		entries += len(a.Events)
		mu.Unlock()
	})
	const n = 400
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := r.Propose(ctx, 0, tree.Identity{}, tree.Create{Path: fmt.Sprintf("/n%d", i), ACL: tree.OpenACL})
			if err == nil {
				err = res.Err
			}
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var kids []string
	r.Read(func(t *tree.Tree) { kids, _, _ = t.Children("/") })
	if len(kids) != n+1 { // + zookeeper
		t.Fatalf("got %d children, want %d", len(kids), n+1)
	}
	mu.Lock()
	defer mu.Unlock()
	// Each create yields NodeCreated and the parent's NodeChildrenChanged.
	if entries != 2*n {
		t.Errorf("listeners saw %d events, want %d", entries, 2*n)
	}
	if batches >= n {
		t.Errorf("%d proposals were applied in %d batches: no batching", n, batches)
	}
	// The log counts the same: every write, in fewer synced appends.
	syncs, writes := r.LogStats()
	if writes < n || syncs == 0 || syncs >= writes {
		t.Errorf("log stats: %d writes in %d synced appends, want at least %d writes in fewer appends", writes, syncs, n)
	}
	t.Logf("%d writes in %d synced appends (%.1f per fsync)", writes, syncs, float64(writes)/float64(syncs))
}

func TestRestartReplaysOnlyTheTail(t *testing.T) {
	dir := t.TempDir()
	const threshold = 500
	mod := func(c *Config) { c.SnapshotThreshold = threshold; c.TrailingLogs = 100 }
	r := openTest(t, dir, mod)
	propose(t, r, tree.Create{Path: "/c", Data: []byte("0"), ACL: tree.OpenACL})
	const writes = 3000
	for i := 1; i <= writes; i++ {
		propose(t, r, tree.SetData{Path: "/c", Data: []byte(fmt.Sprint(i)), Version: -1})
		if i == 2000 {
			if err := r.Snapshot(); err != nil {
				t.Fatal(err)
			}
		}
	}
	r.Close()

	// Count what the FSM is handed on restart: only entries after the
	// last snapshot, never the whole history.
	r = openTest(t, dir, mod)
	defer r.Close()
	first, err := r.logs.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	if first < 1000 {
		t.Errorf("log still starts at %d after a snapshot at ~2000: not compacted", first)
	}
	got, st, err := getData(r, "/c")
	if err != nil || got != fmt.Sprint(writes) || st.Version != writes {
		t.Fatalf("got %q version %d (%v), want %d", got, st.Version, err, writes)
	}
}

func TestStoreBehindSnapshotIsRestored(t *testing.T) {
	// A replica whose store lost applied batches below raft's newest
	// snapshot (an unsynced tail at power loss) must catch up from that
	// snapshot before raft resumes after it.
	dir := t.TempDir()
	r := openTest(t, dir, nil)
	var early bytes.Buffer
	snap, err := r.store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := snap.WriteTo(&early); err != nil {
		t.Fatal(err)
	}
	snap.Close()
	propose(t, r, tree.Create{Path: "/s", Data: []byte("snap"), ACL: tree.OpenACL})
	if err := r.Snapshot(); err != nil {
		t.Fatal(err)
	}
	r.Close()

	rewindStore(t, dir, &early)
	r = openTest(t, dir, nil)
	defer r.Close()
	if got, _, err := getData(r, "/s"); err != nil || got != "snap" {
		t.Fatalf("got %q %v, want snap", got, err)
	}
}

func TestSessionsExpireThroughTheLog(t *testing.T) {
	r := openTest(t, t.TempDir(), func(c *Config) { c.SessionTick = 10 * time.Millisecond })
	defer r.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	id, pw, err := r.CreateSession(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	// A second session with the same timeout, never touched: its expiry
	// proves that the leader looked at both after the timeout.
	quiet, quietPw, err := r.CreateSession(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.CheckSession(id, pw); err != nil {
		t.Fatal(err)
	}
	if err := r.CheckSession(id, []byte("wrong")); !errors.Is(err, ErrNoSession) {
		t.Fatalf("wrong password: got %v", err)
	}
	res, err := r.Propose(ctx, id, tree.Identity{}, tree.Create{Path: "/eph", ACL: tree.OpenACL, Mode: tree.ModeEphemeral})
	if err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	// Kept alive by touches until the quiet session has expired...
	for deadline := time.Now().Add(10 * time.Second); r.CheckSession(quiet, quietPw) == nil; {
		if time.Now().After(deadline) {
			t.Fatal("the untouched session did not expire")
		}
		r.TouchSession(id)
		time.Sleep(20 * time.Millisecond)
	}
	if err := r.CheckSession(id, pw); err != nil {
		t.Fatalf("touched session expired: %v", err)
	}
	if _, _, err := getData(r, "/eph"); err != nil {
		t.Fatalf("touched session lost its ephemeral: %v", err)
	}
	// ...then expired once quiet, with its ephemeral node.
	deadline := time.Now().Add(5 * time.Second)
	for r.CheckSession(id, pw) == nil {
		if time.Now().After(deadline) {
			t.Fatal("session did not expire")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, _, err := getData(r, "/eph"); !errors.Is(err, tree.ErrNoNode) {
		t.Fatalf("ephemeral after expiry: got %v, want ErrNoNode", err)
	}
}

// TestNewSessionGetsItsWholeTimeout: a session the leader finds in the
// tree before anyone touched it (its creator's touch comes after the
// commit, and another replica's report comes a tick later) must not be
// expired at once by a leader that has led for longer than its timeout.
func TestNewSessionGetsItsWholeTimeout(t *testing.T) {
	r := openTest(t, t.TempDir(), func(c *Config) { c.SessionTick = time.Hour })
	defer r.Close()
	start := time.Now()
	if got := r.sessions.expired(start); len(got) != 0 {
		t.Fatalf("expired with no sessions: %x", got)
	}
	const id = 0x42
	if res := propose(t, r, tree.CreateSession{ID: id, Timeout: 1000, Password: make([]byte, 16)}); res.Err != nil {
		t.Fatal(res.Err)
	}
	tests := []struct {
		after time.Duration
		want  []int64
	}{
		{5 * time.Second, nil}, // first sighting, long after leaderSince
		{5*time.Second + 900*time.Millisecond, nil},
		{6*time.Second + 100*time.Millisecond, []int64{id}},
	}
	for _, tt := range tests {
		if got := r.sessions.expired(start.Add(tt.after)); fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("after %v: expired %x, want %x", tt.after, got, tt.want)
		}
	}
}

func TestContainersAreReaped(t *testing.T) {
	r := openTest(t, t.TempDir(), func(c *Config) { c.ReapInterval = 20 * time.Millisecond })
	defer r.Close()
	propose(t, r, tree.Create{Path: "/box", ACL: tree.OpenACL, Mode: tree.ModeContainer})
	propose(t, r, tree.Create{Path: "/box/x", ACL: tree.OpenACL})
	// An empty container that once had a child: its reaping proves that a
	// pass ran after /box got its child.
	propose(t, r, tree.Create{Path: "/gone", ACL: tree.OpenACL, Mode: tree.ModeContainer})
	propose(t, r, tree.Create{Path: "/gone/x", ACL: tree.OpenACL})
	propose(t, r, tree.Delete{Path: "/gone/x", Version: -1})
	waitNoNode := func(path string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if _, _, err := getData(r, path); errors.Is(err, tree.ErrNoNode) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("empty container %s was not reaped", path)
			}
		}
	}
	waitNoNode("/gone")
	if _, _, err := getData(r, "/box"); err != nil {
		t.Fatalf("container with a child was reaped: %v", err)
	}
	propose(t, r, tree.Delete{Path: "/box/x", Version: -1})
	waitNoNode("/box")
}

func TestCollectorReportsState(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	defer r.Close()
	propose(t, r, tree.Create{Path: "/m", ACL: tree.OpenACL})
	reg := prometheus.NewRegistry()
	reg.MustRegister(r.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.Metric {
			name := mf.GetName()
			for _, l := range m.Label {
				name += "{" + l.GetValue() + "}"
			}
			got[name] = m.GetGauge().GetValue()
		}
	}
	want := map[string]float64{
		"zkfs_raft_role{standalone}": 1,
		"zkfs_raft_role{leader}":     0,
		"zkfs_znodes":                5, // /, /zookeeper, quota, config, /m
		"zkfs_raft_applied_index":    float64(r.AppliedIndex()),
		"zkfs_raft_leader_known":     1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v", k, got[k], v)
		}
	}
}

func TestSeparateLogDirectory(t *testing.T) {
	dir, logDir := t.TempDir(), t.TempDir()
	mod := func(c *Config) { c.LogDir = logDir }
	r := openTest(t, dir, mod)
	propose(t, r, tree.Create{Path: "/l", Data: []byte("x"), ACL: tree.OpenACL})
	if last, _ := r.logs.LastIndex(); last == 0 {
		t.Fatal("the log directory holds no entries")
	}
	if last, _ := r.store.LastIndex(); last != 0 {
		t.Fatalf("the data directory holds log entries up to %d", last)
	}
	r.Close()
	r = openTest(t, dir, mod)
	if got, _, err := getData(r, "/l"); err != nil || got != "x" {
		t.Fatalf("after restart: %q %v", got, err)
	}
	r.Close()

	// A data directory that kept its own log refuses an empty log
	// directory rather than start a new history.
	plain := t.TempDir()
	r = openTest(t, plain, nil)
	r.Close()
	_, err := Open(Config{DataDir: plain, LogDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err == nil || !strings.Contains(err.Error(), "log directory") {
		t.Fatalf("got %v, want a refusal naming the log directory", err)
	}
}
