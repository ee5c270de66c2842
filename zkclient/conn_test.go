package zkclient

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}

// goClient returns a go-zookeeper session, the other client that makes the
// changes the tests watch.
func goClient(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, events, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogger(nopLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	for ev := range events {
		if ev.State == zk.StateHasSession {
			return c
		}
	}
	t.Fatal("go-zookeeper never connected")
	return nil
}

func dial(t *testing.T, cfg Config) *Conn {
	t.Helper()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = 10 * time.Second
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = 5 * time.Second
	}
	c, err := Dial(cfg)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// nextEvent returns the next notification, failing after a while.
func nextEvent(t *testing.T, c *Conn) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("events closed: %v", c.Err())
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
	}
	return Event{}
}

func TestAgainstZooKeeper(t *testing.T) {
	s := startZooKeeper(t)
	tests := []struct {
		name string
		f    func(t *testing.T, addr string)
	}{
		{"persistent watch", testPersistentWatch},
		{"recursive watch", testRecursiveWatch},
		{"exists", testExists},
		{"reads", testReads},
		{"follow reads", testFollowReads},
		{"auth", testAuth},
		{"close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f(t, s.addr)
		})
	}
}

// checkEvent compares an event with what is expected. The notification's
// own zxid is -1 from ZooKeeper 3.8 and exact from servers that send it.
func checkEvent(t *testing.T, got Event, typ wire.EventType, path string, zxid int64) {
	t.Helper()
	if got.Type != typ || got.Path != path {
		t.Errorf("event %v %s, want %v %s", got.Type, got.Path, typ, path)
	}
	if got.Zxid != -1 && got.Zxid != zxid {
		t.Errorf("event %v %s has zxid 0x%x, want 0x%x (or -1)", got.Type, got.Path, got.Zxid, zxid)
	}
}

func testPersistentWatch(t *testing.T, addr string) {
	g := goClient(t, addr)
	c := dial(t, Config{Servers: []string{addr}})
	if err := c.AddWatch("/pw", wire.AddWatchPersistent); err != nil {
		t.Fatal(err)
	}
	acl := zk.WorldACL(zk.PermAll)
	g.Create("/pw", nil, 0, acl)
	_, st, _ := g.Exists("/pw")
	checkEvent(t, nextEvent(t, c), wire.EventNodeCreated, "/pw", st.Czxid)
	st, _ = g.Set("/pw", []byte("x"), -1)
	checkEvent(t, nextEvent(t, c), wire.EventNodeDataChanged, "/pw", st.Mzxid)
	g.Create("/pw/a", nil, 0, acl)
	_, st, _ = g.Exists("/pw")
	checkEvent(t, nextEvent(t, c), wire.EventNodeChildrenChanged, "/pw", st.Pzxid)
	// A persistent watch does not fire again for a grandchild; the next
	// event is the child's deletion.
	g.Create("/pw/a/b", nil, 0, acl)
	g.Delete("/pw/a/b", -1)
	g.Delete("/pw/a", -1)
	_, st, _ = g.Exists("/pw")
	checkEvent(t, nextEvent(t, c), wire.EventNodeChildrenChanged, "/pw", st.Pzxid)
	g.Delete("/pw", -1)
	ev := nextEvent(t, c)
	checkEvent(t, ev, wire.EventNodeDeleted, "/pw", ev.Zxid)
	// Still armed after the node is gone.
	g.Create("/pw", nil, 0, acl)
	_, st, _ = g.Exists("/pw")
	checkEvent(t, nextEvent(t, c), wire.EventNodeCreated, "/pw", st.Czxid)
}

func testRecursiveWatch(t *testing.T, addr string) {
	g := goClient(t, addr)
	c := dial(t, Config{Servers: []string{addr}})
	if err := c.AddWatch("/rw", wire.AddWatchPersistentRecursive); err != nil {
		t.Fatal(err)
	}
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/rw", "/rw/a", "/rw/a/b"} {
		g.Create(p, nil, 0, acl)
		_, st, _ := g.Exists(p)
		checkEvent(t, nextEvent(t, c), wire.EventNodeCreated, p, st.Czxid)
	}
	st, _ := g.Set("/rw/a/b", []byte("deep"), -1)
	checkEvent(t, nextEvent(t, c), wire.EventNodeDataChanged, "/rw/a/b", st.Mzxid)
	g.Delete("/rw/a/b", -1)
	ev := nextEvent(t, c)
	checkEvent(t, ev, wire.EventNodeDeleted, "/rw/a/b", ev.Zxid)
	// Outside the subtree: nothing. The next event is the sentinel's.
	g.Create("/rwx", nil, 0, acl)
	g.Create("/rw/sentinel", nil, 0, acl)
	_, st, _ = g.Exists("/rw/sentinel")
	checkEvent(t, nextEvent(t, c), wire.EventNodeCreated, "/rw/sentinel", st.Czxid)
}

