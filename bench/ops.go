package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// opsState is one system's side of the client-operations workload: its
// sessions (the most any measurement uses, the first n taking part in a
// run with n sessions) and the nodes each session created and not yet
// deleted.
type opsState struct {
	sys     system
	conns   []*zk.Conn
	created []int // per session: next index to create
	deleted []int // per session: next index to delete
}

var acl = zk.WorldACL(zk.PermAll)

// opsRoot holds everything the client-operations workload writes; each
// session has its own directory below it, so that sessions never contend
// on a node.
const opsRoot = "/bench/ops"

func sessionDir(i int) string { return fmt.Sprintf("%s/s%d", opsRoot, i) }

func newOpsState(ctx context.Context, s system, n int) (*opsState, error) {
	order, err := followersFirst(ctx, s)
	if err != nil {
		return nil, err
	}
	conns, err := sessionsIn(ctx, s, n, order)
	if err != nil {
		return nil, err
	}
	st := &opsState{sys: s, conns: conns, created: make([]int, n), deleted: make([]int, n)}
	if err := ensure(conns[0], opsRoot); err != nil {
		closeAll(conns)
		return nil, err
	}
	// Each session's directory and the nodes that set, get, exists, mix
	// and multi use, created in batches.
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		_, err := conns[0].Multi(batch...)
		batch = batch[:0]
		return err
	}
	for i := 0; i < n; i++ {
		batch = append(batch, &zk.CreateRequest{Path: sessionDir(i), Acl: acl})
		batch = append(batch, &zk.CreateRequest{Path: sessionDir(i) + "/f", Data: make([]byte, 100), Acl: acl})
		for j := 0; j < 10; j++ {
			batch = append(batch, &zk.CreateRequest{Path: fmt.Sprintf("%s/m%d", sessionDir(i), j), Acl: acl})
		}
		if len(batch) >= 240 {
			if err := flush(); err != nil {
				closeAll(conns)
				return nil, fmt.Errorf("%s: creating the session nodes: %w", s.name(), err)
			}
		}
	}
	if err := flush(); err != nil {
		closeAll(conns)
		return nil, fmt.Errorf("%s: creating the session nodes: %w", s.name(), err)
	}
	// The server side of a session is sync'ed with the creator's writes
	// before the first read.
	for _, c := range conns[:min(n, s.size())] {
		if _, err := c.Sync(opsRoot); err != nil {
			closeAll(conns)
			return nil, err
		}
	}
	return st, nil
}

func (st *opsState) close() { closeAll(st.conns) }

func value(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}

// clientOp is one of the five single operations.
type clientOp string

const (
	opCreate clientOp = "create"
	opSet    clientOp = "set"
	opGet    clientOp = "get"
	opExists clientOp = "exists"
	opDelete clientOp = "delete"
)

var allOps = []clientOp{opCreate, opSet, opGet, opExists, opDelete}

// run measures op with the first n sessions for d.
func (st *opsState) run(op clientOp, size, n int, d time.Duration, stop <-chan struct{}) loadResult {
	val := value(size)
	conns := st.conns[:n]
	return runWorkers(n, d, stop, func(w, _ int) error {
		c := conns[w]
		dir := sessionDir(w)
		switch op {
		case opCreate:
			j := st.created[w]
			_, err := c.Create(fmt.Sprintf("%s/n%d", dir, j), val, 0, acl)
			if err == nil {
				st.created[w]++
			}
			return err
		case opSet:
			_, err := c.Set(dir+"/f", val, -1)
			return err
		case opGet:
			data, _, err := c.Get(dir + "/f")
			if err == nil && len(data) != size {
				return fmt.Errorf("get %s: %d bytes, want %d", dir+"/f", len(data), size)
			}
			return err
		case opExists:
			ok, _, err := c.Exists(dir + "/f")
			if err == nil && !ok {
				return fmt.Errorf("exists %s: false", dir+"/f")
			}
			return err
		case opDelete:
			j := st.deleted[w]
			if j >= st.created[w] {
				return errDone
			}
			err := c.Delete(fmt.Sprintf("%s/n%d", dir, j), -1)
			if err == nil {
				st.deleted[w]++
			}
			return err
		}
		return fmt.Errorf("unknown op %q", op)
	})
}

