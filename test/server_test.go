package test

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/wire"
)

// TestShutdownKeepsSessions stops the server with SIGTERM: it exits
// cleanly, and after a restart the client resumes its session, whose
// ephemeral node is still there.
func TestShutdownKeepsSessions(t *testing.T) {
	srv := startServer(t)
	c, ev, err := zk.Connect([]string{srv.Addr()}, 20*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, ev, zk.StateHasSession)
	id := c.SessionID()
	if _, err := c.Create("/mine", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Stop(20 * time.Second); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	waitFor(t, ev, zk.StateDisconnected)
	if err := srv.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, zk.StateHasSession)
	if c.SessionID() != id {
		t.Fatalf("session %x became %x", id, c.SessionID())
	}
	_, st, err := c.Get("/mine")
	if err != nil || st.EphemeralOwner != id {
		t.Errorf("ephemeral after restart: %+v, %v", st, err)
	}
}

// TestPausedServer freezes the server with SIGSTOP: the client loses its
// connection, and once the server runs again it resumes its session, with
// its ephemeral node, and carries on.
func TestPausedServer(t *testing.T) {
	srv := startServer(t, "--tick-time", "100", "--max-session-timeout", "20000")
	c, ev, err := zk.Connect([]string{srv.Addr()}, 6*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(t, ev, zk.StateHasSession)
	id := c.SessionID()
	if _, err := c.Create("/frozen", nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, zk.StateDisconnected)
	if err := srv.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, ev, zk.StateHasSession)
	if c.SessionID() != id {
		t.Fatalf("session %x became %x", id, c.SessionID())
	}
	if _, err := c.Set("/frozen", []byte("thawed"), -1); err != nil {
		t.Errorf("write after the pause: %v", err)
	}
}

// TestAbandonedSessionExpires: a client that vanishes without closing its
// session loses it after the timeout, and its ephemeral node with it.
func TestAbandonedSessionExpires(t *testing.T) {
	srv := startServer(t, "--tick-time", "100")
	nc, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	fr := wire.NewFrameReader(nc, 0)
	nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{TimeOut: 500, Passwd: make([]byte, 16)}))
	var resp wire.ConnectResponse
	pkt, err := fr.Next()
	if err != nil || wire.Unmarshal(pkt, &resp) != nil || resp.SessionID == 0 || resp.TimeOut != 500 {
		t.Fatalf("handshake: %+v, %v", resp, err)
	}
	nc.Write(wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpCreate},
		&wire.CreateRequest{Path: "/gone", ACL: []wire.ACL{{Perms: zk.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}, Mode: 1}))
	var h wire.ReplyHeader
	if pkt, err = fr.Next(); err != nil || wire.Unmarshal(pkt, &h) != nil || h.Err != 0 {
		t.Fatalf("create: %+v, %v", h, err)
	}
	nc.Close() // no closeSession: the client just vanishes

	other, err := dial(srv.Addr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if ok, _, _ := other.Exists("/gone"); !ok {
		t.Fatal("ephemeral missing while its session lives")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, _, err := other.Exists("/gone")
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the abandoned session's ephemeral node stayed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestZkCli drives the server with ZooKeeper's own shell.
func TestZkCli(t *testing.T) {
	zkCli := "/usr/share/zookeeper/bin/zkCli.sh"
	if _, err := os.Stat(zkCli); err != nil {
		t.Fatalf("zkCli.sh is missing (%v); install it with: apt-get install -y zookeeper python3-kazoo", err)
	}
	srv := startServer(t)
	script := strings.Join([]string{
		"create /cli hello",
		"create -s /cli/seq- a",
		"create -e /cli/eph b",
		"get /cli",
		"set /cli world",
		"get -s /cli",
		"ls /cli",
		"addauth digest bob:pw",
		"create /cli/priv secret auth:bob:pw:cdrwa",
		"getAcl /cli/priv",
		"delete /cli/nope",
		"getAllChildrenNumber /cli",
		"getEphemerals /cli",
		"whoami",
		"sync /cli",
		"quit",
	}, "\n") + "\n"
	cmd := exec.Command(zkCli, "-server", srv.Addr())
	cmd.Stdin = strings.NewReader(script)
	cmd.Env = append(os.Environ(), "ZOO_LOG4J_PROP=ERROR,CONSOLE", "CLIENT_JVMFLAGS=-Dzookeeper.root.logger=ERROR,CONSOLE")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("zkCli.sh: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"Created /cli\n",
		"Created /cli/seq-0000000000",
		"hello\n",
		"dataVersion = 1",
		"[eph, seq-0000000000]",
		"'digest,'bob:",
		"Node does not exist: /cli/nope",
		"\n3\n",
		"[/cli/eph]",
		"digest: bob",
		"Sync is OK",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("zkCli.sh output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("zkCli.sh output:\n%s", text)
	}
}

// TestKazoo drives the server with kazoo, the Python client.
func TestKazoo(t *testing.T) {
	python := "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import kazoo").Run(); err != nil {
		t.Fatalf("kazoo is missing for %s (%v); install it with: apt-get install -y zookeeper python3-kazoo", python, err)
	}
	srv := startServer(t)
	script := `
import sys, threading
from kazoo.client import KazooClient
from kazoo.exceptions import NoNodeError, BadVersionError
zk = KazooClient(hosts=sys.argv[1]); zk.start(timeout=10)
zk.ensure_path("/kz/a/b")
zk.set("/kz/a", b"v1")
got = threading.Event(); seen = []
def watcher(ev):
    seen.append((ev.type, ev.path)); got.set()
data, st = zk.get("/kz/a", watch=watcher)
zk.set("/kz/a", b"v2")
got.wait(10)
print("watch", seen)
tx = zk.transaction()
tx.create("/kz/t1", b"x")
tx.check("/kz/a", 2)
tx.set_data("/kz/a", b"v3")
print("txn", tx.commit())
tx = zk.transaction()
tx.create("/kz/t2", b"x")
tx.check("/kz/a", 99)
res = tx.commit()
print("failed txn", [type(r).__name__ for r in res])
zk.create("/kz/e", b"", ephemeral=True, sequence=True)
print("children", sorted(zk.get_children("/kz")))
try:
    zk.set("/kz/a", b"x", version=0)
except BadVersionError:
    print("badversion ok")
try:
    zk.get("/kz/none")
except NoNodeError:
    print("nonode ok")
print("data", zk.get("/kz/a")[0])
zk.stop()
`
	out, err := exec.Command(python, "-c", script, srv.Addr()).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo: %v\n%s", err, out)
	}
	text := string(out)
	for _, want := range []string{
		"watch [('CHANGED', '/kz/a')]",
		"txn ['/kz/t1', True, ",
		"failed txn ['RolledBackError', 'BadVersionError']",
		"children ['a', 'e0000000002', 't1']",
		"badversion ok",
		"nonode ok",
		"data b'v3'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("kazoo output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("kazoo output:\n%s", text)
	}
}

func waitFor(t *testing.T, ev <-chan zk.Event, want zk.State) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				t.Fatal(errors.New("event channel closed"))
			}
			if e.State == want {
				return
			}
		case <-deadline:
			t.Fatalf("no %v event within 30s", want)
		}
	}
}
