package replication

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"

	"zkfs/storage"
	"zkfs/tree"
)

// Applied describes one applied Raft batch, as listeners see it.
type Applied struct {
	// Index is the last Raft index of the batch, and the tree's LastZxid.
	Index uint64
	// Events are the batch's events, in zxid order.
	Events []tree.Event
	// Kinds lists the nodes whose kind (file or directory) changed. A kind
	// change is invisible to ZooKeeper clients and has no event, but a
	// mount must replace the node's inode.
	Kinds []string
	// ACLs lists the nodes whose ACL changed. setACL has no event either,
	// but a mount derives its mode bits from the ACL.
	ACLs []string
	// Reset is set when the whole tree was replaced by a snapshot, so
	// that caches must drop everything. Events is then empty: Before and
	// After, the replaced tree and its replacement, tell what changed
	// (tree.Diff). Neither may be modified or kept.
	Reset         bool
	Before, After *tree.Tree
}

// Listener receives every applied batch. It runs on the apply goroutine
// while the tree's write lock is held, so that no reader can see a change
// before its watchers have queued the event (ZooKeeper's ordering
// guarantee). It must therefore only queue work: never block, never read
// the tree through the Replica, never send kernel notifications.
type Listener func(Applied)

// applyResult is what ApplyBatch returns for one log entry, and what the
// proposer's future yields.
type applyResult struct {
	result tree.Result
}

// fsm adapts the tree and its store to hashicorp/raft.
type fsm struct {
	log   *slog.Logger
	store *storage.Store
	cfg   tree.Config

	// aheadMu lets one commit notice at a time apply ahead of raft;
	// aheadStopped is set once the replica closes. aheadPending is a
	// notice that came before its entry was appended here, and
	// aheadKick wakes retryAhead once the log has grown past it.
	aheadMu      sync.Mutex
	aheadStopped bool
	aheadPending struct{ index, term uint64 }
	aheadWant    atomic.Uint64 // aheadPending.index, read without the lock
	aheadKick    chan struct{}

	mu      sync.RWMutex
	tree    *tree.Tree
	applied uint64 // the last index whose effects are in the store
	// appliedCh is closed, and replaced, each time applied advances, so
	// that callers waiting for read-your-writes wake up.
	appliedCh chan struct{}
	listeners []Listener

	// fatal stops the process. A replica that cannot apply an entry or
	// persist a batch must not go on: its state would diverge from its
	// peers'. Tests replace it to observe the stop.
	fatal func(msg string, args ...any)
}

// treeLoadMu serializes tree loads; see newFSM.
var treeLoadMu sync.Mutex

func newFSM(log *slog.Logger, store *storage.Store, cfg tree.Config) (*fsm, error) {
	// Nearly all that the load allocates is the tree itself, which the
	// collector would only mark again and again as it grows (a third of
	// the CPU of loading a million znodes): it is off until the tree is
	// in. One load at a time, so that replicas opened together in one
	// process (tests) restore the setting in order.
	treeLoadMu.Lock()
	gc := debug.SetGCPercent(-1)
	t, applied, err := store.LoadTree(cfg)
	debug.SetGCPercent(gc)
	treeLoadMu.Unlock()
	if err != nil {
		return nil, err
	}
	f := &fsm{log: log, store: store, cfg: cfg, tree: t, applied: applied, appliedCh: make(chan struct{}), aheadKick: make(chan struct{}, 1)}
	f.fatal = func(msg string, args ...any) {
		log.Error(msg, args...)
		os.Exit(70)
	}
	return f, nil
}

var _ raft.BatchingFSM = (*fsm)(nil)

// Apply applies one entry; hashicorp/raft calls ApplyBatch instead, but the
// FSM interface requires both.
func (f *fsm) Apply(l *raft.Log) any {
	return f.ApplyBatch([]*raft.Log{l})[0]
}

// ApplyBatch applies a batch of entries and persists it as one Pebble batch.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	f.mu.Lock()
	defer f.mu.Unlock()
	var events []tree.Event
	var kinds, acls []string
	last := f.applied
	for i, l := range logs {
		// After a restart raft hands back entries that the store already
		// holds (everything after its last snapshot): skip them.
		if l.Index <= f.applied {
			continue
		}
		last = l.Index
		if l.Type != raft.LogCommand {
			continue
		}
		cmd, err := DecodeCommand(l.Data)
		if err != nil {
			f.fatal("replication: cannot apply log entry; stopping the replica", "index", l.Index, "err", err)
			return out
		}
		h := tree.Header{Zxid: int64(l.Index), Time: cmd.Time, Session: cmd.Session, Owner: cmd.Owner, Identity: cmd.Identity}
		res, evs := f.tree.Apply(h, cmd.Op)
		events = append(events, evs...)
		if k, ok := cmd.Op.(tree.SetKind); ok && res.Err == nil {
			kinds = append(kinds, k.Path)
		}
		if a, ok := cmd.Op.(tree.SetACL); ok && res.Err == nil {
			acls = append(acls, a.Path)
		}
		out[i] = applyResult{result: res}
	}
	if last == f.applied {
		return out
	}
	if err := f.store.CommitApplied(f.tree.TakeChanges(), last); err != nil {
		f.fatal("replication: cannot persist applied entries; stopping the replica", "index", last, "err", err)
		return out
	}
	f.setApplied(last)
	a := Applied{Index: last, Events: events, Kinds: kinds, ACLs: acls}
	for _, fn := range f.listeners {
		fn(a)
	}
	return out
}

// setApplied records progress and wakes the waiters; f.mu is held.
func (f *fsm) setApplied(idx uint64) {
	f.applied = idx
	close(f.appliedCh)
	f.appliedCh = make(chan struct{})
}

// Snapshot captures the state at the last applied index. Raft calls it on
// the apply goroutine, so no batch is half-applied.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	// Applied batches are committed without fsync (the log has them). Raft
	// will trust this snapshot's index and compact the log below it, so
	// the state it describes must be durable first.
	if err := f.store.Sync(); err != nil {
		return nil, err
	}
	s, err := f.store.Snapshot()
	if err != nil {
		return nil, err
	}
	return &fsmSnapshot{snap: s}, nil
}

// Restore replaces the whole state with a snapshot from the leader.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	t, idx, err := f.store.Restore(rc, f.cfg)
	if err != nil {
		// The store is unchanged; raft reports the failure and retries.
		return fmt.Errorf("replication: restore: %w", err)
	}
	before := f.tree
	f.tree = t
	f.setApplied(idx)
	a := Applied{Index: idx, Reset: true, Before: before, After: t}
	for _, fn := range f.listeners {
		fn(a)
	}
	f.log.Info("restored the tree from a snapshot", "index", idx)
	return nil
}

type fsmSnapshot struct {
	snap *storage.Snapshot
}

// Persist streams the Pebble snapshot to raft's sink, off the apply path.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

// Release frees the Pebble snapshot.
func (s *fsmSnapshot) Release() {
	s.snap.Close()
}

// appliedIndex returns the last applied index.
func (f *fsm) appliedIndex() uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied
}

// appliedWait returns the last applied index and a channel closed when it
// next advances, read together so that no advance falls between them.
func (f *fsm) appliedWait() (uint64, <-chan struct{}) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.applied, f.appliedCh
}