// runMix measures sets and gets of one node per session, reads percent
// of them reads, as in Table 1 of the ZooKeeper paper.
func (st *opsState) runMix(reads, size, n int, d time.Duration, stop <-chan struct{}) loadResult {
	val := value(size)
	conns := st.conns[:n]
	rngs := make([]*rand.Rand, n)
	for i := range rngs {
		rngs[i] = rand.New(rand.NewPCG(uint64(i), 42))
	}
	return runWorkers(n, d, stop, func(w, _ int) error {
		c := conns[w]
		path := sessionDir(w) + "/f"
		if rngs[w].IntN(100) < reads {
			_, _, err := c.Get(path)
			return err
		}
		_, err := c.Set(path, val, -1)
		return err
	})
}

// runMulti measures multi requests of ten sets each.
func (st *opsState) runMulti(size, n int, d time.Duration, stop <-chan struct{}) loadResult {
	val := value(size)
	conns := st.conns[:n]
	reqs := make([][]any, n)
	for w := range reqs {
		for j := 0; j < 10; j++ {
			reqs[w] = append(reqs[w], &zk.SetDataRequest{Path: fmt.Sprintf("%s/m%d", sessionDir(w), j), Data: val, Version: -1})
		}
	}
	return runWorkers(n, d, stop, func(w, _ int) error {
		res, err := conns[w].Multi(reqs[w]...)
		if err != nil {
			return err
		}
		for _, r := range res {
			if r.Error != nil {
				return r.Error
			}
		}
		return nil
	})
}

// cleanup deletes what the create runs left, so that later workloads
// (memory, restart) see the same tree on both systems.
func (st *opsState) cleanup() error {
	for w := range st.conns {
		var batch []any
		for j := st.deleted[w]; j < st.created[w]; j++ {
			batch = append(batch, &zk.DeleteRequest{Path: fmt.Sprintf("%s/n%d", sessionDir(w), j), Version: -1})
			if len(batch) == 500 || j == st.created[w]-1 {
				if _, err := st.conns[w].Multi(batch...); err != nil && !errors.Is(err, zk.ErrNoNode) {
					return err
				}
				batch = batch[:0]
			}
		}
		st.deleted[w] = st.created[w]
	}
	return nil
}