func testExists(t *testing.T, addr string) {
	g := goClient(t, addr)
	c := dial(t, Config{Servers: []string{addr}})
	g.Create("/ex", []byte("abc"), 0, zk.WorldACL(zk.PermAll))
	_, want, _ := g.Exists("/ex")
	got, zxid, err := c.Exists("/ex")
	if err != nil || got == nil {
		t.Fatalf("Exists: %v, %v", got, err)
	}
	if got.Czxid != want.Czxid || got.Mzxid != want.Mzxid || got.DataLength != 3 || got.Ctime != want.Ctime {
		t.Errorf("stat %+v, want %+v", *got, *want)
	}
	if zxid < want.Mzxid {
		t.Errorf("reply zxid 0x%x is before the node's creation 0x%x", zxid, want.Mzxid)
	}
	got, zxid, err = c.Exists("/ex/missing")
	if err != nil || got != nil || zxid < want.Mzxid {
		t.Errorf("Exists of a missing node: %v, 0x%x, %v", got, zxid, err)
	}
}

func testReads(t *testing.T, addr string) {
	g := goClient(t, addr)
	c := dial(t, Config{Servers: []string{addr}})
	acl := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/cnt", "/cnt/a", "/cnt/b", "/cnt/a/c"} {
		g.Create(p, nil, 0, acl)
	}
	if n, err := c.GetAllChildrenNumber("/cnt"); err != nil || n != 3 {
		t.Errorf("GetAllChildrenNumber: %d, %v; want 3", n, err)
	}
	_, err := c.GetAllChildrenNumber("/cnt/none")
	if code, _ := Code(err); code != tree.CodeNoNode {
		t.Errorf("GetAllChildrenNumber of a missing node: %v", err)
	}
	// This session owns no ephemeral nodes; another session's do not count.
	g.Create("/cnt/eph", nil, zk.FlagEphemeral, acl)
	if list, err := c.GetEphemerals("/"); err != nil || len(list) != 0 {
		t.Errorf("GetEphemerals: %v, %v; want none", list, err)
	}
	ids, err := c.WhoAmI()
	if err != nil || !slices.Contains(ids, wire.ClientInfo{AuthScheme: "ip", User: "127.0.0.1"}) {
		t.Errorf("WhoAmI: %v, %v", ids, err)
	}
	if c.SessionID() == 0 {
		t.Error("no session id")
	}
}

func testAuth(t *testing.T, addr string) {
	c := dial(t, Config{Servers: []string{addr}, Auth: []Auth{{Scheme: "digest", Data: []byte("carol:pw")}}})
	ids, err := c.WhoAmI()
	if err != nil || !slices.Contains(ids, wire.ClientInfo{AuthScheme: "digest", User: "carol"}) {
		t.Errorf("WhoAmI after digest auth: %v, %v", ids, err)
	}
	_, err = Dial(Config{Servers: []string{addr}, SessionTimeout: 10 * time.Second, Auth: []Auth{{Scheme: "nosuch", Data: []byte("x")}}})
	var ae *AuthError
	if !errors.As(err, &ae) || ae.Scheme != "nosuch" {
		t.Fatalf("Dial with an unknown scheme: %v, want an AuthError", err)
	}
	if code, _ := Code(err); code != tree.CodeAuthFailed {
		t.Errorf("Code(%v) = %d, want AuthFailed", err, code)
	}
}

