package storage

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// fatalLogger turns Pebble's Fatalf, which it calls when it cannot go on
// (a failed MANIFEST or WAL write), into a panic the test recovers: the
// process would stop there, which is what an I/O error must do.
type fatalLogger struct{}

func (fatalLogger) Infof(string, ...any)  {}
func (fatalLogger) Errorf(string, ...any) {}
func (fatalLogger) Fatalf(format string, args ...any) {
	panic(pebbleFatal(fmt.Sprintf(format, args...)))
}

type pebbleFatal string

// injector fails filesystem operations once armed: the k-th one only, or
// the k-th and every one after it, as a disk that died.
type injector struct {
	armed  atomic.Bool
	n      atomic.Int64
	k      int64
	sticky bool
	hits   atomic.Int64
}

func (in *injector) MaybeError(op errorfs.Op) error {
	if !in.armed.Load() {
		return nil
	}
	i := in.n.Add(1)
	if i == in.k || (in.sticky && i > in.k) {
		in.hits.Add(1)
		return errorfs.ErrInjected
	}
	return nil
}

func (in *injector) String() string { return fmt.Sprintf("fail op %d (sticky %v)", in.k, in.sticky) }

// ioModel is what the driver knows was acknowledged.
type ioModel struct {
	acked      map[uint64]uint64 // log index to term, of returned StoreLogs not since deleted
	stable     map[string]uint64 // returned SetUint64s
	durable    uint64            // applied index covered by a returned synced write
	committed  uint64            // applied index of the last returned CommitApplied
	started    uint64            // highest applied index any CommitApplied started with
	first      uint64
	deletedTo  uint64
	snapshotAt uint64
}

// ioDriver plays a Raft follower against a store until a call fails, and
// reports how it stopped.
func ioDriver(s *Store, ops []op, rng *rand.Rand, m *ioModel) (stopped string) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(pebbleFatal); ok {
				stopped = "pebble fatal: " + string(f)
				return
			}
			if e, ok := r.(error); ok && errors.Is(e, errorfs.ErrInjected) {
				stopped = "pebble panic: " + e.Error()
				return
			}
			panic(r)
		}
	}()
	tr, applied, err := s.LoadTree(tree.Config{})
	if err != nil {
		return "LoadTree: " + err.Error()
	}
	last := applied
	for last < uint64(len(ops)-1) {
		switch r := rng.Intn(10); {
		case r < 4:
			n := uint64(1 + rng.Intn(3))
			var logs []*raft.Log
			for i := last + 1; i <= last+n && i < uint64(len(ops)); i++ {
				logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: entryData(i)})
			}
			if err := s.StoreLogs(logs); err != nil {
				return "StoreLogs: " + err.Error()
			}
			for _, l := range logs {
				m.acked[l.Index] = l.Term
				last = l.Index
			}
			m.durable = m.committed
		case r < 8:
			if applied >= last {
				continue
			}
			to := applied + 1 + uint64(rng.Intn(int(last-applied)))
			for i := applied + 1; i <= to; i++ {
				apply(tr, ops, i)
			}
			m.started = max(m.started, to)
			if err := s.CommitApplied(tr.TakeChanges(), to); err != nil {
				return "CommitApplied: " + err.Error()
			}
			m.committed, applied = to, to
		case r < 9:
			key := fmt.Sprintf("k%d", rng.Intn(3))
			v := uint64(rng.Intn(1000))
			if err := s.SetUint64([]byte(key), v); err != nil {
				return "SetUint64: " + err.Error()
			}
			m.stable[key] = v
			m.durable = m.committed
		default:
			sn, err := s.Snapshot()
			if err != nil {
				return "Snapshot: " + err.Error()
			}
			_, werr := sn.WriteTo(io.Discard)
			if err := sn.Close(); werr == nil {
				werr = err
			}
			if werr != nil {
				return "Snapshot.WriteTo: " + werr.Error()
			}
			if sn.AppliedIndex() > m.first+2 {
				to := sn.AppliedIndex() - 2
				if err := s.DeleteRange(m.first, to); err != nil {
					return "DeleteRange: " + err.Error()
				}
				for i := m.first; i <= to; i++ {
					delete(m.acked, i)
				}
				m.first = to + 1
				m.durable = m.committed
			}
		}
	}
	return ""
}