// clientOpsWorkload runs the single operations at every size and session
// count, then the read/write mix and multi, alternating the systems.
func clientOpsWorkload(ctx context.Context, o *options, systems []system, rep *report) error {
	most := o.mixSessions
	for _, n := range o.sessions {
		most = max(most, n)
	}
	states := make([]*opsState, len(systems))
	for i, s := range systems {
		st, err := newOpsState(ctx, s, most)
		if err != nil {
			for _, st := range states[:i] {
				st.close()
			}
			return err
		}
		states[i] = st
	}
	defer func() {
		for _, st := range states {
			st.close()
		}
	}()
	stop := ctx.Done()

	// The JVM compiles its hot paths during the first seconds of load;
	// both systems get the same warm-up before anything counts.
	if o.warmup > 0 {
		for _, st := range states {
			st.runMix(50, 100, min(64, most), o.warmup, stop)
		}
	}

	point := 0
	// fsyncs notes each system's writes per fsync during each write
	// measurement with 64 or 256 sessions.
	fsyncs := func(i int, what string, n int, f func()) {
		before := readLogSyncs(systems[i])
		f()
		if after := readLogSyncs(systems[i]); (n == 64 || n == 256) && after.ok && after.leaderSyncs > before.leaderSyncs {
			leader, followers := after.perSync(before)
			rep.fsync(what, systems[i].name(), leader, followers)
		}
	}
	// measure runs f on each system, alternating which goes first, and
	// returns the results in systems' order.
	measure := func(workload, what string, n int, f func(st *opsState) loadResult) []loadResult {
		res := make([]loadResult, len(states))
		for k := range states {
			i := (k + point) % len(states)
			stopProfile := o.profile(systems[i], what)
			fsyncs(i, what, n, func() { res[i] = f(states[i]) })
			stopProfile()
			rep.check(check{workload: workload, what: what, system: systems[i].name(), ops: res[i].ops, errs: res[i].errs, firstErr: res[i].firstErr})
		}
		point++
		return res
	}
	if o.has("ops") {
		for _, size := range o.sizes {
			for _, n := range o.sessions {
				// Each round measures every operation once, in order, so
				// that a round's deletes find its creates.
				rounds := make([][][]loadResult, len(o.ops))
				for round := 0; round < o.rounds; round++ {
					for k, op := range o.ops {
						if ctx.Err() != nil {
							return ctx.Err()
						}
						what := fmt.Sprintf("%s %s ×%d", op, sizeName(size), n)
						if o.rounds > 1 {
							what += fmt.Sprintf(" (round %d)", round+1)
						}
						res := measure("ops", what, n, func(st *opsState) loadResult { return st.run(op, size, n, o.duration, stop) })
						rounds[k] = append(rounds[k], res)
					}
				}
				for k, op := range o.ops {
					addLoadRows(rep, "Client operations", fmt.Sprintf("%s %s ×%d", op, sizeName(size), n), rounds[k], op, n)
				}
			}
		}
	}
	if o.has("mix") {
		for _, reads := range o.mixReads {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			what := fmt.Sprintf("mix %d%% reads %s ×%d", reads, sizeName(o.mixSize), o.mixSessions)
			res := measure("mix", what, o.mixSessions, func(st *opsState) loadResult {
				return st.runMix(reads, o.mixSize, o.mixSessions, o.duration, stop)
			})
			addLoadRows(rep, "Read/write mix", what, [][]loadResult{res}, "", o.mixSessions)
		}
	}
	if o.has("multi") {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		what := fmt.Sprintf("multi of 10 sets %s ×%d", sizeName(100), o.mixSessions)
		res := measure("multi", what, o.mixSessions, func(st *opsState) loadResult { return st.runMulti(100, o.mixSessions, o.duration, stop) })
		addLoadRows(rep, "Multi", what, [][]loadResult{res}, "", o.mixSessions)
	}
	for _, st := range states {
		if err := st.cleanup(); err != nil {
			return fmt.Errorf("%s: cleaning up: %w", st.sys.name(), err)
		}
	}
	return nil
}

func sizeName(size int) string {
	if size%1024 == 0 {
		return fmt.Sprintf("%d KiB", size/1024)
	}
	return fmt.Sprintf("%d B", size)
}

// isWrite reports whether op changes the tree.
func isWrite(op clientOp) bool { return op == opCreate || op == opSet || op == opDelete }

// addLoadRows adds the throughput row and the latency row of one point,
// from one or more rounds of it; each round holds ZooKeeper's result,
// then zkfs's. The figures merge the rounds (all operations over all the
// time, percentiles over all samples); with more than one round the
// ratio also shows the range of the rounds' own ratios.
//
// The goals: writes at 64 and 256 sessions reach 4× ZooKeeper's
// throughput, reads at 64 sessions 1.5×; writes at 1 and 16 sessions
// have a p50 and a p99 no higher than ZooKeeper's; every other
// operation's p99 is no higher than ZooKeeper's.
func addLoadRows(rep *report, section, what string, rounds [][]loadResult, op clientOp, n int) {
	addPair(rep, section, "ZooKeeper", what, rounds, 0, 1, op, n, true)
	if len(rounds[0]) > 2 {
		// A build before a change ran too: how it compares with
		// ZooKeeper in this run, and the change's own effect.
		addPair(rep, section+", zkfs before the change", "ZooKeeper", what, rounds, 0, 2, op, n, false)
		addPair(rep, section+", this zkfs against the one before the change", "zkfs before", what, rounds, 2, 1, op, n, false)
	}
}

