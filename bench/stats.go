package main

import (
	"slices"
	"sync"
	"time"
)

// latencies collects every sample of one measurement. Runs are short
// enough (at most a few hundred thousand operations) that keeping them all
// and sorting is cheaper to trust than a histogram's bucket errors.
type latencies []time.Duration

// percentile returns the p-th percentile (0-100) of sorted samples, 0 for
// none.
func (l latencies) percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(l)))
	if i >= len(l) {
		i = len(l) - 1
	}
	return l[i]
}

func (l latencies) sorted() latencies {
	s := slices.Clone(l)
	slices.Sort(s)
	return s
}

// loadResult is what a closed-loop run of sessions did.
type loadResult struct {
	ops      int
	errs     int
	firstErr error
	elapsed  time.Duration
	lat      latencies // sorted
}

func (r loadResult) rate() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ops) / r.elapsed.Seconds()
}

// errDone ends one worker's loop early without counting an error, as a
// delete run does when its worker has nothing left to delete.
var errDone = doneError{}

type doneError struct{}

func (doneError) Error() string { return "done" }

// runWorkers runs n workers, each calling op in a closed loop (the next
// call as soon as the previous returns) until d has passed, and merges
// what they measured. A worker's iteration count is its own, so that op
// can name its keys without coordination.
func runWorkers(n int, d time.Duration, stop <-chan struct{}, op func(worker, iter int) error) loadResult {
	type part struct {
		ops, errs int
		firstErr  error
		lat       latencies
	}
	parts := make([]part, n)
	var wg sync.WaitGroup
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &parts[w]
			p.lat = make(latencies, 0, 1024)
			for iter := 0; ; iter++ {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				err := op(w, iter)
				if err == errDone {
					return
				}
				if err != nil {
					p.errs++
					if p.firstErr == nil {
						p.firstErr = err
					}
					// A failing system should not be hammered in a hot loop.
					time.Sleep(time.Millisecond)
					continue
				}
				p.lat = append(p.lat, time.Since(t0))
				p.ops++
			}
		}()
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start)}
	var all latencies
	for _, p := range parts {
		r.ops += p.ops
		r.errs += p.errs
		if r.firstErr == nil {
			r.firstErr = p.firstErr
		}
		all = append(all, p.lat...)
	}
	slices.Sort(all)
	r.lat = all
	return r
}
