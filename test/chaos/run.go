package chaos

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// Config describes one chaos run.
type Config struct {
	// Bin is the zkfs binary.
	Bin string
	// Dir receives the replicas' data, logs and mounts, and keeps the
	// history file and the summary.
	Dir string
	// Replicas is the ensemble's size: 3 or 5.
	Replicas int
	// Duration is how long clients and the nemesis run; the final
	// restart and the checks come after it.
	Duration time.Duration
	// Seed drives every random choice of clients and nemesis. The same
	// seed gives the same schedule of choices; timing still varies.
	Seed int64
	// Fault, when set, is the only kind of fault injected (see
	// faultKinds); "none" injects none.
	Fault string
	// CheckTimeout bounds porcupine's search; 0 means one minute.
	CheckTimeout time.Duration
	// Logf receives progress: the faults as they heal, anomalies as they
	// are found. Nil means standard error.
	Logf func(format string, args ...any)
}

// Result is what a run found.
type Result struct {
	// Ops counts the operations clients ran, faults the faults injected.
	Ops, Faults int
	// FaultKinds counts the faults by kind, as "kind=n ...".
	FaultKinds string
	// Anomalies lists every violated guarantee.
	Anomalies []string
	// WedgedKills counts replicas that could not exit after SIGKILL until
	// their FUSE connection was aborted (see cluster.kill).
	WedgedKills int64
	// Moves counts the sessions that moved to another replica, and
	// MovedAnswers the SessionMoved replies their old connections got.
	Moves, MovedAnswers int
	// WatchesFired counts the data watches that fired and were checked.
	WatchesFired int
	// Linearizable is porcupine's verdict on the registers, over
	// LinearizedOps operations.
	Linearizable  string
	LinearizedOps int
	// History is the path of the history file.
	History string
	// Summary is the run's one-line summary.
	Summary string
}

// run is the state of one chaos run, shared by the workload, the nemesis
// and the checkers.
type run struct {
	cfg     Config
	cluster *cluster
	clients *clientNet
	rec     *recorder
	logf    func(string, ...any)

	counters map[int]*counterState
	long     []*ephSession

	linear    string // porcupine's verdict
	linearOps int

	// flockWaiting counts the flock calls under way.
	flockWaiting atomic.Int64
}

