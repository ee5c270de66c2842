package replication

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"zkfs/storage"
	"zkfs/tree"
)

// aheadReplica is the part of a replica that applyAhead uses: its store,
// FSM and cached log, with no raft running, so that the test decides
// which entries the log holds.
func aheadReplica(t *testing.T) *Replica {
	t.Helper()
	store, err := storage.Open(filepath.Join(t.TempDir(), "pebble"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f, err := newFSM(slog.Default(), store, tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	f.fatal = func(msg string, args ...any) { t.Fatalf("fatal: %s %v", msg, args) }
	logs, err := raft.NewLogCache(16, store)
	if err != nil {
		t.Fatal(err)
	}
	return &Replica{store: store, logs: store, raftLogs: logs, fsm: f}
}

// appendCreates appends entries first..last of the given term, each
// creating /n<index>.
func appendCreates(t *testing.T, r *Replica, first, last, term uint64) {
	t.Helper()
	var entries []*raft.Log
	for i := first; i <= last; i++ {
		data, err := EncodeCommand(Command{Time: 1, Identity: tree.Identity{Super: true},
			Op: tree.Create{Path: fmt.Sprintf("/n%d", i), ACL: tree.OpenACL}})
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, &raft.Log{Index: i, Term: term, Type: raft.LogCommand, Data: data})
	}
	if err := r.raftLogs.StoreLogs(entries); err != nil {
		t.Fatal(err)
	}
}

func TestApplyAhead(t *testing.T) {
	tests := []struct {
		name        string
		logTerm     uint64 // the term of the entries in this replica's log
		logLast     uint64 // the last entry it holds
		index, term uint64 // the leader's notice
		wantApplied uint64
	}{
		{name: "same entry", logTerm: 2, logLast: 5, index: 5, term: 2, wantApplied: 5},
		{name: "prefix of the log", logTerm: 2, logLast: 5, index: 3, term: 2, wantApplied: 3},
		{name: "entry not appended yet", logTerm: 2, logLast: 5, index: 6, term: 2, wantApplied: 0},
		{name: "another leader's entry", logTerm: 2, logLast: 5, index: 5, term: 3, wantApplied: 0},
		{name: "already applied", logTerm: 2, logLast: 5, index: 0, term: 2, wantApplied: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aheadReplica(t)
			appendCreates(t, r, 1, tt.logLast, tt.logTerm)
			r.fsm.applyAhead(r.raftLogs, tt.index, tt.term)
			if got := r.AppliedIndex(); got != tt.wantApplied {
				t.Errorf("applied index %d, want %d", got, tt.wantApplied)
			}
			for i := uint64(1); i <= tt.logLast; i++ {
				_, _, err := getData(r, fmt.Sprintf("/n%d", i))
				if exists := err == nil; exists != (i <= tt.wantApplied) {
					t.Errorf("/n%d exists: %v, want %v", i, exists, i <= tt.wantApplied)
				}
			}
		})
	}
}

// TestApplyAheadThenRaft checks that raft's own delivery of entries that
// were applied ahead changes nothing, and that it goes on from there.
func TestApplyAheadThenRaft(t *testing.T) {
	r := aheadReplica(t)
	appendCreates(t, r, 1, 4, 1)
	r.fsm.applyAhead(r.raftLogs, 3, 1)
	var logs []*raft.Log
	for i := uint64(1); i <= 4; i++ {
		l := new(raft.Log)
		if err := r.raftLogs.GetLog(i, l); err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	// Raft hands over the whole batch, 1-4: 1-3 are skipped, 4 applies
	// once, and its result comes back.
	out := r.fsm.ApplyBatch(logs)
	if got := r.AppliedIndex(); got != 4 {
		t.Fatalf("applied index %d, want 4", got)
	}
	for i, o := range out[:3] {
		if o != nil {
			t.Errorf("entry %d applied twice: %+v", i+1, o)
		}
	}
	res, ok := out[3].(applyResult)
	if !ok || res.result.Err != nil {
		t.Errorf("entry 4: %+v, want a successful create", out[3])
	}
}

// TestApplyAheadAfterAppend sends the notice before its entry is in the
// log, as happens when the leader's notice overtakes the AppendEntries
// that carries the entry: once raft appends it, the replica applies up to
// the notice without waiting for another message from the leader (which
// may have stopped meanwhile).
func TestApplyAheadAfterAppend(t *testing.T) {
	r := aheadReplica(t)
	counted := &countingLogs{LogStore: r.store, stored: r.fsm.logStored}
	logs, err := raft.NewLogCache(16, counted)
	if err != nil {
		t.Fatal(err)
	}
	r.raftLogs = logs
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go r.fsm.retryAhead(logs, stop, &wg)
	defer func() { close(stop); wg.Wait() }()

	appendCreates(t, r, 1, 3, 2)
	r.fsm.applyAhead(logs, 5, 2)
	if got := r.AppliedIndex(); got != 0 {
		t.Fatalf("applied %d before the noticed entry was appended", got)
	}
	appendCreates(t, r, 4, 4, 2)
	if got := r.AppliedIndex(); got != 0 {
		t.Fatalf("applied %d with entry 5 still missing", got)
	}
	appendCreates(t, r, 5, 5, 2)
	deadline := time.Now().Add(10 * time.Second)
	for r.AppliedIndex() != 5 {
		if time.Now().After(deadline) {
			t.Fatalf("applied index %d after the noticed entry was appended, want 5", r.AppliedIndex())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, _, err := getData(r, "/n5"); err != nil {
		t.Errorf("/n5: %v", err)
	}
}
