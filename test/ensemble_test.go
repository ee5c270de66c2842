package test

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// member is one replica of a test ensemble: a `zkfs server --config
// zoo.cfg --mount DIR` process with its own data directory, zoo.cfg and
// mount, all on loopback.
type member struct {
	*Server
	ID      int
	Mnt     string
	Cfg     string
	peer    int
	elect   int
	observe bool
	// Metrics is the member's metrics and admin HTTP port.
	Metrics int
}

// testEnsemble is a set of members that share one zoo.cfg server list.
type testEnsemble struct {
	t       *testing.T
	members []*member
	extra   []string
}

// newTestEnsemble prepares voters+observers members, writes their zoo.cfg
// and myid files, and starts them all at once (in any order, as the seed
// scenario requires).
func newTestEnsemble(t *testing.T, voters, observers int, extra ...string) *testEnsemble {
	t.Helper()
	e := &testEnsemble{t: t, extra: extra}
	for i := 1; i <= voters+observers; i++ {
		e.members = append(e.members, e.newMember(i, i > voters))
	}
	for _, m := range e.members {
		e.writeConfig(m, e.members)
	}
	t.Cleanup(func() {
		for _, m := range e.members {
			e.stop(m)
		}
		if t.Failed() {
			for _, m := range e.members {
				t.Logf("server %d log (tail):\n%s", m.ID, m.LogTail(3000))
			}
		}
	})
	e.startAll(e.members...)
	return e
}

func (e *testEnsemble) newMember(id int, observer bool) *member {
	e.t.Helper()
	dir := e.t.TempDir()
	ports := make([]int, 3)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			e.t.Fatal(err)
		}
		ports[i] = p
	}
	m := &member{ID: id, Mnt: filepath.Join(dir, "mnt"), Cfg: filepath.Join(dir, "zoo.cfg"), peer: ports[0], elect: ports[1], observe: observer, Metrics: ports[2]}
	s, err := NewServer(zkfsBin, dir, append([]string{"--config", m.Cfg, "--mount", m.Mnt,
		"--metrics-address", "127.0.0.1", "--metrics-port", fmt.Sprint(m.Metrics)}, e.extra...)...)
	if err != nil {
		e.t.Fatal(err)
	}
	m.Server = s
	return m
}

// serverLine is the member's zoo.cfg line.
func (m *member) serverLine() string {
	role := "participant"
	if m.observe {
		role = "observer"
	}
	return fmt.Sprintf("server.%d=127.0.0.1:%d:%d:%s;127.0.0.1:%d", m.ID, m.peer, m.elect, role, m.ClientPort)
}

