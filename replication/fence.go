package replication

import "sync"

// fences are the consumers of applied batches that finish their work after
// the apply, on goroutines of their own: the mount's kernel-cache
// invalidations. A client that sees its write acknowledged may next look
// at the mount of the same replica, where a name it looked up before the
// write is cached as missing until the invalidation lands; so a write's
// reply waits for them (AwaitFences).
type fences struct {
	mu   sync.Mutex
	next int
	wait map[int]func(index uint64)
}

// AddFence registers wait, which returns once its consumer has dealt with
// every batch up to index, or gives up (it must bound its wait). The
// returned func removes it.
func (r *Replica) AddFence(wait func(index uint64)) (remove func()) {
	f := &r.fences
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.wait == nil {
		f.wait = map[int]func(uint64){}
	}
	id := f.next
	f.next++
	f.wait[id] = wait
	return func() {
		f.mu.Lock()
		delete(f.wait, id)
		f.mu.Unlock()
	}
}

// AwaitFences waits until every registered consumer has dealt with the
// batches up to index: the client port calls it before it acknowledges a
// write, so that the client's next step, through any interface of this
// replica, sees the write.
func (r *Replica) AwaitFences(index uint64) {
	f := &r.fences
	f.mu.Lock()
	waits := make([]func(uint64), 0, len(f.wait))
	for _, w := range f.wait {
		waits = append(waits, w)
	}
	f.mu.Unlock()
	for _, w := range waits {
		w(index)
	}
}
