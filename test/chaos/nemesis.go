package chaos

import (
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"time"
)

// faultRecord is one injected fault, from injection to healing.
type faultRecord struct {
	Kind    string `json:"kind"`
	Targets string `json:"targets"`
	Detail  string `json:"detail,omitempty"`
	Start   int64  `json:"start"`
	End     int64  `json:"end"`
}

// faultKinds are the nemesis's faults and their weights.
var faultKinds = []struct {
	name   string
	weight int
}{
	{"kill", 3},             // SIGKILL a random replica, restart it
	{"kill-leader", 3},      // SIGKILL the leader, restart it
	{"pause", 2},            // SIGSTOP a random replica past the session timeout
	{"pause-leader", 2},     // SIGSTOP the leader past the session timeout
	{"isolate", 2},          // cut a random replica off the others, both ways
	{"isolate-leader", 2},   // cut the leader off the others, both ways
	{"partition-oneway", 1}, // cut the connections one replica opens to another
	{"partition-halves", 1}, // split the ensemble in two (five replicas)
	{"client-partition", 3}, // cut some clients off their replicas
	{"wipe", 1},             // delete a replica's data directory; it rejoins empty
	{"restart-all", 1},      // SIGKILL every replica at once, restart them all
}

// nemesis injects faults at random times, sometimes two at once, until
// stopped; then it heals everything.
type nemesis struct {
	run  *run
	rng  *rand.Rand
	kind string // when set, the only kind injected

	mu   sync.Mutex
	busy map[int]bool // replicas under a process fault
}

func (n *nemesis) loop(stop <-chan struct{}) {
	var wg sync.WaitGroup
	active := make(chan struct{}, 2) // at most two faults at once
	for !sleep(stop, time.Duration(500+n.rng.Intn(3000))*time.Millisecond) {
		kind := n.choose()
		seed := n.rng.Int63()
		together := n.rng.Intn(3) == 0
		if kind == "wipe" || kind == "restart-all" || !together {
			// Alone: wait for the faults in progress to heal first. A
			// wipe must be alone: a replica that lost its disk and votes
			// while another is behind could elect a leader without the
			// newest committed entries; Raft assumes disks keep what
			// they acknowledged.
			wg.Wait()
		}
		active <- struct{}{}
		wg.Add(1)
		exclusive := kind == "wipe" || kind == "restart-all"
		run := func() {
			defer wg.Done()
			defer func() { <-active }()
			n.inject(kind, rand.New(rand.NewSource(seed)))
		}
		if exclusive {
			run()
		} else {
			go run()
		}
	}
	wg.Wait()
}

func (n *nemesis) choose() string {
	if n.kind != "" {
		return n.kind
	}
	total := 0
	for _, k := range faultKinds {
		if k.name == "partition-halves" && len(n.run.cluster.nodes) < 5 {
			continue
		}
		total += k.weight
	}
	x := n.rng.Intn(total)
	for _, k := range faultKinds {
		if k.name == "partition-halves" && len(n.run.cluster.nodes) < 5 {
			continue
		}
		if x < k.weight {
			return k.name
		}
		x -= k.weight
	}
	panic("unreachable")
}

// claim marks a replica as under a fault; the leader when leader is set
// and it is free, otherwise a random free replica. It returns nil when
// every replica is taken.
func (n *nemesis) claim(rng *rand.Rand, leader bool) *replica {
	c := n.run.cluster
	var lead *replica
	if leader {
		lead = c.leader()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if lead != nil && !n.busy[lead.id] {
		n.busy[lead.id] = true
		return lead
	}
	var free []*replica
	for _, r := range c.nodes {
		if !n.busy[r.id] {
			free = append(free, r)
		}
	}
	if len(free) == 0 {
		return nil
	}
	r := free[rng.Intn(len(free))]
	n.busy[r.id] = true
	return r
}

func (n *nemesis) release(r *replica) {
	n.mu.Lock()
	delete(n.busy, r.id)
	n.mu.Unlock()
}

func (n *nemesis) claimAll() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.busy) > 0 {
		return false
	}
	for _, r := range n.run.cluster.nodes {
		n.busy[r.id] = true
	}
	return true
}

func (n *nemesis) releaseAll() {
	n.mu.Lock()
	clear(n.busy)
	n.mu.Unlock()
}

func hold(rng *rand.Rand, min, max time.Duration) time.Duration {
	return min + time.Duration(rng.Int63n(int64(max-min)+1))
}

