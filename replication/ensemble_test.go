package replication

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"zkfs/tree"
)

// freeAddrs reserves n distinct loopback ports.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

type ensemble struct {
	t     *testing.T
	mod   func(i int, c *Config)
	peers []Peer
	dirs  []string
	reps  []*Replica
}

func newEnsemble(t *testing.T, voters, observers int) *ensemble {
	return newEnsembleWith(t, voters, observers, nil)
}

func newEnsembleWith(t *testing.T, voters, observers int, mod func(i int, c *Config)) *ensemble {
	n := voters + observers
	addrs := freeAddrs(t, 2*n)
	e := &ensemble{t: t, mod: mod}
	for i := 0; i < n; i++ {
		e.peers = append(e.peers, Peer{ID: fmt.Sprint(i + 1), RaftAddr: addrs[2*i], RPCAddr: addrs[2*i+1], Observer: i >= voters})
		e.dirs = append(e.dirs, t.TempDir())
	}
	e.reps = make([]*Replica, n)
	for i := range e.reps {
		e.start(i)
	}
	t.Cleanup(func() {
		for i := range e.reps {
			e.stop(i)
		}
	})
	for i := range e.reps {
		e.ready(i)
	}
	return e
}

func (e *ensemble) start(i int) {
	cfg := Config{
		DataDir: e.dirs[i], ID: e.peers[i].ID, Peers: e.peers,
		TickTime: time.Second, SessionTick: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if e.mod != nil {
		e.mod(i, &cfg)
	}
	r, err := Open(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.reps[i] = r
}

func (e *ensemble) ready(i int) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.reps[i].WaitReady(ctx); err != nil {
		e.t.Fatalf("replica %d: %v", i+1, err)
	}
}

func (e *ensemble) stop(i int) {
	if e.reps[i] != nil {
		e.reps[i].Close()
		e.reps[i] = nil
	}
}

func (e *ensemble) leader() int {
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for i, r := range e.reps {
			if r != nil && r.IsLeader() {
				return i
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	e.t.Fatal("no leader")
	return -1
}

func (e *ensemble) follower() int {
	l := e.leader()
	for i, r := range e.reps {
		if r != nil && i != l {
			return i
		}
	}
	e.t.Fatal("no follower")
	return -1
}

func TestEnsembleWritesThroughAnyReplica(t *testing.T) {
	e := newEnsemble(t, 3, 1)
	for i, r := range e.reps {
		res := propose(t, r, tree.Create{Path: fmt.Sprintf("/from%d", i+1), Data: []byte(fmt.Sprint(i + 1)), ACL: tree.OpenACL})
		if res.Err != nil {
			t.Fatalf("write through replica %d (%s): %v", i+1, r.Mode(), res.Err)
		}
		// Read-your-writes on the replica that took the write.
		if got, _, err := getData(r, fmt.Sprintf("/from%d", i+1)); err != nil || got != fmt.Sprint(i+1) {
			t.Fatalf("replica %d does not see its own write: %q %v", i+1, got, err)
		}
	}
	// Sync makes every replica see every write.
	for i, r := range e.reps {
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		for j := range e.reps {
			if _, _, err := getData(r, fmt.Sprintf("/from%d", j+1)); err != nil {
				t.Errorf("replica %d after sync misses /from%d: %v", i+1, j+1, err)
			}
		}
	}
	if got := e.reps[3].Mode(); got != "observer" {
		t.Errorf("replica 4 mode %q, want observer", got)
	}
	modes := map[string]int{}
	for _, r := range e.reps {
		modes[r.Mode()]++
	}
	if modes["leader"] != 1 || modes["follower"] != 2 {
		t.Errorf("modes %v, want one leader and two followers", modes)
	}
}

func TestEnsemblePipelinedForwardsKeepOrder(t *testing.T) {
	e := newEnsemble(t, 3, 0)
	f := e.reps[e.follower()]
	propose(t, f, tree.Create{Path: "/seq", ACL: tree.OpenACL})
	ctx := context.Background()
	var props []*Proposal
	for i := 0; i < 300; i++ {
		props = append(props, f.Submit(ctx, 0, tree.Identity{}, tree.SetData{Path: "/seq", Data: []byte(fmt.Sprint(i)), Version: int32(i)}))
	}
	for i, p := range props {
		res, _, err := p.Wait(ctx)
		if err != nil || res.Err != nil {
			t.Fatalf("write %d: %v %v (out of order writes fail their version check)", i, err, res.Err)
		}
	}
}

func TestEnsembleSurvivesLeaderLoss(t *testing.T) {
	e := newEnsemble(t, 3, 0)
	f := e.reps[e.follower()]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	id, pw, err := f.CreateSession(ctx, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := f.Propose(ctx, id, tree.Identity{}, tree.Create{Path: "/eph", ACL: tree.OpenACL, Mode: tree.ModeEphemeral}); err != nil || res.Err != nil {
		t.Fatal(err, res.Err)
	}
	propose(t, f, tree.Create{Path: "/before", ACL: tree.OpenACL})

	old := e.leader()
	e.stop(old)
	start := time.Now()
	var survivor *Replica
	for i, r := range e.reps {
		if r != nil && i != old {
			survivor = r
		}
	}
	for {
		f.TouchSession(id)
		c, cancel := context.WithTimeout(context.Background(), time.Second)
		res, err := survivor.Propose(c, 0, tree.Identity{}, tree.Create{Path: "/after", ACL: tree.OpenACL})
		cancel()
		// NodeExists: an earlier try whose wait ran out was applied.
		if err == nil && (res.Err == nil || errors.Is(res.Err, tree.ErrNodeExists)) {
			break
		}
		if time.Since(start) > 15*time.Second {
			t.Fatalf("writes did not resume: %v %v", err, res.Err)
		}
	}
	t.Logf("writes resumed %v after the leader stopped", time.Since(start).Round(time.Millisecond))
	for _, r := range e.reps {
		if r == nil {
			continue
		}
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, _, err := getData(r, "/before"); err != nil {
			t.Errorf("acknowledged write lost: %v", err)
		}
		if _, _, err := getData(r, "/eph"); err != nil {
			t.Errorf("ephemeral node of a live session lost in failover: %v", err)
		}
		if err := r.CheckSession(id, pw); err != nil {
			t.Errorf("session lost in failover: %v", err)
		}
	}
	// Restart the old leader: it catches up.
	e.start(old)
	e.ready(old)
	if _, _, err := getData(e.reps[old], "/after"); err != nil {
		t.Errorf("restarted replica did not catch up: %v", err)
	}
	// Once nobody touches the session, the new leader expires it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, _, err := getData(survivor, "/eph"); errors.Is(err, tree.ErrNoNode) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("quiet session was never expired by the new leader")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestEnsembleMembershipChanges(t *testing.T) {
	e := newEnsemble(t, 3, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	propose(t, e.reps[0], tree.Create{Path: "/x", Data: []byte("1"), ACL: tree.OpenACL})

	// A fourth replica joins: it starts without bootstrapping, then a
	// member adds it.
	addrs := freeAddrs(t, 2)
	p4 := Peer{ID: "4", RaftAddr: addrs[0], RPCAddr: addrs[1], ClientAddr: "127.0.0.1:2184"}
	r4, err := Open(Config{DataDir: t.TempDir(), ID: "4", Peers: append(append([]Peer{}, e.peers...), p4), Join: true,
		TickTime: time.Second, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r4.Close()
	f := e.reps[e.follower()]
	if err := f.Reconfig(ctx, []Peer{p4}, nil); err != nil {
		t.Fatal(err)
	}
	if err := r4.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if got, _, err := getData(r4, "/x"); err != nil || got != "1" {
		t.Fatalf("new member did not catch up: %q %v", got, err)
	}
	if res, err := r4.Propose(ctx, 0, tree.Identity{}, tree.Create{Path: "/from4", ACL: tree.OpenACL}); err != nil || res.Err != nil {
		t.Fatalf("write through the new member: %v %v", err, res.Err)
	}
	var cfgText []byte
	e.reps[0].Sync(ctx)
	e.reps[0].Read(func(t *tree.Tree) { cfgText, _, _ = t.Get(ConfigPath) })
	if !bytes.Contains(cfgText, []byte("server.4="+addrs[0])) {
		t.Errorf("/zookeeper/config lacks server 4:\n%s", cfgText)
	}

	// Then a follower is removed.
	victim := e.follower()
	vid := e.peers[victim].ID
	if err := r4.Reconfig(ctx, nil, []string{vid}); err != nil {
		t.Fatal(err)
	}
	for _, p := range e.reps[e.leader()].Peers() {
		if p.ID == vid {
			t.Errorf("server %s still a member after removal", vid)
		}
	}
	e.stop(victim)
	if res, err := r4.Propose(ctx, 0, tree.Identity{}, tree.Create{Path: "/after-remove", ACL: tree.OpenACL}); err != nil || res.Err != nil {
		t.Fatalf("write after removal: %v %v", err, res.Err)
	}
	if err := r4.Reconfig(ctx, []Peer{p4}, nil); !errors.Is(err, ErrBadReconfig) {
		t.Errorf("adding a member twice: got %v, want ErrBadReconfig", err)
	}
}