func testClose(t *testing.T, addr string) {
	c := dial(t, Config{Servers: []string{addr}})
	if err := c.AddWatch("/closed", wire.AddWatchPersistent); err != nil {
		t.Fatal(err)
	}
	id := c.SessionID()
	if err := c.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, ok := <-c.Events(); ok {
		t.Error("events still open after Close")
	}
	if !errors.Is(c.Err(), ErrClosed) {
		t.Errorf("Err after Close: %v", c.Err())
	}
	if _, _, err := c.Exists("/"); !errors.Is(err, ErrClosed) {
		t.Errorf("Exists after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	// The server has forgotten the session: its connection list no longer
	// shows it.
	sid := fmt.Sprintf("sid=0x%x", id)
	deadline := time.Now().Add(5 * time.Second)
	for {
		out := fourLetter(addr, "cons")
		if out != "" && !strings.Contains(out, sid) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("session 0x%x still listed after Close:\n%s", id, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestDialNoServer(t *testing.T) {
	start := time.Now()
	_, err := Dial(Config{Servers: []string{"127.0.0.1:1"}, SessionTimeout: 10 * time.Second, ConnectTimeout: time.Second})
	if !errors.Is(err, ErrNoServer) {
		t.Errorf("Dial to a closed port: %v, want ErrNoServer", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("gave up after %v, want about 1s", d)
	}
}

// TestReconnect restarts the server under a live session: the session, and
// its persistent watch, must survive.
func TestReconnect(t *testing.T) {
	s := startZooKeeper(t)
	c := dial(t, Config{Servers: []string{s.addr}, SessionTimeout: 20 * time.Second})
	if err := c.AddWatch("/again", wire.AddWatchPersistentRecursive); err != nil {
		t.Fatal(err)
	}
	id := c.SessionID()
	s.stop()
	s.start()
	// Changes made before the session is back are not reported (as with
	// ZooKeeper's own clients), so wait for it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, err := c.Exists("/")
		if err == nil {
			break
		}
		if code, _ := Code(err); code != tree.CodeConnectionLoss || time.Now().After(deadline) {
			t.Fatalf("Exists while reconnecting: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	g := goClient(t, s.addr)
	g.Create("/again", nil, 0, zk.WorldACL(zk.PermAll))
	ev := nextEvent(t, c)
	if ev.Type != wire.EventNodeCreated || ev.Path != "/again" {
		t.Errorf("after restart: %+v", ev)
	}
	if c.SessionID() != id {
		t.Errorf("session 0x%x became 0x%x", id, c.SessionID())
	}
}

// TestSessionExpiry stops the server for good: once the session timeout has
// passed without a server, the session is over.
func TestSessionExpiry(t *testing.T) {
	s := startZooKeeper(t)
	c := dial(t, Config{Servers: []string{s.addr}, SessionTimeout: 2 * time.Second})
	s.stop()
	select {
	case _, ok := <-c.Events():
		if ok {
			t.Fatal("unexpected event")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("session still alive 10s after its server went")
	}
	if code, _ := Code(c.Err()); code != tree.CodeSessionExpired {
		t.Errorf("Err: %v, want session expired", c.Err())
	}
	if _, _, err := c.Exists("/"); err == nil {
		t.Error("Exists on an expired session succeeded")
	}
}

func TestCode(t *testing.T) {
	tests := []struct {
		err    error
		code   int32
		hasOne bool
	}{
		{nil, tree.CodeOK, true},
		{zk.ErrNoNode, tree.CodeNoNode, true},
		{fmt.Errorf("wrapped: %w", zk.ErrNodeExists), tree.CodeNodeExists, true},
		{zk.ErrNotEmpty, tree.CodeNotEmpty, true},
		{zk.ErrBadVersion, tree.CodeBadVersion, true},
		{zk.ErrNoAuth, tree.CodeNoAuth, true},
		{zk.ErrInvalidACL, tree.CodeInvalidACL, true},
		{zk.ErrBadArguments, tree.CodeBadArguments, true},
		{zk.ErrNoChildrenForEphemerals, tree.CodeNoChildrenForEphemerals, true},
		{zk.ErrConnectionClosed, tree.CodeConnectionLoss, true},
		{errors.New("unknown error: -125"), tree.CodeQuotaExceeded, true}, // go-zookeeper's text for codes it has no sentinel for
		{wire.ErrorOf(tree.CodeNoNode), tree.CodeNoNode, true},
		{wire.ErrorOf(tree.CodeSystemError), tree.CodeSystemError, true},
		{&AuthError{Scheme: "x", Err: wire.ErrorOf(tree.CodeAuthFailed)}, tree.CodeAuthFailed, true},
		{ErrNoServer, tree.CodeConnectionLoss, true},
		{errors.New("something local"), 0, false},
		{zk.ErrInvalidPath, 0, false},
	}
	for _, tt := range tests {
		code, ok := Code(tt.err)
		if code != tt.code || ok != tt.hasOne {
			t.Errorf("Code(%v) = %d, %v; want %d, %v", tt.err, code, ok, tt.code, tt.hasOne)
		}
	}
}

// testFollowReads compares the reads a follow makes through zkclient with
// go-zookeeper's answers for the same nodes.
func testFollowReads(t *testing.T, addr string) {
	g := goClient(t, addr)
	c := dial(t, Config{Servers: []string{addr}})
	acl := []zk.ACL{{Perms: zk.PermRead | zk.PermAdmin, Scheme: "world", ID: "anyone"}}
	if _, err := g.Create("/fr", []byte("data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b"} {
		if _, err := g.Create("/fr/"+k, nil, 0, acl); err != nil {
			t.Fatal(err)
		}
	}
	data, st, err := c.Get("/fr")
	wantData, wantSt, _ := g.Get("/fr")
	if err != nil || string(data) != string(wantData) || zk.Stat(*st) != *wantSt {
		t.Errorf("Get: %q %+v %v, want %q %+v", data, st, err, wantData, wantSt)
	}
	got, _, err := c.GetACL("/fr/a")
	if err != nil || len(got) != 1 || got[0].Perms != acl[0].Perms || got[0].ID.Scheme != "world" || got[0].ID.ID != "anyone" {
		t.Errorf("GetACL: %+v %v, want %+v", got, err, acl)
	}
	kids, st, err := c.Children("/fr")
	slices.Sort(kids)
	if err != nil || !slices.Equal(kids, []string{"a", "b"}) || st.NumChildren != 2 {
		t.Errorf("Children: %q %+v %v", kids, st, err)
	}
	if _, _, err := c.Get("/fr/none"); !errors.Is(err, wire.ErrorOf(tree.CodeNoNode)) {
		t.Errorf("Get of a missing node: %v, want NoNode", err)
	}
}