// addPair adds the rows comparing system z with system b (their indexes
// in each round), with the goals when goals is set.
func addPair(rep *report, section, baseline, what string, rounds [][]loadResult, b, zi int, op clientOp, n int, goals bool) {
	base, z := mergeRounds(rounds, b), mergeRounds(rounds, zi)
	rates := func(r []loadResult) float64 { return ratioOf(r[zi].rate(), r[b].rate()) }
	r := row{section: section, name: what + " ops/s", baseline: baseline,
		base: fmtRate(base.rate()), zkfs: fmtRate(z.rate()), ratio: ratioOf(z.rate(), base.rate())}
	r.ratioText = withRange(r.ratio, rounds, rates)
	switch {
	case !goals:
	case isWrite(op) && (n == 64 || n == 256):
		r.goal, r.met = "≥ 4×", r.ratio >= 4
	case (op == opGet || op == opExists) && n == 64:
		r.goal, r.met = "≥ 1.5×", r.ratio >= 1.5
	}
	rep.add(r)
	lat := func(l latencies) string {
		return fmt.Sprintf("%s / %s / %s", fmtDur(l.percentile(50)), fmtDur(l.percentile(99)), fmtDur(l.percentile(99.9)))
	}
	pct := func(p float64) func([]loadResult) float64 {
		return func(r []loadResult) float64 {
			return ratioOf(float64(r[zi].lat.percentile(p)), float64(r[b].lat.percentile(p)))
		}
	}
	p50 := ratioOf(float64(z.lat.percentile(50)), float64(base.lat.percentile(50)))
	p99 := ratioOf(float64(z.lat.percentile(99)), float64(base.lat.percentile(99)))
	l := row{section: section, name: what + " p50 / p99 / p99.9", baseline: baseline,
		base: lat(base.lat), zkfs: lat(z.lat), ratio: p99}
	switch {
	case isWrite(op) && (n == 1 || n == 16):
		l.ratio = max(p50, p99)
		l.ratioText = "p50 " + withRange(p50, rounds, pct(50)) + ", p99 " + withRange(p99, rounds, pct(99))
		if goals {
			l.goal, l.met = "p50, p99 ≤ 1×", p50 <= 1 && p99 <= 1
		}
	case op != "":
		l.ratioText = withRange(p99, rounds, pct(99))
		if goals {
			l.goal, l.met = "p99 ≤ 1×", p99 <= 1
		}
	}
	rep.add(l)
	if base.errs > 0 || z.errs > 0 {
		rep.note("%s: errors: %s %d (%v), %s %d (%v)", what, baseline, base.errs, base.firstErr, "zkfs", z.errs, z.firstErr)
	}
}

// mergeRounds merges system i's results over the rounds: operations,
// errors and time add up, and the samples join.
func mergeRounds(rounds [][]loadResult, i int) loadResult {
	var m loadResult
	for _, r := range rounds {
		x := r[i]
		m.ops += x.ops
		m.errs += x.errs
		m.elapsed += x.elapsed
		if m.firstErr == nil {
			m.firstErr = x.firstErr
		}
		m.lat = append(m.lat, x.lat...)
	}
	if len(rounds) > 1 {
		slices.Sort(m.lat)
	}
	return m
}

// withRange formats a merged ratio and, over more than one round, the
// lowest and highest of the rounds' own ratios.
func withRange(ratio float64, rounds [][]loadResult, of func([]loadResult) float64) string {
	s := fmtRatio(ratio)
	if len(rounds) < 2 {
		return s
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range rounds {
		x := of(r)
		lo, hi = min(lo, x), max(hi, x)
	}
	return fmt.Sprintf("%s (%s–%s)", s, strings.TrimSuffix(fmtRatio(lo), "×"), fmtRatio(hi))
}
