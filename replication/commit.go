package replication

import (
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// A hashicorp/raft follower learns that entries committed only from the
// leader's next AppendEntries, which an idle leader sends every
// CommitTimeout to 2×CommitTimeout (5-10 ms). Every write through a
// follower, and every watch and mount on one, waited that long for its
// change. So the leader also tells its peers what it has applied, at
// once, as ZooKeeper's leader sends COMMIT; a peer whose log holds that
// entry applies up to it ahead of raft. When raft delivers the same
// entries later, the FSM finds them applied and skips them, as it does
// after a restart. The notices travel on each follower's peer stream.
//
// Applying ahead runs on the stream's reader goroutine, not raft's FSM
// goroutine, so it steps outside hashicorp/raft's promise that one
// goroutine applies. It is kept because the promise is not what the FSM
// relies on; what it relies on holds on both paths:
//
//   - Only committed entries are applied. The notice names an entry the
//     leader applied; the replica applies only if its own log holds that
//     entry with the leader's term, and then (log matching) its log equals
//     the leader's up to there. Committed entries are never truncated, so
//     the entries read stay what raft will deliver.
//   - Each entry is applied once, in order. Both paths hold the FSM's
//     write lock, apply from applied+1 in index order, and skip what is at
//     or below applied (the same rule that makes restarts replay only the
//     tail); aheadMu keeps two notices from interleaving.
//   - Nothing waits on an applied-ahead result. Raft's futures exist only
//     on the leader for its own entries, and a leader never gets notices.
//   - Snapshots stay consistent. Raft labels a snapshot with its own,
//     possibly lower, applied index, but the stored tree carries the index
//     it was applied to (storage's applied key), and a replica restored
//     from it skips entries up to that index.
//   - A snapshot installed by the leader is never older than what was
//     applied ahead: the leader sends one only to a replica whose log
//     lacks entries the leader compacted, and applying ahead never goes
//     past this replica's own log.
//
// TestApplyAhead, TestApplyAheadThenRaft and TestApplyAheadAfterAppend
// check the first three rules directly. Under faults, every chaos run
// (test/chaos) exercises them, since followers apply ahead on every
// notice: its register histories are checked for linearizability, with
// reads through every replica after a sync, and at the end every replica
// must hold the same registers (checkReplicasAgree), which an entry
// applied uncommitted, twice or not at all would break for good.

// maxApplyAhead bounds the entries a notice applies at once; a replica
// further behind is catching up, which raft does well enough.
const maxApplyAhead = 4096

// applyAhead applies the entries of logs (the log as raft reads it) up to
// index, if logs holds the entry at index with the given term: by Raft's
// log matching property this replica's log then equals the leader's up to
// there, and the leader applied index, so all of it is committed. It runs
// on the stream reader of the follower's link to the leader
// (outStream.readLoop).
func (f *fsm) applyAhead(logs raft.LogStore, index, term uint64) {
	f.aheadMu.Lock()
	defer f.aheadMu.Unlock()
	if f.aheadStopped {
		return // closing: the stores may be gone
	}
	f.mu.RLock()
	applied := f.applied
	f.mu.RUnlock()
	if index <= applied || index-applied > maxApplyAhead || logs == nil {
		return
	}
	var last raft.Log
	if err := logs.GetLog(index, &last); err != nil {
		// Not appended here yet: the notice overtook the entry, which
		// raft appends from another connection. Without a retry the
		// replica would wait for the leader's next message, and if the
		// leader stops now (as a whole ensemble can, but this replica)
		// it would serve read-only without a write its clients saw.
		if index > f.aheadPending.index {
			f.aheadPending.index, f.aheadPending.term = index, term
			f.aheadWant.Store(index)
		}
		return
	}
	if last.Term != term {
		return // another leader's entry
	}
	entries := make([]*raft.Log, 0, index-applied)
	for i := applied + 1; i < index; i++ {
		l := new(raft.Log)
		if err := logs.GetLog(i, l); err != nil {
			return // compacted meanwhile; raft will deliver
		}
		entries = append(entries, l)
	}
	entries = append(entries, &last)
	f.ApplyBatch(entries)
}

// logStored tells the FSM that the log now reaches last; it wakes
// retryAhead if a notice waits for that entry. It runs on raft's goroutine
// after each append, so it only looks at an atomic.
func (f *fsm) logStored(last uint64) {
	if want := f.aheadWant.Load(); want != 0 && want <= last {
		select {
		case f.aheadKick <- struct{}{}:
		default:
		}
	}
}

// retryAhead applies the notices that overtook their entries once the log
// has them, on a goroutine of its own until stop.
func (f *fsm) retryAhead(logs raft.LogStore, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	for {
		select {
		case <-f.aheadKick:
		case <-stop:
			return
		}
		f.aheadMu.Lock()
		p := f.aheadPending
		f.aheadPending.index, f.aheadPending.term = 0, 0
		f.aheadWant.Store(0)
		f.aheadMu.Unlock()
		if p.index != 0 {
			f.applyAhead(logs, p.index, p.term)
		}
	}
}

// stopApplyAhead waits for a notice being applied and refuses later ones,
// whose RPCs may still arrive while the replica closes its stores.
func (f *fsm) stopApplyAhead() {
	f.aheadMu.Lock()
	f.aheadStopped = true
	f.aheadMu.Unlock()
}

// commitNotices sends the leader's applied index on every follower's
// stream, from one goroutine, always with the newest index.
type commitNotices struct {
	latest atomic.Uint64
	kick   chan struct{}

	isLeader func() bool
	// logs gives the term of the announced entry; streams are the
	// followers' streams that this replica serves while it leads.
	logs    raft.LogStore
	streams *peerServer
	stop    <-chan struct{}
	wg      *sync.WaitGroup
}

// startCommitNotices makes the leader announce every applied batch: a
// listener registered through listen notes each batch's index, and the
// notice goroutine sends the newest.
func startCommitNotices(listen func(Listener), isLeader func() bool, logs raft.LogStore, streams *peerServer, stop <-chan struct{}, wg *sync.WaitGroup) {
	n := &commitNotices{kick: make(chan struct{}, 1), isLeader: isLeader, logs: logs, streams: streams, stop: stop, wg: wg}
	listen(func(a Applied) {
		// Under the apply lock: only note the index and wake the sender.
		if a.Reset {
			return
		}
		n.latest.Store(a.Index)
		select {
		case n.kick <- struct{}{}:
		default:
		}
	})
	n.wg.Add(1)
	go n.run()
}

func (n *commitNotices) run() {
	defer n.wg.Done()
	for {
		select {
		case <-n.kick:
		case <-n.stop:
			return
		}
		if !n.isLeader() {
			continue
		}
		idx := n.latest.Load()
		var l raft.Log
		if err := n.logs.GetLog(idx, &l); err != nil {
			continue
		}
		n.streams.each(func(st *inStream) { st.notice(idx, l.Term) })
	}
}
