package test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// readOnlyScript is a kazoo client that accepts read-only mode. It waits
// for a line on standard input before each phase: "cut" once the replica
// lost its quorum, "healed" once the quorum is back.
const readOnlyScript = `
import sys, time
from kazoo.client import KazooClient
from kazoo.protocol.states import KeeperState
from kazoo.exceptions import NotReadOnlyCallError

def wait_state(want, limit):
    t0 = time.time()
    while zk.client_state != want:
        if time.time() - t0 > limit:
            print("FAIL: state %s, want %s after %ds" % (zk.client_state, want, limit), flush=True)
            sys.exit(1)
        time.sleep(0.02)
    return time.time() - t0

zk = KazooClient(hosts=sys.argv[1], read_only=True, timeout=30, randomize_hosts=False)
zk.start(timeout=15)
print("connected", flush=True)
sys.stdin.readline()
took = wait_state(KeeperState.CONNECTED_RO, 30)
data, _ = zk.get("/ro-data")
if data != b"kept":
    print("FAIL: read %r in read-only mode" % data, flush=True)
    sys.exit(1)
try:
    zk.create("/ro-lost")
    print("FAIL: a write was accepted in read-only mode", flush=True)
    sys.exit(1)
except NotReadOnlyCallError:
    pass
print("read-only: connected read-only %.2fs after the cut, read ok, write NotReadOnly" % took, flush=True)
sys.stdin.readline()
took = wait_state(KeeperState.CONNECTED, 60)
zk.create("/ro-healed-", sequence=True)
print("healed: read-write again %.2fs after the heal, write ok" % took, flush=True)
zk.stop()
print("OK", flush=True)
`

