package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// The scale workload's tree: one node with --scale-children children, and
// the rest of the znodes in directories of scaleFanout.
const (
	scaleRoot   = "/scale"
	scaleBig    = scaleRoot + "/big"
	scaleFanout = 1000
)

// scalePath is the i-th znode of the load; the first children go under
// scaleBig, with short names so that the listing stays well under
// jute.maxbuffer.
func scalePath(i, children int) string {
	if i < children {
		return scaleBig + "/" + strconv.Itoa(i)
	}
	i -= children
	return fmt.Sprintf("%s/d%d/%d", scaleRoot, i/scaleFanout, i%scaleFanout)
}

// scaleResult is one system's figures.
type scaleResult struct {
	load    loadResult
	rss     []int64
	disk    []int64
	ls      time.Duration
	mountLs time.Duration
	restart time.Duration
}

func scaleWorkload(ctx context.Context, o *options, zk *zkEnsemble, zf *zkfsEnsemble, rep *report) error {
	systems := []system{zk, zf}
	res := make([]scaleResult, len(systems))
	for i, s := range systems {
		fmt.Fprintf(o.out, "  loading %d znodes into %s\n", o.scaleZnodes, s.name())
		var err error
		if res[i], err = scale(ctx, o, s); err != nil {
			return err
		}
		rep.check(check{workload: "scale", what: "load", system: s.name(), ops: res[i].load.ops, errs: res[i].load.errs, firstErr: res[i].load.firstErr})
	}
	base, z := res[0], res[1]
	const section = "Scale"
	n := o.scaleZnodes
	rep.add(row{section: section, name: fmt.Sprintf("load %d znodes of 100 B in multis of %d creates, znodes/s at %d sessions", n, o.scaleBatch, o.scaleSessions), baseline: "ZooKeeper",
		base: fmtRate(base.load.rate()), zkfs: fmtRate(z.load.rate()), ratio: ratioOf(z.load.rate(), base.load.rate())})
	for i := range base.rss {
		r := ratioOf(float64(z.rss[i]), float64(base.rss[i]))
		rep.add(row{section: section, name: fmt.Sprintf("RSS of server %d with %d znodes", i+1, n), baseline: "ZooKeeper",
			base: fmtMiB(base.rss[i]), zkfs: fmtMiB(z.rss[i]), ratio: r, goal: "≤ 0.5×", met: r <= 0.5})
	}
	for i := range base.disk {
		rep.add(row{section: section, name: fmt.Sprintf("bytes on disk, server %d", i+1), baseline: "ZooKeeper",
			base: fmtMiB(base.disk[i]), zkfs: fmtMiB(z.disk[i]), ratio: ratioOf(float64(z.disk[i]), float64(base.disk[i]))})
	}
	rep.add(row{section: section, name: "restart of a follower: start to serving", baseline: "ZooKeeper",
		base: fmtDur(base.restart), zkfs: fmtDur(z.restart), ratio: ratioOf(float64(z.restart), float64(base.restart)),
		goal: "≤ 10 s", met: z.restart > 0 && z.restart <= 10*time.Second})
	rep.add(row{section: section, name: fmt.Sprintf("ls of a node with %d children (getChildren)", o.scaleChildren), baseline: "ZooKeeper",
		base: fmtDur(base.ls), zkfs: fmtDur(z.ls), ratio: ratioOf(float64(z.ls), float64(base.ls))})
	rep.add(row{section: section, name: fmt.Sprintf("ls of a node with %d children (first readdir on the mount, against getChildren)", o.scaleChildren), baseline: "ZooKeeper",
		base: fmtDur(base.ls), zkfs: fmtDur(z.mountLs), ratio: ratioOf(float64(z.mountLs), float64(base.ls))})
	return nil
}

