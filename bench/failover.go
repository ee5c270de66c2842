package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
)

// failoverResult is what writers saw when the leader died.
type failoverResult struct {
	// first is the time from the SIGKILL until a write issued after it
	// succeeded, on any session; all until every session had one.
	first, all time.Duration
	errs       int
	firstErr   error
	ops        int // successful writes after the kill
	resumed    bool
}

// failoverWorkload kills each system's leader under a steady write load.
func failoverWorkload(ctx context.Context, o *options, systems []system, rep *report) error {
	res := make([]failoverResult, len(systems))
	for i, s := range systems {
		var err error
		if res[i], err = failover(ctx, o, s); err != nil {
			return err
		}
		rep.check(check{workload: "failover", what: "writes through the leader's death", system: s.name(), ops: res[i].ops, errs: res[i].errs, firstErr: res[i].firstErr, errsExpected: true})
		if !res[i].resumed {
			rep.note("%s: writes did not resume on every session within %v of the leader's death", s.name(), failoverLimit)
		}
	}
	base, z := res[0], res[1]
	rep.add(row{section: "Failover", name: fmt.Sprintf("SIGKILL of the leader under %d writers: first write succeeds after", o.failoverSessions),
		baseline: "ZooKeeper", base: fmtDur(base.first), zkfs: fmtDur(z.first), ratio: ratioOf(float64(z.first), float64(base.first)),
		goal: "≤ 2 s", met: z.resumed && z.first <= 2*time.Second})
	rep.add(row{section: "Failover", name: "every session writing again after", baseline: "ZooKeeper",
		base: fmtDur(base.all), zkfs: fmtDur(z.all), ratio: ratioOf(float64(z.all), float64(base.all))})
	rep.add(row{section: "Failover", name: "errors the writers saw", baseline: "ZooKeeper",
		base: fmt.Sprint(base.errs), zkfs: fmt.Sprint(z.errs), ratio: ratioOf(float64(z.errs), float64(base.errs))})
	for i, s := range systems {
		if res[i].firstErr != nil {
			rep.note("Failover, %s: first client error: %v", s.name(), res[i].firstErr)
		}
	}
	return nil
}

// failoverLimit bounds the wait for every session to write again.
const failoverLimit = 60 * time.Second

func failover(ctx context.Context, o *options, s system) (failoverResult, error) {
	var res failoverResult
	n := o.failoverSessions
	conns := make([]*zk.Conn, n)
	defer func() { closeAll(conns) }()
	for i := range conns {
		// Each session prefers its own server and fails over to the
		// others in order, as a client given the whole ensemble does.
		var order []string
		for k := 0; k < s.size(); k++ {
			order = append(order, s.addr((i+k)%s.size()))
		}
		c, err := dial(ctx, order...)
		if err != nil {
			return res, err
		}
		conns[i] = c
	}
	for i := range conns {
		if err := ensure(conns[0], fmt.Sprintf("/bench/failover/s%d", i)); err != nil {
			return res, err
		}
	}
	dead, err := leader(ctx, s, 30*time.Second)
	if err != nil {
		return res, err
	}

	var killedAt atomic.Int64 // unix nanoseconds; 0 before the kill
	type worker struct {
		firstOK   time.Time
		ops, errs int
		firstErr  error
	}
	workers := make([]worker, n)
	stop := make(chan struct{})
	var resumed sync.WaitGroup
	resumed.Add(n)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w := &workers[i]
			signalled := false
			path := fmt.Sprintf("/bench/failover/s%d", i)
			for {
				select {
				case <-stop:
					if !signalled {
						resumed.Done()
					}
					return
				default:
				}
				issued := time.Now()
				_, err := conns[i].Set(path, []byte("x"), -1)
				k := killedAt.Load()
				if k == 0 {
					continue
				}
				if err != nil {
					w.errs++
					if w.firstErr == nil {
						w.firstErr = err
					}
					time.Sleep(time.Millisecond)
					continue
				}
				if issued.UnixNano() >= k {
					w.ops++
					if w.firstOK.IsZero() {
						w.firstOK = time.Now()
						signalled = true
						resumed.Done()
					}
				}
			}
		}()
	}
	if err := sleepCtx(ctx, o.failoverSteady); err != nil {
		close(stop)
		wg.Wait()
		return res, err
	}
	killed := time.Now()
	killedAt.Store(killed.UnixNano())
	if err := s.kill(dead); err != nil {
		close(stop)
		wg.Wait()
		return res, err
	}
	all := make(chan struct{})
	go func() { resumed.Wait(); close(all) }()
	select {
	case <-all:
		res.resumed = true
	case <-time.After(failoverLimit):
	case <-ctx.Done():
	}
	// A little more load shows that writes keep succeeding.
	sleepCtx(ctx, 500*time.Millisecond)
	close(stop)
	wg.Wait()
	<-all
	for _, w := range workers {
		res.ops += w.ops
		res.errs += w.errs
		if res.firstErr == nil {
			res.firstErr = w.firstErr
		}
		if w.firstOK.IsZero() {
			continue
		}
		d := w.firstOK.Sub(killed)
		if res.first == 0 || d < res.first {
			res.first = d
		}
		res.all = max(res.all, d)
	}
	if !res.resumed {
		res.all = failoverLimit
	}
	if ctx.Err() != nil {
		return res, ctx.Err()
	}
	// The killed server comes back and catches up, for the workloads that
	// follow.
	if err := s.start(ctx, dead); err != nil {
		return res, err
	}
	return res, nil
}
