package test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountRenameKeepsLifetime renames nodes whose lifetime is not
// persistent through the mount: an ephemeral of another session cannot be
// moved (EPERM, nothing changes, and it dies with its session); an
// ephemeral of the mount's own session (a flock contender) moves and stays
// an ephemeral of that session, gone once the mount's session closes; a
// TTL node keeps its TTL and is reaped under its new name; an ephemeral
// is not renamed over a persistent file.
func TestMountRenameKeepsLifetime(t *testing.T) {
	m := startMounted(t, "--container-check-interval", "200ms")
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir app && echo persistent > app/p")
	other := connect(t, m.Addr(), 10*time.Second)
	if _, err := other.Create("/app/eph", []byte("lock"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	m.fails(t, "mv app/eph app/eph2", "Operation not permitted")
	m.fails(t, "mv app/eph app/p", "Operation not permitted")
	if ok, st, _ := zc.Exists("/app/eph"); !ok || st.EphemeralOwner != other.SessionID() {
		t.Errorf("a refused rename changed /app/eph (exists %v)", ok)
	}
	for _, p := range []string{"/app/eph2"} {
		if ok, _, _ := zc.Exists(p); ok {
			t.Errorf("a refused rename created %s", p)
		}
	}
	if data, _, _ := zc.Get("/app/p"); string(data) != "persistent\n" {
		t.Errorf("a refused rename over /app/p left %q", data)
	}
	other.Close()
	waitGone(t, zc, "/app/eph")

	// A TTL node keeps its TTL: reaped under its new name.
	if _, err := zc.CreateTTL("/app/ttl", []byte("t"), zk.FlagTTL, zk.WorldACL(zk.PermAll), 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	m.ok(t, "mv app/ttl app/ttl2")
	waitGone(t, zc, "/app/ttl2")

	// An ephemeral of the mount's own session: a flock contender.
	m.ok(t, "mkdir locks && echo job > locks/job")
	hold := exec.Command("flock", m.path("locks/job"), "sleep", "600")
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { hold.Process.Kill(); hold.Wait() }()
	var contender string
	var owner int64
	for deadline := time.Now().Add(20 * time.Second); contender == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		kids, _, _ := zc.Children("/zkfs/flock/locks/job")
		for _, k := range kids {
			if _, st, err := zc.Get("/zkfs/flock/locks/job/" + k); err == nil && st.EphemeralOwner != 0 {
				contender, owner = k, st.EphemeralOwner
			}
		}
	}
	if contender == "" {
		t.Fatal("no flock contender appeared")
	}
	m.ok(t, "mv zkfs/flock/locks/job/"+contender+" zkfs/flock/locks/job/moved")
	_, st, err := zc.Get("/zkfs/flock/locks/job/moved")
	if err != nil || st.EphemeralOwner != owner {
		t.Fatalf("the moved contender: owner %#x (%v), want the mount's session %#x", st.EphemeralOwner, err, owner)
	}
	hold.Process.Kill()
	hold.Wait()
	// Once the mount's session closes (the server unmounts), the moved
	// node goes with it.
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	zc2 := connect(t, m.Addr(), 10*time.Second)
	waitGone(t, zc2, "/zkfs/flock/locks/job/moved")
	if got := m.ok(t, "ls zkfs/flock/locks/job 2>/dev/null || true"); strings.Contains(got, "moved") {
		t.Errorf("the mount still lists the moved contender: %q", got)
	}
}

// waitGone polls until path no longer exists.
func waitGone(t *testing.T, zc *zk.Conn, path string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ok, _, err := zc.Exists(path)
		if err == nil && !ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still exists after 30 s", path)
		}
	}
}