func (e *testEnsemble) writeConfig(m *member, all []*member) {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n", m.DataDir, m.ClientPort)
	for _, o := range all {
		b.WriteString(o.serverLine() + "\n")
	}
	if err := os.WriteFile(m.Cfg, []byte(b.String()), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.writeMyID(m)
}

func (e *testEnsemble) writeMyID(m *member) {
	if err := os.MkdirAll(m.DataDir, 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(m.DataDir, "myid"), []byte(fmt.Sprintf("%d\n", m.ID)), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// startAll starts members concurrently: an ensemble member serves only
// once a quorum is up.
func (e *testEnsemble) startAll(ms ...*member) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, len(ms))
	for i, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = m.Start(60 * time.Second)
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			e.t.Fatal(err)
		}
	}
	// A member that found no quorum within the read-only grace serves
	// read-only clients before its mount is up: the mount waits for the
	// quorum, as long as a start may.
	for _, m := range ms {
		deadline := time.Now().Add(60 * time.Second)
		for !mountAnswers(m.Mnt) {
			if time.Now().After(deadline) {
				e.t.Fatalf("server %d: no mount at %s", m.ID, m.Mnt)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func (e *testEnsemble) stop(m *member) {
	if err := m.Stop(20 * time.Second); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			e.t.Errorf("stopping server %d: %v", m.ID, err)
		}
	}
	if isMounted(m.Mnt) {
		exec.Command("umount", "-l", m.Mnt).Run()
	}
}

// mode asks a member for its mode with srvr.
func mode(m *member) string {
	out, err := FourLetter(m.Addr(), "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func (e *testEnsemble) leader() *member {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range e.members {
			if m.Running() && mode(m) == "leader" {
				return m
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.t.Fatal("no leader")
	return nil
}

// eventually retries f until it returns nil or the time runs out.
func eventually(t *testing.T, d time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readFile(path string) error {
	_, err := os.ReadFile(path)
	return err
}

func fileIs(path, want string) func() error {
	return func() error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if string(b) != want {
			return fmt.Errorf("%s holds %q, want %q", path, b, want)
		}
		return nil
	}
}

func TestEnsembleOfThreeProcesses(t *testing.T) {
	e := newTestEnsemble(t, 3, 0, "--snap-count", "200", "--trailing-logs", "20")
	m1, m2, m3 := e.members[0], e.members[1], e.members[2]

	modes := map[string]int{}
	for _, m := range e.members {
		modes[mode(m)]++
	}
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Fatalf("srvr modes %v, want one leader and two followers", modes)
	}

	// A write through one mount is readable on the other two mounts and
	// through every client port.
	if err := os.WriteFile(filepath.Join(m1.Mnt, "greeting"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.members {
		eventually(t, 5*time.Second, fmt.Sprintf("mount %d", m.ID), fileIs(filepath.Join(m.Mnt, "greeting"), "hello\n"))
		c := connect(t, m.Addr(), 5*time.Second)
		if _, err := c.Sync("/greeting"); err != nil {
			t.Fatal(err)
		}
		data, _, err := c.Get("/greeting")
		if err != nil || string(data) != "hello\n" {
			t.Fatalf("client port of %d: %q %v", m.ID, data, err)
		}
	}
	var cfg []byte
	c2 := connect(t, m2.Addr(), 5*time.Second)
	cfg, _, err := c2.Get("/zookeeper/config")
	if err != nil || !strings.Contains(string(cfg), m3.serverLine()) {
		t.Errorf("/zookeeper/config = %q (%v), want it to list %q", cfg, err, m3.serverLine())
	}

	// A client with an ephemeral node and a watch, connected to a
	// follower, rides the leader's SIGKILL.
	old := e.leader()
	var follower *member
	for _, m := range e.members {
		if m != old {
			follower = m
			break
		}
	}
	// go-zookeeper shuffles the servers; a client of one follower keeps
	// the test about failover of the leader, not of the client's server.
	rider, ev, err := zk.Connect([]string{follower.Addr()}, 6*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer rider.Close()
	go func() {
		for range ev {
		}
	}()
	if _, err := rider.Create("/rider", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := rider.Create("/watched", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := rider.GetW("/watched")
	if err != nil {
		t.Fatal(err)
	}

	if err := old.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	var survivor *member
	for _, m := range e.members {
		if m != old && m != follower {
			survivor = m
		}
	}
	sc := connect(t, survivor.Addr(), 5*time.Second)
	eventually(t, 20*time.Second, "writes after the leader's death", func() error {
		_, err := sc.Set("/watched", []byte("1"), -1)
		return err
	})
	t.Logf("writes resumed %v after SIGKILL of the leader", time.Since(killed).Round(time.Millisecond))
	if m := e.leader(); m == old {
		t.Fatal("the killed server is still the leader")
	}
	select {
	case got := <-watch:
		if got.Type != zk.EventNodeDataChanged || got.Path != "/watched" {
			t.Errorf("watch fired %+v, want NodeDataChanged /watched", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not fire after failover")
	}
	if _, _, err := sc.Get("/rider"); err != nil {
		t.Errorf("ephemeral node lost in failover: %v", err)
	}
	if data, _, err := rider.Get("/watched"); err != nil || string(data) != "1" {
		t.Errorf("rider reads %q %v after failover", data, err)
	}

	// The killed server restarts and catches up.
	if err := old.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "mount of the restarted server", fileIs(filepath.Join(old.Mnt, "watched"), "1"))

	// Enough writes for snapshots and log compaction, then a replica
	// wiped clean rejoins and catches up through a snapshot.
	for i := 0; i < 600; i++ {
		if _, err := sc.Create(fmt.Sprintf("/bulk%03d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	wiped := m1
	if wiped == e.leader() {
		wiped = m2
	}
	// The leader's log must be compacted past index 1, so that the wiped
	// replica can only catch up through a snapshot; it takes seconds to
	// stop, wipe and start, long after the compaction that follows the
	// snapshot in raft's snapshot goroutine.
	waitForSnapshot(t, e.leader().Server, 200)
	e.stop(wiped)
	if err := wiped.WipeData(); err != nil {
		t.Fatal(err)
	}
	e.writeMyID(wiped)
	if err := wiped.Start(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "wiped replica catching up", fileIs(filepath.Join(wiped.Mnt, "bulk599"), "599"))
	if !strings.Contains(wiped.LogTail(1<<20), "restored the tree from a snapshot") {
		t.Errorf("the wiped replica caught up without installing a snapshot")
	}

	// Restarting the whole ensemble loses nothing.
	for _, m := range e.members {
		e.stop(m)
	}
	e.startAll(e.members...)
	for _, m := range e.members {
		eventually(t, 10*time.Second, fmt.Sprintf("mount %d after full restart", m.ID), fileIs(filepath.Join(m.Mnt, "bulk000"), "0"))
		if err := readFile(filepath.Join(m.Mnt, "greeting")); err != nil {
			t.Errorf("server %d lost /greeting: %v", m.ID, err)
		}
	}
}

func TestEnsembleObserverForwardsWrites(t *testing.T) {
	e := newTestEnsemble(t, 3, 1)
	obs := e.members[3]
	if got := mode(obs); got != "observer" {
		t.Fatalf("server 4 srvr mode %q, want observer", got)
	}
	if err := os.WriteFile(filepath.Join(obs.Mnt, "via-observer"), []byte("seen"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := connect(t, obs.Addr(), 5*time.Second)
	if _, err := c.Create("/client-via-observer", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.members[:3] {
		eventually(t, 5*time.Second, fmt.Sprintf("server %d sees the observer's write", m.ID), fileIs(filepath.Join(m.Mnt, "via-observer"), "seen"))
	}
}

// superDigest is the --super-digest for user super, password secret.
func superDigest() string {
	sum := sha1.Sum([]byte("super:secret"))
	return "super:" + base64.StdEncoding.EncodeToString(sum[:])
}

func TestEnsembleReconfigAddAndRemove(t *testing.T) {
	e := newTestEnsemble(t, 3, 0, "--super-digest", superDigest())
	m1 := e.members[0]

	// A fourth server starts with --join: it waits, without bootstrapping,
	// until a member adds it.
	m4 := e.newMember(4, false)
	m4.Args = append(m4.Args, "--join")
	all := append(append([]*member{}, e.members...), m4)
	e.writeConfig(m4, all)
	e.members = all
	started := make(chan error, 1)
	go func() { started <- m4.Start(90 * time.Second) }()

	// A reconfig is checked as ZooKeeper checks it: its arguments, then
	// the configuration version it names, then the caller's rights
	// (kazoo's test_bad_input and test_add_remove_observer).
	anon := connect(t, m1.Addr(), 5*time.Second)
	if _, err := anon.IncrementalReconfig([]string{"some thing"}, nil, -1); !errors.Is(err, zk.ErrBadArguments) {
		t.Errorf("reconfig with a bad server spec and no rights: %v, want BadArguments", err)
	}
	if _, err := anon.IncrementalReconfig([]string{m4.serverLine()}, nil, 1<<40); !errors.Is(err, zk.ErrBadVersion) {
		t.Errorf("reconfig from a future version and no rights: %v, want BadVersion", err)
	}
	if _, err := anon.IncrementalReconfig([]string{m4.serverLine()}, nil, -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("a valid reconfig with no rights: %v, want NoAuth", err)
	}
	// Without ADMIN on /zookeeper/config, reconfig is refused.
	out, err := exec.Command(zkfsBin, "reconfig", "-server", m1.Addr(), "-add", m4.serverLine()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "Insufficient permission") {
		t.Fatalf("reconfig without auth: %v\n%s", err, out)
	}
	out, err = exec.Command(zkfsBin, "reconfig", "-server", m1.Addr(), "--auth", "digest:super:secret", "-add", m4.serverLine()).CombinedOutput()
	if err != nil {
		t.Fatalf("zkfs reconfig -add: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Committed new configuration:") || !strings.Contains(string(out), "server.4=") {
		t.Errorf("zkfs reconfig printed:\n%s", out)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	// The mount appears just after the client port: writing before it
	// would land in the directory underneath.
	eventually(t, 10*time.Second, "server 4's mount", func() error {
		if !mountAnswers(m4.Mnt) {
			return errors.New("not mounted yet")
		}
		return nil
	})
	if err := os.WriteFile(filepath.Join(m4.Mnt, "from-four"), []byte("4"), 0o644); err != nil {
		t.Fatal(err)
	}
	c1 := connect(t, m1.Addr(), 5*time.Second)
	eventually(t, 5*time.Second, "server 1's client port sees server 4's write", func() error {
		_, _, err := c1.Get("/from-four")
		return err
	})
	eventually(t, 5*time.Second, "server 1 sees server 4's write", fileIs(filepath.Join(m1.Mnt, "from-four"), "4"))

	// kazoo's reconfig removes a follower.
	victim := e.members[1]
	if victim == e.leader() {
		victim = e.members[2]
	}
	script := `
import sys
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], auth_data=[("digest", "super:secret")])
zk.start(timeout=15)
data, stat = zk.reconfig(joining=None, leaving=sys.argv[2], new_members=None)
print(data.decode())
zk.stop()
`
	out, err = exec.Command("/usr/bin/python3", "-c", script, m4.Addr(), fmt.Sprint(victim.ID)).CombinedOutput()
	if err != nil {
		t.Fatalf("kazoo reconfig: %v\n%s", err, out)
	}
	if strings.Contains(string(out), fmt.Sprintf("server.%d=", victim.ID)) {
		t.Errorf("server %d still listed after kazoo's reconfig:\n%s", victim.ID, out)
	}
	e.stop(victim)
	c := connect(t, m4.Addr(), 5*time.Second)
	if _, err := c.Create("/after-remove", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("write after removing a member: %v", err)
	}
	data, _, err := c.Get("/zookeeper/config")
	if err != nil || strings.Contains(string(data), fmt.Sprintf("server.%d=", victim.ID)) || !strings.Contains(string(data), "server.4=") {
		t.Errorf("/zookeeper/config after the changes: %q %v", data, err)
	}
}

func TestEnsembleClientMovesToAnotherReplica(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	var addrs []string
	for _, m := range e.members {
		addrs = append(addrs, m.Addr())
	}
	c, ev, err := zk.Connect(addrs, 6*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	states := make(chan zk.State, 100)
	go func() {
		for e := range ev {
			states <- e.State
		}
	}()
	eventually(t, 10*time.Second, "session", func() error {
		if c.State() != zk.StateHasSession {
			return fmt.Errorf("state %v", c.State())
		}
		return nil
	})
	session := c.SessionID()
	if _, err := c.Create("/mover", []byte("eph"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/moved-watch", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	_, _, watch, err := c.GetW("/moved-watch")
	if err != nil {
		t.Fatal(err)
	}
	var home *member
	for _, m := range e.members {
		if m.Addr() == c.Server() {
			home = m
		}
	}
	if home == nil {
		t.Fatalf("client connected to unknown server %s", c.Server())
	}
	if err := home.Kill(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "reconnection to another replica", func() error {
		if c.State() != zk.StateHasSession || c.Server() == home.Addr() {
			return fmt.Errorf("state %v on %s", c.State(), c.Server())
		}
		return nil
	})
	if c.SessionID() != session {
		t.Fatalf("session changed from 0x%x to 0x%x", session, c.SessionID())
	}
	var other *member
	for _, m := range e.members {
		if m != home && m.Addr() != c.Server() {
			other = m
		}
	}
	oc := connect(t, other.Addr(), 5*time.Second)
	eventually(t, 10*time.Second, "a write after the move", func() error {
		_, err := oc.Set("/moved-watch", []byte("1"), -1)
		return err
	})
	select {
	case got := <-watch:
		if got.Type != zk.EventNodeDataChanged {
			t.Errorf("watch fired %+v, want NodeDataChanged", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the watch did not follow the session to its new replica")
	}
	if _, _, err := oc.Get("/mover"); err != nil {
		t.Errorf("the ephemeral node did not survive the move: %v", err)
	}
	for {
		select {
		case s := <-states:
			if s == zk.StateExpired {
				t.Fatal("the session expired during the move")
			}
			continue
		default:
		}
		break
	}
}

func TestEnsembleKindChangeReachesOtherMounts(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	m1, m2 := e.members[0], e.members[1]
	if err := os.WriteFile(filepath.Join(m1.Mnt, "k"), []byte("v"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Let m2's kernel cache the node as a file.
	eventually(t, 5*time.Second, "m2 sees the file", fileIs(filepath.Join(m2.Mnt, "k"), "v"))
	if out, err := exec.Command("setfattr", "-n", "user.zk.kind", "-v", "dir", filepath.Join(m1.Mnt, "k")).CombinedOutput(); err != nil {
		t.Fatalf("setfattr: %v\n%s", err, out)
	}
	eventually(t, 5*time.Second, "m2 sees a directory", func() error {
		fi, err := os.Stat(filepath.Join(m2.Mnt, "k"))
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("mode %v", fi.Mode())
		}
		return nil
	})
	eventually(t, 5*time.Second, "m2 reads the data in @data", fileIs(filepath.Join(m2.Mnt, "k", "@data"), "v"))
}
