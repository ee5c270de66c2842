package chaos

import (
	"math/rand"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// watchClient sets one-shot data watches on the registers and checks
// that each fires exactly once, for a real change, and that the client
// never reads the changed data before the watch's event: ZooKeeper
// delivers the event before any reply that reflects the change.
type watchClient struct {
	run *run
	id  int
	rng *rand.Rand

	mu sync.Mutex
	// events counts the data events per path since the path's last watch
	// was set, as go-zookeeper received them, duplicates included (its
	// watch channels deliver only the first).
	events map[string]int
}

func (wc *watchClient) onEvent(e zk.Event) {
	if e.Type != zk.EventNodeDataChanged && e.Type != zk.EventNodeDeleted {
		return
	}
	wc.mu.Lock()
	wc.events[e.Path]++
	wc.mu.Unlock()
}

func (wc *watchClient) eventsFor(path string) int {
	wc.mu.Lock()
	defer wc.mu.Unlock()
	return wc.events[path]
}

func (wc *watchClient) loop(stop <-chan struct{}) {
	for !stopped(stop) {
		wc.mu.Lock()
		wc.events = map[string]int{}
		wc.mu.Unlock()
		zc, err := dialZKOnce(wc.run.clients, wc.id, wc.run.cluster.pick(wc.rng), regSessionTimeout, wc.onEvent)
		if err != nil {
			sleep(stop, 300*time.Millisecond)
			continue
		}
		for !stopped(stop) && wc.watchOnce(zc, stop) {
		}
		zc.Close()
	}
}

// watchOnce sets a watch and follows it until it fires; it reports
// whether the connection is still usable.
func (wc *watchClient) watchOnce(zc *zkConn, stop <-chan struct{}) bool {
	g, k := wc.run.activeGroup(wc.rng), wc.rng.Intn(keysPerGroup)
	path := regPath(g, k)
	if n := wc.eventsFor(path); n > 1 {
		wc.run.rec.anomaly("watch-fired-twice", "client %d on replica %d got %d events for one watch on %s", wc.id, zc.replica, n, path)
	}
	wc.mu.Lock()
	wc.events[path] = 0
	wc.mu.Unlock()

	var (
		st  *zk.Stat
		ch  <-chan zk.Event
		err error
	)
	if within(regTimeout, zc, func() { _, st, ch, err = zc.GetW(path) }) || err != nil {
		return false
	}
	v0 := st.Version
	set := wc.run.rec.now()
	fired := func(ev zk.Event) bool {
		if ev.Type == zk.EventNotWatching {
			return false // the session ended, and the watch with it
		}
		wc.run.rec.count("watch-fired", OK)
		if ev.Type != zk.EventNodeDataChanged || ev.Path != path {
			wc.run.rec.anomaly("watch-wrong-event", "client %d: data watch on %s fired %v on %s", wc.id, path, ev.Type, ev.Path)
			return true
		}
		// The event says the data changed after the watch was set.
		var cur *zk.Stat
		var err error
		if within(regTimeout, zc, func() { _, cur, err = zc.Get(path) }) || err != nil {
			return false
		}
		if cur.Version <= v0 {
			wc.run.rec.anomaly("watch-spurious", "client %d on replica %d: watch set on %s at version %d fired, but the node is still at version %d",
				wc.id, zc.replica, path, v0, cur.Version)
		}
		return true
	}
	for {
		select {
		case ev := <-ch:
			return fired(ev)
		case <-stop:
			return false
		case <-time.After(time.Duration(50+wc.rng.Intn(200)) * time.Millisecond):
		}
		var cur *zk.Stat
		var err error
		if within(regTimeout, zc, func() { _, cur, err = zc.Get(path) }) || err != nil || zc.isExpired() {
			return false
		}
		if cur.Version <= v0 {
			continue
		}
		// The reply shows the change; the event must have come first.
		select {
		case ev := <-ch:
			return fired(ev)
		default:
		}
		// One connection carries the watch and the reply (dialZKOnce), so
		// the event must have come first.
		wc.run.rec.anomaly("data-before-event", "client %d on replica %d read %s at version %d before the event of its watch set at version %d (%.3fs)",
			wc.id, zc.replica, path, cur.Version, v0, secs(set))
		return false
	}
}
