package test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestEnsembleReadOnlyAfterStartWithoutQuorum starts one replica of three
// while the two others are down, as kazoo's test_read_only does when the
// test before it had just restarted that replica. It can join no quorum,
// so after the read-only grace it serves read-only clients from the tree
// it loaded, as ZooKeeper's read-only server does from startup, and its
// mount waits for the quorum (its session is the leader's to create). When
// the two others are back it serves read-write, and its mount comes up.
func TestEnsembleReadOnlyAfterStartWithoutQuorum(t *testing.T) {
	requireKazoo(t)
	e := newTestEnsemble(t, 3, 0)
	survivor := e.members[0]
	c := connect(t, survivor.Addr(), 10*time.Second)
	if _, err := c.Create("/ro-data", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Every replica has it before they stop, so the survivor loads it.
	for _, m := range e.members {
		eventually(t, 10*time.Second, "/ro-data on every mount", fileIs(m.Mnt+"/ro-data", "kept"))
	}
	c.Close()
	for _, m := range e.members {
		e.stop(m)
	}

	start := time.Now()
	if err := survivor.Start(30 * time.Second); err != nil {
		t.Fatalf("a replica started without a quorum never served: %v", err)
	}
	t.Logf("serving %v after its start", time.Since(start).Round(time.Millisecond))
	if got := mode(survivor); got != "read-only" {
		t.Errorf("srvr mode %q, want read-only", got)
	}
	freshReadOnlyClient(t, survivor.Addr())
	if isMounted(survivor.Mnt) {
		t.Errorf("the mount is up without a quorum")
	}

	e.startAll(e.members[1:]...)
	eventually(t, 30*time.Second, "srvr leaving read-only", func() error {
		if got := mode(survivor); got == "read-only" || got == "" {
			return fmt.Errorf("mode %q", got)
		}
		return nil
	})
	rw := connect(t, survivor.Addr(), 10*time.Second)
	if _, err := rw.Create("/ro-healed", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("a write through the replica with the quorum back: %v", err)
	}
	eventually(t, 30*time.Second, "the mount once the quorum is back", fileIs(survivor.Mnt+"/ro-data", "kept"))
}

// TestEnsembleMemberStopsCleanlyWhileWaiting stops a server that is still
// waiting for its ensemble (a joiner that no member added): SIGTERM is a
// requested stop, so it exits 0 as it does once serving, rather than
// reporting the interrupted wait as a failure.
func TestEnsembleMemberStopsCleanlyWhileWaiting(t *testing.T) {
	e := newTestEnsemble(t, 1, 0)
	m := e.newMember(2, false)
	m.Args = append(m.Args, "--join")
	e.writeConfig(m, append([]*member{m}, e.members...))
	started := make(chan error, 1)
	go func() { started <- m.Start(time.Minute) }()
	eventually(t, 30*time.Second, "the joiner waiting for its ensemble", func() error {
		if !strings.Contains(m.LogTail(100000), "waiting for the ensemble") {
			return fmt.Errorf("not yet")
		}
		return nil
	})
	if err := m.Stop(20 * time.Second); err != nil {
		t.Errorf("SIGTERM while waiting for the ensemble: %v, want exit status 0\n%s", err, m.LogTail(2000))
	}
	if err := <-started; err == nil {
		t.Errorf("the joiner served before any member added it")
	}
}

// freshReadOnlyScript is a new kazoo client that accepts read-only mode: it
// must be connected read-only, read /ro-data as "kept" and get NotReadOnly
// for a write.
const freshReadOnlyScript = `
import sys
from kazoo.client import KazooClient
from kazoo.protocol.states import KeeperState
from kazoo.exceptions import NotReadOnlyCallError
zk = KazooClient(hosts=sys.argv[1], read_only=True)
zk.start(timeout=15)
assert zk.client_state == KeeperState.CONNECTED_RO, zk.client_state
data, _ = zk.get("/ro-data")
assert data == b"kept", data
try:
    zk.create("/ro-fresh")
    raise SystemExit("a write was accepted")
except NotReadOnlyCallError:
    pass
zk.stop()
print("OK")
`

// freshReadOnlyClient runs freshReadOnlyScript against addr.
func freshReadOnlyClient(t *testing.T, addr string) {
	t.Helper()
	if out, err := exec.Command(kazooPython, "-c", freshReadOnlyScript, addr).CombinedOutput(); err != nil || !strings.HasSuffix(strings.TrimSpace(string(out)), "OK") {
		t.Errorf("a new read-only client: %v\n%s", err, out)
	}
}