// TestEnsembleReadOnlyMode cuts one replica off from its quorum by
// stopping the two others: once it is read-only (srvr says so), a kazoo
// client that accepts read-only mode keeps reading and gets NotReadOnly
// for a write, the replica's mount reads and fails writes at once with
// EROFS, and a new read-only client gets a session of the replica's own;
// when the two come back, the replica leaves read-only mode, the
// client writes again and so does the mount.
func TestEnsembleReadOnlyMode(t *testing.T) {
	requireKazoo(t)
	e := newTestEnsemble(t, 3, 0)
	leader := e.leader()
	// others stop in this order: the leader first, so that the client
	// on the other follower moves to the survivor after the survivor lost
	// its leader and before it is read-only.
	var survivor *member
	others := []*member{leader}
	for _, m := range e.members {
		switch {
		case m == leader:
		case survivor == nil:
			survivor = m
		default:
			others = append(others, m)
		}
	}
	c := connect(t, survivor.Addr(), 10*time.Second)
	if _, err := c.Create("/ro-data", []byte("kept"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	stdin, expect := startReadOnlyClient(t, survivor.Addr())
	// A second client, on a replica that will stop, resumes its session
	// on the survivor while the survivor still looks for a leader, as in
	// kazoo's own test_read_only.
	movedIn, movedExpect := startReadOnlyClient(t, others[1].Addr()+","+survivor.Addr())
	movedExpect("connected")
	expect("connected")

	// A reader of the cut-off replica's @watch is told when it goes
	// read-only and when it is back, and user.zk.mode says it meanwhile.
	if got := modeXattr(t, survivor.Mnt+"/ro-data"); got != "follower" {
		t.Errorf("user.zk.mode before the cut: %q, want follower", got)
	}
	watchLines := readWatch(t, survivor.Mnt+"/@watch")

	for _, m := range others {
		e.stop(m)
	}
	cut := time.Now()
	io.WriteString(stdin, "cut\n")
	io.WriteString(movedIn, "cut\n")
	logBefore := len(survivor.LogTail(1 << 30))
	eventually(t, 30*time.Second, "srvr reporting read-only", func() error {
		if got := mode(survivor); got != "read-only" {
			return fmt.Errorf("mode %q", got)
		}
		return nil
	})
	t.Logf("srvr reports read-only %v after the two others stopped", time.Since(cut).Round(time.Millisecond))
	out, err := FourLetter(survivor.Addr(), "isro", 2*time.Second)
	if err != nil || out != "ro" {
		t.Errorf("isro: %q %v, want ro", out, err)
	}

	waitWatchLine(t, watchLines, " ConnectedReadOnly /")
	if got := modeXattr(t, survivor.Mnt+"/ro-data"); got != "read-only" {
		t.Errorf("user.zk.mode in read-only mode: %q", got)
	}

	// The mount reads, and refuses writes at once.
	if b, err := os.ReadFile(survivor.Mnt + "/ro-data"); err != nil || string(b) != "kept" {
		t.Errorf("mount read in read-only mode: %q %v", b, err)
	}
	for what, write := range map[string]func() error{
		"overwrite": func() error { return os.WriteFile(survivor.Mnt+"/ro-data", []byte("lost"), 0o644) },
		"create":    func() error { return os.WriteFile(survivor.Mnt+"/ro-new", []byte("lost"), 0o644) },
		"mkdir":     func() error { return os.Mkdir(survivor.Mnt+"/ro-dir", 0o755) },
		"remove":    func() error { return os.Remove(survivor.Mnt + "/ro-data") },
	} {
		start := time.Now()
		err := write()
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("mount %s in read-only mode: %v, want EROFS", what, err)
		}
		t.Logf("mount %s in read-only mode failed after %v", what, time.Since(start).Round(time.Millisecond))
	}
	expect("read-only:")
	movedExpect("read-only:")
	// While it looked for a leader, the survivor held the handshakes of
	// clients that take read-only mode instead of turning them away.
	if log := survivor.LogTail(1 << 30)[logBefore:]; strings.Contains(log, "refusing to resume session") || strings.Contains(log, "not yet read-only") {
		t.Errorf("the survivor turned a read-only client away during the grace:\n%s", grepLines(log, "refusing to resume session")+grepLines(log, "not yet read-only"))
	}

	// A new client that accepts read-only mode gets a session of the
	// replica's own (ZooKeeper's local session) and reads.
	freshReadOnlyClient(t, survivor.Addr())

	e.startAll(others...)
	io.WriteString(stdin, "healed\n")
	io.WriteString(movedIn, "healed\n")
	eventually(t, 30*time.Second, "srvr leaving read-only", func() error {
		if got := mode(survivor); got == "read-only" || got == "" {
			return fmt.Errorf("mode %q", got)
		}
		return nil
	})
	waitWatchLine(t, watchLines, " SyncConnected /")
	if got := modeXattr(t, survivor.Mnt+"/ro-data"); got == "read-only" {
		t.Errorf("user.zk.mode after the heal: %q", got)
	}
	eventually(t, 30*time.Second, "a mount write with the quorum back", func() error {
		return os.WriteFile(survivor.Mnt+"/ro-data", []byte("healed"), 0o644)
	})
	expect("healed:")
	expect("OK")
	movedExpect("healed:")
	movedExpect("OK")
}

// startReadOnlyClient runs readOnlyScript against hosts (tried in their
// order); it returns the script's standard input and a function that waits
// for a line with a prefix, failing the test on a FAIL line.
func startReadOnlyClient(t *testing.T, hosts string) (io.Writer, func(prefix string)) {
	t.Helper()
	py := exec.Command(kazooPython, "-c", readOnlyScript, hosts)
	stdin, err := py.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := py.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	py.Stderr = py.Stdout
	if err := py.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { py.Process.Kill(); py.Wait() })
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	expect := func(prefix string) {
		t.Helper()
		var seen []string
		timeout := time.After(90 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("kazoo (%s) exited before %q:\n%s", hosts, prefix, strings.Join(seen, "\n"))
				}
				seen = append(seen, l)
				if strings.HasPrefix(l, prefix) {
					t.Logf("kazoo (%s): %s", hosts, l)
					return
				}
				if strings.HasPrefix(l, "FAIL") {
					t.Fatalf("kazoo (%s): %s", hosts, strings.Join(seen, "\n"))
				}
			case <-timeout:
				t.Fatalf("no %q from kazoo (%s):\n%s", prefix, hosts, strings.Join(seen, "\n"))
			}
		}
	}
	return stdin, expect
}

// modeXattr reads user.zk.mode of a path on a mount.
func modeXattr(t *testing.T, path string) string {
	t.Helper()
	buf := make([]byte, 64)
	n, err := syscall.Getxattr(path, "user.zk.mode", buf)
	if err != nil {
		t.Fatalf("getxattr user.zk.mode %s: %v", path, err)
	}
	return string(buf[:n])
}

// readWatch opens an @watch file and streams its lines until its mount
// goes. The reader closes the file itself: a close from another goroutine
// would wait for the read in progress, which an event stream never ends.
func readWatch(t *testing.T, path string) <-chan string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1024)
	go func() {
		defer f.Close()
		s := bufio.NewScanner(f)
		for s.Scan() {
			select {
			case lines <- s.Text():
			default: // nobody reads any more
			}
		}
	}()
	return lines
}

// waitWatchLine waits for an @watch line that contains want and starts
// with a zxid.
func waitWatchLine(t *testing.T, lines <-chan string, want string) {
	t.Helper()
	var seen []string
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l := <-lines:
			seen = append(seen, l)
			if strings.Contains(l, want) {
				if !strings.HasPrefix(l, "0x") {
					t.Errorf("@watch line %q has no zxid", l)
				}
				return
			}
		case <-timeout:
			t.Fatalf("no @watch line with %q; saw %q", want, seen)
		}
	}
}