// TestIOErrors injects an I/O error at each filesystem operation in turn
// (once, or from then on, as a disk that died) while a
// store works as a Raft follower's, then loses power. Every call either
// succeeds or returns the error (or Pebble stops the process); and after
// the crash the store opens with everything acknowledged, or refuses with
// an error that says what is wrong: it never comes back silently missing
// acknowledged data.
func TestIOErrors(t *testing.T) {
	const n = 200
	ops := genOps(21, n)
	ref := refDumps(t, ops)

	// A clean run counts the operations to fail.
	count := &injector{k: -1}
	count.armed.Store(true)
	clean := vfs.NewCrashableMem()
	s, err := Open("db", Options{FS: errorfs.Wrap(clean, count), Logger: fatalLogger{}, CacheSize: 1 << 20, MemTableSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	m := &ioModel{acked: map[uint64]uint64{}, stable: map[string]uint64{}, first: 1}
	if stop := ioDriver(s, ops, rand.New(rand.NewSource(1)), m); stop != "" {
		t.Fatalf("the clean run stopped: %s", stop)
	}
	s.Close()
	total := count.n.Load()
	t.Logf("a clean run makes %d filesystem operations", total)

	stops := map[string]int{}
	refused := 0
	for k := int64(1); k <= total; k++ {
		for _, sticky := range []bool{false, true} {
			stop, openErr := ioRun(t, ops, ref, k, sticky)
			kind, _, _ := strings.Cut(stop, ":")
			if kind == "" {
				kind = "not stopped"
			}
			stops[kind]++
			if openErr != nil {
				refused++
				if !strings.Contains(openErr.Error(), "storage:") {
					t.Errorf("op %d (sticky %v): after the crash the store refuses with an unclear error: %v", k, sticky, openErr)
				}
			}
		}
	}
	t.Logf("how runs stopped: %v; %d stores refused to open after the crash", stops, refused)
	if stops[""] == len(stops) {
		t.Fatal("no injected error ever reached the store's caller")
	}
}

// ioRun runs the driver with the k-th operation failing, then crashes and
// checks the store that comes back. It returns how the run stopped and
// the error of a store that refused to open.
func ioRun(t *testing.T, ops []op, ref []dump, k int64, sticky bool) (string, error) {
	t.Helper()
	mem := vfs.NewCrashableMem()
	inj := &injector{k: k, sticky: sticky}
	opts := Options{FS: errorfs.Wrap(mem, inj), Logger: fatalLogger{}, CacheSize: 1 << 20, MemTableSize: 1 << 20}
	inj.armed.Store(true)
	m := &ioModel{acked: map[uint64]uint64{}, stable: map[string]uint64{}, first: 1}
	s, err := openRecovering(opts)
	stop := ""
	if err != nil {
		stop = "Open: " + err.Error()
	} else {
		stop = ioDriver(s, ops, rand.New(rand.NewSource(1)), m)
	}
	reached := inj.n.Load() >= k // the error came before the workload ended
	if s != nil {
		closeRecovering(s)
	}
	if stop != "" && inj.hits.Load() == 0 {
		t.Fatalf("op %d: the run stopped without an injected error: %s", k, stop)
	}
	if stop == "" && reached && sticky {
		t.Errorf("op %d: the disk failed from then on, yet every call succeeded", k)
	}

	crashed := mem.CrashClone(vfs.CrashCloneCfg{})
	s2, err := Open("db", memOptions(crashed))
	if err != nil {
		return stop, err
	}
	defer s2.Close()
	tr, applied, err := s2.LoadTree(tree.Config{})
	if err != nil {
		return stop, err
	}
	if applied < m.durable || applied > max(m.started, m.committed) {
		t.Fatalf("op %d (sticky %v, stopped by %s): applied index %d outside %d..%d", k, sticky, stop, applied, m.durable, m.started)
	}
	if !dumpTree(t, tr).equal(ref[applied]) {
		t.Fatalf("op %d: the tree at %d differs from the reference", k, applied)
	}
	for i, term := range m.acked {
		var l raft.Log
		if err := s2.GetLog(i, &l); err != nil {
			t.Fatalf("op %d (sticky %v, stopped by %s): acknowledged entry %d lost: %v", k, sticky, stop, i, err)
		}
		if l.Term != term || !bytes.Equal(l.Data, entryData(i)) {
			t.Fatalf("op %d: entry %d = %+v", k, i, l)
		}
	}
	for key, v := range m.stable {
		got, err := s2.GetUint64([]byte(key))
		if err != nil || got != v {
			t.Fatalf("op %d (sticky %v, stopped by %s): acknowledged %s=%d reads %d, %v", k, sticky, stop, key, v, got, err)
		}
	}
	return stop, nil
}

func openRecovering(opts Options) (s *Store, err error) {
	defer func() {
		if r := recover(); r != nil {
			if f, ok := r.(pebbleFatal); ok {
				err = errors.New("pebble fatal: " + string(f))
				return
			}
			if e, ok := r.(error); ok && errors.Is(e, errorfs.ErrInjected) {
				err = fmt.Errorf("pebble panic: %w", e)
				return
			}
			panic(r)
		}
	}()
	return Open("db", opts)
}

func closeRecovering(s *Store) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(pebbleFatal); ok {
				return
			}
			if e, ok := r.(error); ok && errors.Is(e, errorfs.ErrInjected) {
				return
			}
			panic(r)
		}
	}()
	s.Close()
}