// inject runs one fault to its end and records it.
func (n *nemesis) inject(kind string, rng *rand.Rand) {
	c := n.run.cluster
	rec := n.run.rec
	f := &faultRecord{Kind: kind, Start: rec.now()}
	defer func() {
		f.End = rec.now()
		rec.addFault(f)
		n.run.logf("fault %-16s %-14s %5.1fs..%5.1fs %s", f.Kind, f.Targets, secs(f.Start), secs(f.End), f.Detail)
	}()
	switch kind {
	case "kill", "kill-leader":
		r := n.claim(rng, kind == "kill-leader")
		if r == nil {
			f.Detail = "skipped: every replica is under a fault"
			return
		}
		defer n.release(r)
		f.Targets = fmt.Sprint(r.id)
		c.hold(r, true)
		if err := c.kill(r); err != nil {
			f.Detail = err.Error()
		}
		time.Sleep(hold(rng, 0, 3*time.Second))
		n.restart(r, f)
	case "pause", "pause-leader":
		r := n.claim(rng, kind == "pause-leader")
		if r == nil {
			f.Detail = "skipped: every replica is under a fault"
			return
		}
		defer n.release(r)
		f.Targets = fmt.Sprint(r.id)
		d := hold(rng, ephSessionTimeout+time.Second, ephSessionTimeout+4*time.Second)
		if err := r.Pause(); err != nil {
			f.Detail = err.Error()
			return
		}
		time.Sleep(d)
		if err := r.Resume(); err != nil {
			f.Detail = err.Error()
		}
		f.Detail = fmt.Sprintf("paused %v", d.Round(time.Millisecond))
	case "isolate", "isolate-leader":
		r := n.claim(rng, kind == "isolate-leader")
		if r == nil {
			f.Detail = "skipped: every replica is under a fault"
			return
		}
		defer n.release(r)
		f.Targets = fmt.Sprint(r.id)
		var links []link
		for _, o := range c.nodes {
			if o != r {
				links = append(links, link{r.id, o.id}, link{o.id, r.id})
			}
		}
		n.partition(rng, links, f)
	case "partition-oneway":
		a := n.claim(rng, rng.Intn(2) == 0)
		if a == nil {
			f.Detail = "skipped: every replica is under a fault"
			return
		}
		defer n.release(a)
		b := c.nodes[rng.Intn(len(c.nodes))]
		for b == a {
			b = c.nodes[rng.Intn(len(c.nodes))]
		}
		f.Targets = fmt.Sprintf("%d->%d", a.id, b.id)
		n.partition(rng, []link{{a.id, b.id}}, f)
	case "partition-halves":
		if !n.claimAll() {
			f.Detail = "skipped: a replica is under a fault"
			return
		}
		defer n.releaseAll()
		perm := rng.Perm(len(c.nodes))
		cut := 1 + rng.Intn(len(c.nodes)/2)
		side := map[int]bool{}
		var names []string
		for _, i := range perm[:cut] {
			side[c.nodes[i].id] = true
			names = append(names, fmt.Sprint(c.nodes[i].id))
		}
		var links []link
		for _, a := range c.nodes {
			for _, b := range c.nodes {
				if a != b && side[a.id] != side[b.id] {
					links = append(links, link{a.id, b.id})
				}
			}
		}
		f.Targets = strings.Join(names, ",") + "|rest"
		n.partition(rng, links, f)
	case "client-partition":
		routes := n.run.clients.all()
		var cut []*proxy
		var names []string
		for k, p := range routes {
			if rng.Intn(3) == 0 {
				cut = append(cut, p)
				names = append(names, fmt.Sprintf("c%d->%d", k.client, k.replica))
			}
		}
		state := linkDrop
		if rng.Intn(3) == 0 {
			state = linkReject
		}
		d := hold(rng, time.Second, 2*ephSessionTimeout+time.Second)
		for _, p := range cut {
			p.set(state, false)
		}
		time.Sleep(d)
		reset := rng.Intn(2) == 0
		for _, p := range cut {
			p.set(linkUp, reset)
		}
		f.Targets = fmt.Sprintf("%d routes", len(cut))
		f.Detail = fmt.Sprintf("%s %v reset=%v", state, d.Round(time.Millisecond), reset)
	case "wipe":
		if !n.claimAll() {
			f.Detail = "skipped: a replica is under a fault"
			return
		}
		defer n.releaseAll()
		if err := c.waitHealthy(60 * time.Second); err != nil {
			f.Detail = "skipped: " + err.Error()
			return
		}
		r := c.nodes[rng.Intn(len(c.nodes))]
		f.Targets = fmt.Sprint(r.id)
		c.hold(r, true)
		if err := c.wipe(r); err != nil {
			f.Detail = err.Error()
		}
		c.hold(r, false)
		// Alone until the wiped replica has caught up: see loop.
		if err := c.waitHealthy(120 * time.Second); err != nil {
			f.Detail += " " + err.Error()
		}
	case "restart-all":
		if !n.claimAll() {
			f.Detail = "skipped: a replica is under a fault"
			return
		}
		defer n.releaseAll()
		f.Targets = "all"
		if err := c.restartAll(); err != nil {
			f.Detail = err.Error()
		}
	}
}

// partition cuts the links, holds, and heals them.
func (n *nemesis) partition(rng *rand.Rand, links []link, f *faultRecord) {
	c := n.run.cluster
	state := linkDrop
	if rng.Intn(3) == 0 {
		state = linkReject
	}
	d := hold(rng, 2*time.Second, 10*time.Second)
	for _, l := range links {
		c.setLink(l, state, false)
	}
	time.Sleep(d)
	reset := rng.Intn(2) == 0
	for _, l := range links {
		c.setLink(l, linkUp, reset)
	}
	f.Detail = fmt.Sprintf("%s %v reset=%v", state, d.Round(time.Millisecond), reset)
}

// restart starts a replica the nemesis stopped; one that cannot reach a
// quorum yet keeps trying in the background.
func (n *nemesis) restart(r *replica, f *faultRecord) {
	if err := n.run.cluster.start(r, 60*time.Second); err != nil {
		f.Detail = strings.TrimSpace(f.Detail + " restart: " + firstLine(err.Error()))
	}
	n.run.cluster.hold(r, false)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