// Run starts an ensemble, runs clients and the nemesis against it for
// cfg.Duration, restarts every replica at once, checks the history and
// returns what it found. An error means the run itself could not be
// carried out; anomalies are in the result.
func Run(cfg Config) (*Result, error) {
	if cfg.Replicas == 0 {
		cfg.Replicas = 3
	}
	if cfg.CheckTimeout == 0 {
		cfg.CheckTimeout = time.Minute
	}
	if cfg.Logf == nil {
		cfg.Logf = func(format string, args ...any) { fmt.Fprintf(os.Stderr, "chaos: "+format+"\n", args...) }
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, err
	}
	rn := &run{cfg: cfg, logf: cfg.Logf, counters: map[int]*counterState{}}
	var err error
	if rn.rec, err = newRecorder(filepath.Join(cfg.Dir, "history.jsonl"), cfg.Logf); err != nil {
		return nil, err
	}
	rn.logf("seed %d, %d replicas, %v; history in %s", cfg.Seed, cfg.Replicas, cfg.Duration, filepath.Join(cfg.Dir, "history.jsonl"))
	rn.cluster, err = newCluster(cfg.Bin, cfg.Dir, cfg.Replicas,
		[]string{"--snap-count", "500", "--trailing-logs", "200"}, cfg.Logf)
	if err != nil {
		rn.rec.close()
		return nil, err
	}
	rn.clients = newClientNet(rn.cluster)
	res, runErr := rn.execute()
	rn.clients.close()
	if err := rn.cluster.close(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if err := rn.rec.close(); err != nil {
		runErr = errors.Join(runErr, err)
	}
	if res != nil {
		os.WriteFile(filepath.Join(cfg.Dir, "summary.txt"), []byte(res.Summary+"\n"), 0o644)
	}
	return res, runErr
}

func (rn *run) execute() (*Result, error) {
	if err := rn.cluster.waitHealthy(60 * time.Second); err != nil {
		return nil, err
	}
	if err := rn.setup(); err != nil {
		return nil, fmt.Errorf("setup: %w", err)
	}
	rng := rand.New(rand.NewSource(rn.cfg.Seed))
	workStop := make(chan struct{})
	var work sync.WaitGroup
	spawn := func(f func()) {
		work.Add(1)
		go func() {
			defer work.Done()
			f()
		}()
	}
	newRng := func() *rand.Rand { return rand.New(rand.NewSource(rng.Int63())) }
	for i := 0; i < 6; i++ {
		rc := &registerClient{run: rn, id: 1 + i, rng: newRng(), known: map[[2]int]int32{}}
		spawn(func() { rc.loop(workStop) })
	}
	for i := 0; i < 2; i++ {
		sc := &seqClient{run: rn, id: 11 + i, rng: newRng()}
		spawn(func() { sc.loop(workStop) })
	}
	var longMu sync.Mutex
	for i := 0; i < 4; i++ {
		ec := &ephClient{run: rn, id: 21 + i, rng: newRng(), long: i == 0}
		spawn(func() {
			if s := ec.loop(workStop); s != nil {
				longMu.Lock()
				rn.long = append(rn.long, s)
				longMu.Unlock()
			}
		})
	}
	for i := 0; i < 2; i++ {
		wc := &watchClient{run: rn, id: 31 + i, rng: newRng()}
		spawn(func() { wc.loop(workStop) })
	}
	for i := 0; i < 2; i++ {
		mc := &movedClient{run: rn, id: 51 + i, rng: newRng()}
		spawn(func() { mc.loop(workStop) })
	}
	monoRng := newRng()
	spawn(func() { rn.monoWriter(41, monoRng, workStop) })
	for _, r := range rn.cluster.nodes {
		st := &counterState{vals: []int{0}}
		rn.counters[r.id] = st
		for _, kind := range []string{"echo", "rename"} {
			wr := newRng()
			spawn(func() { rn.mountWriter(r, kind, wr, workStop) })
		}
		rr, hr, mr := newRng(), newRng(), newRng()
		spawn(func() { rn.mountReader(r, rr, workStop) })
		spawn(func() { rn.heldReader(r, hr, workStop) })
		spawn(func() { rn.mmapReader(r, mr, workStop) })
		for w := 0; w < 2; w++ {
			spawn(func() { rn.flockCounter(r, st, w, workStop) })
		}
	}

	nemStop := make(chan struct{})
	nemDone := make(chan struct{})
	nem := &nemesis{run: rn, rng: newRng(), busy: map[int]bool{}, kind: rn.cfg.Fault}
	go func() {
		defer close(nemDone)
		if rn.cfg.Fault != "none" {
			nem.loop(nemStop)
		}
	}()
	dogStop := make(chan struct{})
	dogDone := make(chan struct{})
	go func() {
		defer close(dogDone)
		rn.watchdog(nem, dogStop)
	}()

	time.Sleep(rn.cfg.Duration)
	close(nemStop)
	<-nemDone
	rn.cluster.healLinks(false)
	rn.clients.heal(false)
	close(workStop)
	// The workload stops within seconds once everything is healed. A
	// flock that waits on after that waits for a lock nobody will
	// release: that is an anomaly, and the run goes on to its checks
	// (the full restart ends the waits).
	workDone := make(chan struct{})
	go func() {
		work.Wait()
		close(workDone)
	}()
	select {
	case <-workDone:
	case <-time.After(2 * time.Minute):
		rn.rec.anomaly("workload-stuck", "the workload did not stop within 2 minutes of the healing; %d flock calls still wait, for a lock nobody releases",
			rn.flockWaiting.Load())
	}
	close(dogStop)
	<-dogDone
	rn.logf("workload stopped at %.1fs; checking recovery", secs(rn.rec.now()))

	if err := rn.cluster.waitHealthy(90 * time.Second); err != nil {
		rn.rec.anomaly("no-recovery", "the ensemble did not recover within 90s of the last fault: %v", err)
		return rn.result(), nil
	}
	// No acknowledged write may be lost when every replica dies at once.
	if err := rn.cluster.restartAll(); err != nil {
		return nil, fmt.Errorf("full restart: %w", err)
	}
	if err := rn.cluster.waitHealthy(90 * time.Second); err != nil {
		rn.rec.anomaly("no-recovery", "the ensemble did not recover within 90s of the full restart: %v", err)
		return rn.result(), nil
	}
	rn.logf("full restart done at %.1fs; final reads", secs(rn.rec.now()))
	if err := rn.finalChecks(); err != nil {
		return nil, err
	}
	return rn.result(), nil
}

// setup creates the nodes the workload uses, before the history starts.
func (rn *run) setup() error {
	zc, err := dialDirect(rn.cluster.nodes[0])
	if err != nil {
		return err
	}
	defer zc.Close()
	acl := zk.WorldACL(zk.PermAll)
	// A leader change right after the start (the ensemble is busy
	// electing under a loaded machine) loses a create's outcome: it is
	// sent again, and NodeExists means an earlier try made it.
	create := func(path, data string) error {
		deadline := time.Now().Add(60 * time.Second)
		for {
			_, err := zc.Create(path, []byte(data), 0, acl)
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				return nil
			}
			if definite(err) || time.Now().After(deadline) {
				return fmt.Errorf("create %s: %w", path, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	for _, p := range []string{"/chaos", "/chaos/reg", "/chaos/seq", ephParent, movedParent} {
		if err := create(p, ""); err != nil {
			return err
		}
	}
	for g := 0; g < groupCount(rn.cfg.Duration); g++ {
		for k := 0; k < keysPerGroup; k++ {
			if err := create(regPath(g, k), initValue); err != nil {
				return err
			}
		}
	}
	for p := 0; p < seqParents; p++ {
		if err := create(seqParent(p), ""); err != nil {
			return err
		}
	}
	// The mount directory through a mount, so that it is a directory
	// even before it has children.
	if err := os.Mkdir(filepath.Join(rn.cluster.nodes[0].mnt, mountDir), 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := create("/"+mountDir+"/mono0", mountContent("mono", 0, 0)); err != nil {
		return err
	}
	// Every mount shows the directory before the writers start.
	for _, r := range rn.cluster.nodes {
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(filepath.Join(r.mnt, mountDir, "mono0")); err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("mount %d does not show %s", r.id, mountDir)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// dialDirect connects to a replica's own client port, past the proxies,
// for the harness's setup and final reads.
func dialDirect(r *replica) (*zk.Conn, error) {
	conn, _, err := zk.Connect([]string{r.Addr()}, 10*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(15 * time.Second)
	for conn.State() != zk.StateHasSession {
		if time.Now().After(deadline) {
			conn.Close()
			return nil, fmt.Errorf("no session with replica %d", r.id)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return conn, nil
}

// watchdog notices a replica that exited without the harness asking:
// that is a crash, an anomaly. It starts the replica again so that the
// run goes on.
func (rn *run) watchdog(nem *nemesis, stop <-chan struct{}) {
	for !sleep(stop, 300*time.Millisecond) {
		for _, r := range rn.cluster.nodes {
			if !rn.cluster.crashed(r) {
				continue
			}
			nem.mu.Lock()
			if nem.busy[r.id] {
				nem.mu.Unlock()
				continue
			}
			nem.busy[r.id] = true
			nem.mu.Unlock()
			rn.rec.anomaly("replica-exited", "replica %d exited on its own (%v); log tail:\n%s", r.id, r.ExitErr(), r.LogTail(1500))
			rn.cluster.hold(r, true)
			rn.cluster.kill(r)
			rn.cluster.start(r, 60*time.Second)
			rn.cluster.hold(r, false)
			nem.release(r)
		}
	}
}

// checkReplicasAgree reads every register on every replica, after a sync,
// and records an anomaly for each that differs from the first replica's:
// an entry applied that was not committed, applied twice or skipped (a
// follower applies ahead of raft on the leader's commit notices,
// commit.go) leaves the replicas' trees apart for good.
func (rn *run) checkReplicasAgree() error {
	type value struct {
		data    string
		version int32
	}
	var first map[[2]int]value
	for _, r := range rn.cluster.nodes {
		zc, err := dialDirect(r)
		if err != nil {
			return err
		}
		got := map[[2]int]value{}
		for g := 0; g < groupCount(rn.cfg.Duration); g++ {
			for k := 0; k < keysPerGroup; k++ {
				if _, err := zc.Sync(regPath(g, k)); err != nil {
					zc.Close()
					return fmt.Errorf("final sync on replica %d: %w", r.id, err)
				}
				data, st, err := zc.Get(regPath(g, k))
				if err != nil {
					zc.Close()
					return fmt.Errorf("final read of %s on replica %d: %w", regPath(g, k), r.id, err)
				}
				got[[2]int{g, k}] = value{string(data), st.Version}
			}
		}
		zc.Close()
		if first == nil {
			first = got
			continue
		}
		for key, v := range got {
			if w := first[key]; v != w {
				rn.rec.anomaly("replicas-diverged", "%s is %q at version %d on replica %d but %q at version %d on replica %d",
					regPath(key[0], key[1]), v.data, v.version, r.id, w.data, w.version, rn.cluster.nodes[0].id)
			}
		}
	}
	return nil
}

// finalChecks reads everything back after the full restart and runs the
// checkers.
func (rn *run) finalChecks() error {
	r := rn.cluster.nodes[0]
	zc, err := dialDirect(r)
	if err != nil {
		return err
	}
	defer zc.Close()
	rn.checkLongSessions()

	// Registers: one read each, after a sync, at the end of the history.
	maxAcked := map[[2]int]int32{}
	for _, op := range rn.rec.regs {
		if op.Outcome != OK {
			continue
		}
		switch op.Kind {
		case "set", "cas":
			maxAcked[[2]int{op.Group, op.Key}] = max(maxAcked[[2]int{op.Group, op.Key}], op.OutVersion)
		case "multi":
			for i, s := range op.Subs {
				if !s.Check {
					maxAcked[[2]int{op.Group, s.Key}] = max(maxAcked[[2]int{op.Group, s.Key}], op.OutVersions[i])
				}
			}
		}
	}
	for g := 0; g < groupCount(rn.cfg.Duration); g++ {
		for k := 0; k < keysPerGroup; k++ {
			op := &regOp{Client: -1, Replica: r.id, Kind: "read", Group: g, Key: k}
			op.Call = rn.rec.now()
			if _, err := zc.Sync(regPath(g, k)); err != nil {
				return fmt.Errorf("final sync: %w", err)
			}
			data, st, err := zc.Get(regPath(g, k))
			if err != nil {
				return fmt.Errorf("final read of %s: %w", regPath(g, k), err)
			}
			op.Return = rn.rec.now()
			op.Outcome, op.OutValue, op.OutVersion = OK, string(data), st.Version
			rn.rec.addReg(op)
			if want := maxAcked[[2]int{g, k}]; st.Version < want {
				rn.rec.anomaly("lost-acknowledged-write", "%s is at version %d after the full restart; version %d was acknowledged",
					regPath(g, k), st.Version, want)
			}
		}
	}
	res, n := checkLinearizability(rn.rec, rn.rec.regs, rn.cfg.CheckTimeout, filepath.Join(rn.cfg.Dir, "linearizability.html"))
	rn.linear, rn.linearOps = string(res), n

	if err := rn.checkReplicasAgree(); err != nil {
		return err
	}

	// Sequential nodes.
	var listings []map[string]string
	for p := 0; p < seqParents; p++ {
		names, _, err := zc.Children(seqParent(p))
		if err != nil {
			return fmt.Errorf("final listing of %s: %w", seqParent(p), err)
		}
		m := map[string]string{}
		for _, name := range names {
			data, _, err := zc.Get(seqParent(p) + "/" + name)
			if err != nil {
				return fmt.Errorf("final read of %s/%s: %w", seqParent(p), name, err)
			}
			m[name] = string(data)
		}
		listings = append(listings, m)
	}
	checkSequential(rn.rec, rn.rec.seqs, listings)

	// Ephemeral nodes: those of ended sessions go once the sessions
	// expire, which after the full restart takes a session timeout.
	var listing map[string]int64
	deadline := time.Now().Add(2*ephSessionTimeout + 20*time.Second)
	for {
		if listing, err = ephListing(zc); err != nil {
			return err
		}
		if !rn.endedSessionsRemain(listing) || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	checkEphemerals(rn.rec, rn.sessions(), listing)

	// Moved sessions: no refused or missing create of an old connection
	// turned up later.
	rn.rec.mu.Lock()
	cycles := append([]*movedCycle(nil), rn.rec.moved...)
	rn.rec.mu.Unlock()
	if err := checkMovedFinal(rn.rec, cycles, func(base string) (map[string]bool, error) {
		names, _, err := zc.Children(base)
		if err != nil {
			return nil, fmt.Errorf("final listing of %s: %w", base, err)
		}
		m := map[string]bool{}
		for _, n := range names {
			m[n] = true
		}
		return m, nil
	}); err != nil {
		return err
	}

	// Mount files, through the client port, and every mount agrees.
	final := map[string]int{}
	contents := map[string]string{}
	files := append(rn.mountFiles(), counterFiles(rn.cluster)...)
	for _, f := range files {
		data, _, err := zc.Get("/" + mountDir + "/" + f)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("final read of %s: %w", f, err)
		}
		contents[f] = string(data)
		if !strings.HasPrefix(f, "cnt") {
			n, err := parseMount(f, string(data))
			if err != nil {
				rn.rec.anomaly("mount-read-torn", "after the full restart: %v", err)
				continue
			}
			final[f] = n
		}
	}
	finalCounters := map[int]int{}
	for _, r := range rn.cluster.nodes {
		if s, ok := contents[fmt.Sprintf("cnt%d", r.id)]; ok {
			var v int
			fmt.Sscanf(s, "%d", &v)
			finalCounters[r.id] = v
		}
	}
	checkMountFinal(rn.rec, rn.rec.mountOps, final, rn.counters, finalCounters)
	for _, m := range rn.cluster.nodes {
		for f, want := range contents {
			b, err := os.ReadFile(filepath.Join(m.mnt, mountDir, f))
			if err != nil || string(b) != want {
				rn.rec.anomaly("mount-stale-after-restart", "mount %d shows %s as %q (%v); the client port has %q", m.id, f, b, err, want)
			}
		}
	}
	return nil
}

func counterFiles(c *cluster) []string {
	var out []string
	for _, r := range c.nodes {
		out = append(out, fmt.Sprintf("cnt%d", r.id))
	}
	return out
}

// checkLongSessions follows the sessions that stayed open through the
// full restart: once reconnected, their ephemeral nodes are there; then
// they close.
func (rn *run) checkLongSessions() {
	for _, s := range rn.long {
		zc := s.zc
		deadline := time.Now().Add(longSessionTimeout + 10*time.Second)
		for zc.State() != zk.StateHasSession && !zc.isExpired() && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if zc.SessionID() == s.Session && !zc.isExpired() && zc.State() == zk.StateHasSession {
			for _, name := range s.Acked {
				var ok bool
				var st *zk.Stat
				var err error
				if within(regTimeout, zc, func() {
					if _, err = zc.Sync(name); err == nil {
						ok, st, err = zc.Exists(name)
					}
				}) || err != nil || zc.SessionID() != s.Session {
					break
				}
				if !ok {
					rn.rec.anomaly("ephemeral-vanished", "%s is gone after the full restart although its session %#x resumed", name, s.Session)
				} else if st.EphemeralOwner != s.Session {
					rn.rec.anomaly("ephemeral-owner", "%s is owned by %#x, want %#x", name, st.EphemeralOwner, s.Session)
				}
			}
		}
		if zc.isExpired() {
			s.EndKind = "expired"
		} else {
			s.EndKind = "closed"
		}
		zc.Close()
		s.End = rn.rec.now()
		rn.rec.addSession(s)
	}
}

func (rn *run) sessions() []*ephSession {
	rn.rec.mu.Lock()
	defer rn.rec.mu.Unlock()
	return append([]*ephSession(nil), rn.rec.sessions...)
}

// endedSessionsRemain reports whether the listing still has a node of a
// session that ended.
func (rn *run) endedSessionsRemain(listing map[string]int64) bool {
	ended := map[int64]bool{}
	for _, s := range rn.sessions() {
		ended[s.Session] = s.EndKind != "alive"
	}
	for _, owner := range listing {
		if ended[owner] {
			return true
		}
	}
	return false
}

// ephListing lists the ephemeral parent with each node's owner.
func ephListing(zc *zk.Conn) (map[string]int64, error) {
	if _, err := zc.Sync(ephParent); err != nil {
		return nil, err
	}
	names, _, err := zc.Children(ephParent)
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, n := range names {
		ok, st, err := zc.Exists(ephParent + "/" + n)
		if err != nil {
			return nil, err
		}
		if ok {
			out[n] = st.EphemeralOwner
		}
	}
	return out, nil
}

// result sums the run up.
func (rn *run) result() *Result {
	rec := rn.rec
	nf, kinds := rec.faultSummary()
	rec.mu.Lock()
	ops := rec.counts["ops"]
	moves, movedAnswers := rec.moves, rec.movedAnswers
	fired := rec.counts["watch-fired "+string(OK)]
	var anomalies []string
	byKind := map[string]int{}
	for _, a := range rec.anomalies {
		anomalies = append(anomalies, fmt.Sprintf("%s at %.3fs: %s", a.Kind, secs(a.At), a.Detail))
		byKind[a.Kind]++
	}
	var writes, reads int
	for k, v := range rec.counts {
		switch {
		case strings.HasPrefix(k, "read ") || strings.HasPrefix(k, "get ") || strings.HasPrefix(k, "mount-read "):
			reads += v
		case k != "ops":
			writes += v
		}
	}
	rec.mu.Unlock()
	sort.Strings(anomalies)
	linear := rn.linear
	if linear == "" {
		linear = "not checked"
	}
	res := &Result{
		Ops: ops, Faults: nf, FaultKinds: kinds, Anomalies: anomalies,
		Linearizable: linear, LinearizedOps: rn.linearOps, WedgedKills: rn.cluster.wedged.Load(),
		Moves: moves, MovedAnswers: movedAnswers, WatchesFired: fired,
		History: filepath.Join(rn.cfg.Dir, "history.jsonl"),
	}
	summary := fmt.Sprintf("chaos: seed=%d replicas=%d duration=%v ops=%d (reads %d, writes and others %d) faults=%d (%s) wedged-kills=%d linearizability=%s over %d register ops session-moves=%d session-moved-answers=%d watches-fired=%d anomalies=%d",
		rn.cfg.Seed, rn.cfg.Replicas, rn.cfg.Duration, ops, reads, writes, nf, kinds, res.WedgedKills, linear, rn.linearOps, moves, movedAnswers, fired, len(anomalies))
	if len(byKind) > 0 {
		summary += " (" + joinCounts(byKind) + ")"
	}
	res.Summary = summary + " history=" + res.History
	return res
}
