package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"
)

// watchDir is a directory-kind znode whose child the watch workload sets,
// so that the mount shows an @watch file for it.
const (
	watchDir  = "/bench/watch"
	watchNode = watchDir + "/n"
)

// watchTimes are the samples of one kind of watch: from the set's call to
// the event, and from the set's reply to the event (negative when the
// event came first).
type watchTimes struct {
	total, afterAck latencies
}

// watchTimeout is how long one event may take before the sample counts
// as an error; far beyond any latency worth reporting.
const watchTimeout = 10 * time.Second

// watchWorkload times a set through server 0 until the event arrives at a
// client of server 2 on both systems, and until a reader of server 2's
// @watch file sees the line, on zkfs.
func watchWorkload(ctx context.Context, o *options, zk *zkEnsemble, zf *zkfsEnsemble, rep *report) error {
	base, err := clientWatch(ctx, zk, o.watchSamples, rep)
	if err != nil {
		return fmt.Errorf("ZooKeeper: %w", err)
	}
	z, err := clientWatch(ctx, zf, o.watchSamples, rep)
	if err != nil {
		return fmt.Errorf("zkfs: %w", err)
	}
	m, err := mountWatch(ctx, zf, o.watchSamples, rep)
	if err != nil {
		return fmt.Errorf("zkfs mount: %w", err)
	}
	lat := func(l latencies) string {
		return fmt.Sprintf("%s / %s", fmtDur(l.percentile(50)), fmtDur(l.percentile(99)))
	}
	for _, x := range []struct {
		name    string
		against watchTimes
		t       watchTimes
	}{
		{"client watch at server 3", base, z},
		{"@watch reader on server 3's mount (against ZooKeeper's client watch)", base, m},
	} {
		rep.add(row{section: "Watch latency", name: x.name + ", set on server 1 to event: p50 / p99", baseline: "ZooKeeper",
			base: lat(x.against.total), zkfs: lat(x.t.total),
			ratio: ratioOf(float64(x.t.total.percentile(50)), float64(x.against.total.percentile(50)))})
		p50 := x.t.afterAck.percentile(50)
		rep.add(row{section: "Watch latency", name: x.name + ", set's reply at server 1 to event, replica to replica: p50 / p99", baseline: "ZooKeeper",
			base: lat(x.against.afterAck), zkfs: lat(x.t.afterAck),
			ratio: ratioOf(float64(p50), float64(x.against.afterAck.percentile(50))), goal: "p50 ≤ 2 ms", met: len(x.t.afterAck) > 0 && p50 <= 2*time.Millisecond})
	}
	return nil
}

func clientWatch(ctx context.Context, s system, n int, rep *report) (watchTimes, error) {
	setter, err := dial(ctx, s.addr(0))
	if err != nil {
		return watchTimes{}, err
	}
	defer setter.Close()
	watcher, err := dial(ctx, s.addr(2))
	if err != nil {
		return watchTimes{}, err
	}
	defer watcher.Close()
	if err := ensure(setter, watchNode); err != nil {
		return watchTimes{}, err
	}
	if _, err := watcher.Sync(watchNode); err != nil {
		return watchTimes{}, err
	}
	var lat, prop latencies
	errs := 0
	var firstErr error
	for i := 0; i < n && ctx.Err() == nil; i++ {
		// The previous event arrived, so server 2 has applied every
		// earlier set and the new watch can only fire for the next one.
		_, _, ch, err := watcher.GetW(watchNode)
		if err == nil {
			t0 := time.Now()
			if _, err = setter.Set(watchNode, []byte(fmt.Sprint(i)), -1); err == nil {
				acked := time.Now()
				select {
				case ev := <-ch:
					if ev.Type != zk.EventNodeDataChanged {
						err = fmt.Errorf("watch fired %v, want NodeDataChanged", ev.Type)
					} else {
						lat = append(lat, time.Since(t0))
						prop = append(prop, time.Since(acked))
					}
				case <-time.After(watchTimeout):
					err = errors.New("no watch event")
				}
			}
		}
		if err != nil {
			errs++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	rep.check(check{workload: "watch", what: "client watch", system: s.name(), ops: len(lat), errs: errs, firstErr: firstErr})
	return watchTimes{lat.sorted(), prop.sorted()}, ctx.Err()
}

// mountWatch reads server 2's @watch of watchDir line by line, as `cat`
// would, while sets go through a client of server 0.
func mountWatch(ctx context.Context, zf *zkfsEnsemble, n int, rep *report) (watchTimes, error) {
	setter, err := dial(ctx, zf.addr(0))
	if err != nil {
		return watchTimes{}, err
	}
	defer setter.Close()
	if err := ensure(setter, watchNode); err != nil {
		return watchTimes{}, err
	}
	if _, err := setter.Sync(watchNode); err != nil {
		return watchTimes{}, err
	}
	watchFile := filepath.Join(zf.mount(2), watchDir, "@watch")
	// The mount's replica may not have applied the directory yet.
	var fd int
	deadline := time.Now().Add(10 * time.Second)
	for {
		fd, err = unix.Open(watchFile, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			return watchTimes{}, fmt.Errorf("open %s: %w", watchFile, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A plain blocking read, as cat's: os.File would park it in the
	// poller and make Close wait for the next event.
	var done atomic.Bool
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		var pending []byte
		buf := make([]byte, 4096)
		for !done.Load() {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				// The Go runtime's preemption signals interrupt a read
				// that waits in the FUSE server; @watch answers EINTR.
				continue
			}
			if err != nil || n == 0 {
				return
			}
			pending = append(pending, buf[:n]...)
			for {
				i := bytes.IndexByte(pending, '\n')
				if i < 0 {
					break
				}
				lines <- string(pending[:i+1])
				pending = pending[i+1:]
			}
		}
	}()
	// The reader is blocked in the kernel until the next event: one more
	// set wakes it, it sees done and returns, and the file can close.
	defer func() {
		done.Store(true)
		setter.Set(watchNode, nil, -1)
		timeout := time.After(watchTimeout)
	drain:
		for {
			select {
			case _, ok := <-lines:
				if !ok {
					break drain
				}
			case <-timeout:
				break drain
			}
		}
		unix.Close(fd)
	}()
	var lat, prop latencies
	errs := 0
	var firstErr error
	for i := 0; i < n && ctx.Err() == nil; i++ {
		t0 := time.Now()
		_, err := setter.Set(watchNode, []byte(fmt.Sprint(i)), -1)
		if err == nil {
			acked := time.Now()
			select {
			case line, ok := <-lines:
				switch {
				case !ok:
					err = errors.New("@watch ended")
				case !strings.Contains(line, watchNode):
					err = fmt.Errorf("@watch line %q does not name %s", line, watchNode)
				default:
					lat = append(lat, time.Since(t0))
					prop = append(prop, time.Since(acked))
				}
			case <-time.After(watchTimeout):
				err = errors.New("no @watch line")
			}
		}
		if err != nil {
			errs++
			if firstErr == nil {
				firstErr = err
			}
			if strings.Contains(fmt.Sprint(err), "ended") {
				break
			}
		}
	}
	rep.check(check{workload: "watch", what: "@watch", system: "zkfs", ops: len(lat), errs: errs, firstErr: firstErr})
	return watchTimes{lat.sorted(), prop.sorted()}, ctx.Err()
}