func scale(ctx context.Context, o *options, s system) (scaleResult, error) {
	var res scaleResult
	conns, err := sessions(ctx, s, o.scaleSessions)
	if err != nil {
		return res, err
	}
	defer closeAll(conns)
	c := conns[0]
	if err := ensure(c, scaleBig); err != nil {
		return res, err
	}
	dirs := (o.scaleZnodes - o.scaleChildren + scaleFanout - 1) / scaleFanout
	var mk []any
	for d := 0; d < dirs; d++ {
		mk = append(mk, &zk.CreateRequest{Path: fmt.Sprintf("%s/d%d", scaleRoot, d), Acl: acl})
		if len(mk) == 500 || d == dirs-1 {
			if _, err := c.Multi(mk...); err != nil {
				return res, fmt.Errorf("%s: creating the directories: %w", s.name(), err)
			}
			mk = mk[:0]
		}
	}
	for _, c := range conns[:min(len(conns), s.size())] {
		if _, err := c.Sync(scaleRoot); err != nil {
			return res, err
		}
	}

	// Creates in multis of --scale-batch, as many as the sessions keep in
	// flight: a million single creates take longer than the whole default
	// run may, on either system.
	val := value(100)
	var next atomic.Int64
	batch := int64(o.scaleBatch)
	res.load = runWorkers(len(conns), 24*time.Hour, ctx.Done(), func(w, _ int) error {
		first := int(next.Add(batch) - batch)
		if first >= o.scaleZnodes {
			return errDone
		}
		last := min(first+int(batch), o.scaleZnodes)
		if last-first == 1 {
			_, err := conns[w].Create(scalePath(first, o.scaleChildren), val, 0, acl)
			return err
		}
		ops := make([]any, 0, last-first)
		for i := first; i < last; i++ {
			ops = append(ops, &zk.CreateRequest{Path: scalePath(i, o.scaleChildren), Data: val, Acl: acl})
		}
		_, err := conns[w].Multi(ops...)
		return err
	})
	// The rate is in znodes, whatever the batch.
	res.load.ops = min(res.load.ops*o.scaleBatch, o.scaleZnodes)
	if err := ctx.Err(); err != nil {
		return res, err
	}
	if res.load.errs > 0 {
		return res, fmt.Errorf("%s: %d creates failed, first: %v", s.name(), res.load.errs, res.load.firstErr)
	}
	// Every server has applied the load before anything is measured.
	for i := 0; i < s.size(); i++ {
		if _, err := conns[i].Sync(scaleBig); err != nil {
			return res, err
		}
	}
	sleepCtx(ctx, 2*time.Second)
	for i := 0; i < s.size(); i++ {
		rss, err := rssBytes(s.pid(i))
		if err != nil {
			return res, err
		}
		res.rss = append(res.rss, rss)
		du, err := diskBytes(s.dataDir(i))
		if err != nil {
			return res, err
		}
		res.disk = append(res.disk, du)
	}

	// getChildren through server 3, the median of a few.
	var ls latencies
	for k := 0; k < 5; k++ {
		t0 := time.Now()
		kids, _, err := conns[2].Children(scaleBig)
		if err != nil {
			return res, fmt.Errorf("%s: getChildren %s: %w", s.name(), scaleBig, err)
		}
		ls = append(ls, time.Since(t0))
		if len(kids) != o.scaleChildren {
			return res, fmt.Errorf("%s: %s has %d children, want %d", s.name(), scaleBig, len(kids), o.scaleChildren)
		}
	}
	res.ls = ls.sorted().percentile(50)
	if zf, ok := s.(*zkfsEnsemble); ok {
		buf := make([]byte, 256<<10)
		t0 := time.Now()
		n, err := readDir(filepath.Join(zf.mount(2), scaleBig), buf)
		res.mountLs = time.Since(t0)
		if err != nil {
			return res, err
		}
		if n < o.scaleChildren {
			return res, fmt.Errorf("readdir of the mount's %s: %d entries, want %d", scaleBig, n, o.scaleChildren)
		}
	}
	closeAll(conns)
	conns = nil

	res.restart, err = restartTime(ctx, s)
	return res, err
}

// restartTime stops a follower, starts it again and times the start until
// a session of its own reads from it. Both systems' start returns once
// the server answers srvr (ZooKeeper) or opens its client port (zkfs),
// which each does only when it serves.
func restartTime(ctx context.Context, s system) (time.Duration, error) {
	f, err := follower(ctx, s)
	if err != nil {
		return 0, err
	}
	if err := s.stop(f); err != nil {
		return 0, err
	}
	t0 := time.Now()
	if err := s.start(ctx, f); err != nil {
		return 0, err
	}
	c, err := dial(ctx, s.addr(f))
	if err != nil {
		return 0, err
	}
	defer c.Close()
	if _, _, err := c.Get(scaleBig); err != nil {
		return 0, fmt.Errorf("%s: server %d after its restart: %w", s.name(), f+1, err)
	}
	return time.Since(t0), nil
}
