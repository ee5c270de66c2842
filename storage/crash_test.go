package storage

import (
	"bytes"
	"encoding/binary"
	"maps"
	"math/rand"
	randv2 "math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// crashModel is what the test knows about durability while it drives a
// store: which calls have returned and which have started. A crash clone
// taken between two readings of the model must show everything acknowledged
// before the first reading and nothing not started by the second.
type crashModel struct {
	mu sync.Mutex
	// maxStored is the highest index any returned StoreLogs wrote.
	maxStored uint64
	// acked maps the index of every log entry whose StoreLogs returned, and
	// that no DeleteRange has started to remove, to its term.
	acked map[uint64]uint64
	// deletions are the ranges of every DeleteRange started, in order.
	deletions [][2]uint64
	// committed is the applied index of the last CommitApplied or Restore
	// that returned; durable is the committed index when the last synced
	// write returned, which makes everything before it durable.
	committed, durable uint64
	// started is the highest applied index any CommitApplied or Restore
	// was started with.
	started uint64
	// restoreAcked is the index of the last Restore that returned;
	// restores are the indexes of every Restore started.
	restoreAcked uint64
	restores     []uint64
}

// crashPoint is one simulated power loss: the filesystem as it would come
// back, and the model's readings around the moment it was taken.
type crashPoint struct {
	fs       *vfs.MemFS
	acked    map[uint64]uint64 // acknowledged before the crash
	durable  uint64
	restored uint64
	// Started before the crash completed.
	deletions [][2]uint64
	started   uint64
	restores  []uint64
	maxStored uint64
}

func (m *crashModel) crash(fs *vfs.MemFS, seed int64) crashPoint {
	rng := randv2.New(randv2.NewPCG(uint64(seed), 0))
	cfg := vfs.CrashCloneCfg{}
	if p := []int{0, 30, 70, 100}[rng.IntN(4)]; p > 0 {
		cfg = vfs.CrashCloneCfg{UnsyncedDataPercent: p, RNG: rng}
	}
	return m.crashWith(fs, cfg)
}

// crashWith takes a crash clone that keeps unsynced data as cfg says.
func (m *crashModel) crashWith(fs *vfs.MemFS, cfg vfs.CrashCloneCfg) crashPoint {
	m.mu.Lock()
	cp := crashPoint{acked: maps.Clone(m.acked), durable: m.durable, restored: m.restoreAcked}
	nDel := len(m.deletions)
	m.mu.Unlock()

	cp.fs = fs.CrashClone(cfg)

	m.mu.Lock()
	cp.deletions = append([][2]uint64(nil), m.deletions[nDel:]...)
	cp.started = m.started
	cp.maxStored = m.maxStored
	cp.restores = append([]uint64(nil), m.restores...)
	m.mu.Unlock()
	return cp
}

// crashDriver plays a Raft follower against a store on a crashable
// filesystem: it appends entries, applies and commits them, truncates
// conflicting suffixes, snapshots and compacts, installs the leader's
// snapshots and flushes, keeping the model up to date.
type crashDriver struct {
	t      *testing.T
	rng    *rand.Rand
	s      *Store
	m      *crashModel
	ops    []op
	tr     *tree.Tree
	leader *Store
	ltree  *tree.Tree

	applied, first, last, term uint64
	pending                    sync.WaitGroup
	snaps                      []*writtenSnapshot
}

type writtenSnapshot struct {
	index uint64
	buf   bytes.Buffer
	err   error
}

func entryData(i uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte("entry"), i)
}

func (d *crashDriver) storeLogs() {
	from := max(d.last, d.applied) + 1
	to := min(from+uint64(d.rng.Intn(4)), uint64(len(d.ops)-1))
	if from > to {
		return
	}
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: d.term, Type: raft.LogCommand, Data: entryData(i)})
	}
	if err := d.s.StoreLogs(logs); err != nil {
		d.t.Fatal(err)
	}
	d.m.mu.Lock()
	for i := from; i <= to; i++ {
		d.m.acked[i] = d.term
	}
	d.m.maxStored = max(d.m.maxStored, to)
	d.m.durable = d.m.committed
	d.m.mu.Unlock()
	if d.first == 0 {
		d.first = from
	}
	d.last = to
}

func (d *crashDriver) deleteRange(lo, hi uint64) {
	d.m.mu.Lock()
	d.m.deletions = append(d.m.deletions, [2]uint64{lo, hi})
	for i := lo; i <= hi; i++ {
		delete(d.m.acked, i)
	}
	d.m.mu.Unlock()
	if err := d.s.DeleteRange(lo, hi); err != nil {
		d.t.Fatal(err)
	}
	d.m.mu.Lock()
	d.m.durable = d.m.committed
	d.m.mu.Unlock()
}

func (d *crashDriver) commit(index uint64) {
	d.m.mu.Lock()
	d.m.started = max(d.m.started, index)
	d.m.mu.Unlock()
	if err := d.s.CommitApplied(d.tr.TakeChanges(), index); err != nil {
		d.t.Fatal(err)
	}
	d.m.mu.Lock()
	d.m.committed = index
	d.m.mu.Unlock()
	d.applied = index
}

// applySome applies part of the stored, unapplied entries, committing after
// each entry or once for the lot, as the batching FSM may.
func (d *crashDriver) applySome() {
	if d.last <= d.applied {
		return
	}
	to := d.applied + 1 + uint64(d.rng.Intn(int(d.last-d.applied)))
	each := d.rng.Intn(2) == 0
	for i := d.applied + 1; i <= to; i++ {
		apply(d.tr, d.ops, i)
		if each || i == to {
			d.commit(i)
		}
	}
}

// truncateSuffix drops unapplied entries as a follower does when a new
// leader's log conflicts with its own.
func (d *crashDriver) truncateSuffix() {
	if d.last <= d.applied+1 || d.first == 0 {
		return
	}
	cut := max(d.applied+1+uint64(d.rng.Intn(int(d.last-d.applied))), d.first)
	d.deleteRange(cut, d.last)
	d.term++
	d.last = cut - 1
	if d.last < d.first {
		d.first, d.last = 0, 0
	}
}

// snapshotAndCompact takes a snapshot, streams it on another goroutine
// while the driver carries on, and truncates the log behind it, as Raft
// does. Half the time it skips Sync, to check that the log is never lost
// ahead of the state applied from it: Pebble recovers a prefix of its WAL,
// so a compaction that survives brings back the applies before it.
func (d *crashDriver) snapshotAndCompact() {
	if d.rng.Intn(2) == 0 {
		if err := d.s.Sync(); err != nil {
			d.t.Fatal(err)
		}
		d.m.mu.Lock()
		d.m.durable = d.m.committed
		d.m.mu.Unlock()
	}
	sn, err := d.s.Snapshot()
	if err != nil {
		d.t.Fatal(err)
	}
	ws := &writtenSnapshot{index: sn.AppliedIndex()}
	d.snaps = append(d.snaps, ws)
	d.pending.Add(1)
	go func() {
		defer d.pending.Done()
		_, ws.err = sn.WriteTo(&ws.buf)
		if err := sn.Close(); ws.err == nil {
			ws.err = err
		}
	}()
	if d.first == 0 {
		return
	}
	trailing := uint64(d.rng.Intn(4))
	if ws.index < d.first+trailing {
		return
	}
	upTo := min(ws.index-trailing, d.last)
	d.deleteRange(d.first, upTo)
	d.first = upTo + 1
	if d.first > d.last {
		d.first, d.last = 0, 0
	}
}

// installSnapshot restores a snapshot of the leader's tree taken ahead of
// this store, then drops the old log, as a lagging follower does.
func (d *crashDriver) installSnapshot() {
	j := min(d.applied+1+uint64(d.rng.Intn(30)), uint64(len(d.ops)-1))
	if j <= d.applied {
		return
	}
	lapplied, err := d.leader.AppliedIndex()
	if err != nil {
		d.t.Fatal(err)
	}
	runOps(d.t, d.leader, d.ltree, d.ops, lapplied+1, j)
	snap := takeSnapshot(d.t, d.leader)

	d.m.mu.Lock()
	d.m.restores = append(d.m.restores, j)
	d.m.started = max(d.m.started, j)
	d.m.mu.Unlock()
	tr, idx, err := d.s.Restore(bytes.NewReader(snap), tree.Config{})
	if err != nil || idx != j {
		d.t.Fatalf("Restore at %d: %d, %v", j, idx, err)
	}
	d.m.mu.Lock()
	d.m.committed, d.m.durable, d.m.restoreAcked = j, j, j
	d.m.mu.Unlock()
	d.tr, d.applied = tr, j
	if d.first != 0 {
		d.deleteRange(d.first, d.last)
	}
	d.first, d.last = 0, 0
}

func (d *crashDriver) done() bool {
	return d.applied == uint64(len(d.ops)-1)
}

func (d *crashDriver) step() {
	switch r := d.rng.Intn(100); {
	case r < 40:
		d.storeLogs()
	case r < 80:
		d.applySome()
	case r < 85:
		d.truncateSuffix()
	case r < 91:
		d.snapshotAndCompact()
	case r < 94:
		d.installSnapshot()
	case r < 97:
		if err := d.s.db.Flush(); err != nil {
			d.t.Fatal(err)
		}
	default:
		d.storeLogs()
		d.applySome()
	}
	first, _ := d.s.FirstIndex()
	last, _ := d.s.LastIndex()
	if first != d.first || last != d.last {
		d.t.Fatalf("FirstIndex, LastIndex = %d, %d; the follower's log is %d..%d", first, last, d.first, d.last)
	}
}

// TestCrashRecovery simulates power loss at many moments, between calls and
// (from a second goroutine) during them, and checks every crashed copy:
// it reopens; every acknowledged log entry is there with its term; the
// applied index is no lower than what a synced write covered, no higher
// than any commit started, and within the log or at a restored snapshot;
// the loaded tree is the reference tree at its applied index; and replaying
// the log after it reaches the reference tree at the end of the log.
func TestCrashRecovery(t *testing.T) {
	const n = 600
	ops := genOps(7, n)
	ref := refDumps(t, ops)

	fs := vfs.NewCrashableMem()
	opts := memOptions(fs)
	opts.MemTableSize = 256 << 10
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := loadTree(t, s)
	leader := openMem(t)
	ltree, _ := loadTree(t, leader)
	m := &crashModel{acked: map[uint64]uint64{}}
	d := &crashDriver{t: t, rng: rand.New(rand.NewSource(8)), s: s, m: m, ops: ops, tr: tr,
		leader: leader, ltree: ltree, term: 1}

	var (
		pointsMu sync.Mutex
		points   []crashPoint
	)
	stop := make(chan struct{})
	crasherDone := make(chan struct{})
	go func() {
		defer close(crasherDone)
		for seed := int64(1000); ; seed++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(seed%5) * 200 * time.Microsecond):
			}
			cp := m.crash(fs, seed)
			pointsMu.Lock()
			points = append(points, cp)
			pointsMu.Unlock()
		}
	}()
	for i := 0; !d.done(); i++ {
		d.step()
		if i%4 == 0 {
			cp := m.crash(fs, int64(i))
			pointsMu.Lock()
			points = append(points, cp)
			pointsMu.Unlock()
		}
	}
	close(stop)
	<-crasherDone
	d.pending.Wait()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(m.restores) == 0 || len(d.snaps) == 0 {
		t.Fatalf("the workload installed %d snapshots and took %d; the test needs both", len(m.restores), len(d.snaps))
	}
	t.Logf("%d crash points, %d snapshots taken, %d installed", len(points), len(d.snaps), len(m.restores))

	lost := 0
	for i, cp := range points {
		if checkCrashPoint(t, i, cp, ops, ref) {
			lost++
		}
	}
	t.Logf("%d crash points lost applied state that replay rebuilt", lost)
	if lost == 0 {
		t.Error("no crash point lost an unsynced CommitApplied; the test did not exercise recovery by replay")
	}
	for _, ws := range d.snaps {
		if ws.err != nil {
			t.Fatalf("snapshot at %d: %v", ws.index, ws.err)
		}
		dst := openMem(t)
		got, idx, err := dst.Restore(&ws.buf, tree.Config{})
		if err != nil || idx != ws.index {
			t.Fatalf("Restore of the snapshot at %d: %d, %v", ws.index, idx, err)
		}
		if !dumpTree(t, got).equal(ref[idx]) {
			t.Fatalf("snapshot at %d, streamed while applies went on, differs from the reference", idx)
		}
	}
}

// checkCrashPoint checks one crashed copy and reports whether it lost
// applied state, that is came back at an applied index below the highest
// commit started.
func checkCrashPoint(t *testing.T, n int, cp crashPoint, ops []op, ref []dump) bool {
	t.Helper()
	s, err := Open("db", memOptions(cp.fs))
	if err != nil {
		t.Fatalf("crash %d: reopen: %v", n, err)
	}
	defer s.Close()
	tr, applied, err := s.LoadTree(tree.Config{})
	if err != nil {
		t.Fatalf("crash %d: LoadTree: %v", n, err)
	}
	if applied < cp.durable || applied < cp.restored || applied > cp.started {
		t.Fatalf("crash %d: applied index %d outside [%d (durable), %d (restored)] .. %d (started)",
			n, applied, cp.durable, cp.restored, cp.started)
	}
	if got := dumpTree(t, tr); !got.equal(ref[applied]) {
		t.Fatalf("crash %d: tree at applied index %d:\n got %v\nwant %v", n, applied, got, ref[applied])
	}
	checkSecondCrash(t, n, cp, applied, ref)

	deletedLater := func(i uint64) bool {
		for _, r := range cp.deletions {
			if r[0] <= i && i <= r[1] {
				return true
			}
		}
		return false
	}
	var maxAcked uint64
	for i, term := range cp.acked {
		if deletedLater(i) {
			continue
		}
		maxAcked = max(maxAcked, i)
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("crash %d: acknowledged entry %d: %v", n, i, err)
		}
		if l.Index != i || l.Term != term || !bytes.Equal(l.Data, entryData(i)) {
			t.Fatalf("crash %d: entry %d = %+v, want term %d", n, i, l, term)
		}
	}
	first, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	last, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if maxAcked > 0 && (first == 0 || last < maxAcked) {
		t.Fatalf("crash %d: log bounds %d..%d miss acknowledged entry %d", n, first, last, maxAcked)
	}
	// Raft applies only entries it has stored (synced), or a snapshot. The
	// log itself may have been compacted up to the applied index.
	if applied > cp.maxStored && !contains(cp.restores, applied) {
		t.Fatalf("crash %d: applied index %d beyond the last synced entry %d, and no snapshot was restored there",
			n, applied, cp.maxStored)
	}

	// Replaying the log after the applied index, as Raft will, must rebuild
	// the tree at every later index the log holds.
	i := applied + 1
	for ; ; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err == raft.ErrLogNotFound {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		apply(tr, ops, i)
	}
	if i-1 < maxAcked {
		t.Fatalf("crash %d: replay from %d stopped at %d, before acknowledged entry %d", n, applied+1, i-1, maxAcked)
	}
	if got := dumpTree(t, tr); !got.equal(ref[i-1]) {
		t.Fatalf("crash %d: tree replayed to %d differs from the reference", n, i-1)
	}
	return applied < cp.started
}

func contains(s []uint64, v uint64) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// checkSecondCrash loses power again right after recovery (Pebble has
// replayed its WAL and LoadTree may have written): the store must come back
// once more, no further behind than the first recovery's durable state.
func checkSecondCrash(t *testing.T, n int, cp crashPoint, applied uint64, ref []dump) {
	t.Helper()
	again := cp.fs.CrashClone(vfs.CrashCloneCfg{})
	s, err := Open("db", memOptions(again))
	if err != nil {
		t.Fatalf("crash %d, second crash: reopen: %v", n, err)
	}
	defer s.Close()
	tr, applied2, err := s.LoadTree(tree.Config{})
	if err != nil {
		t.Fatalf("crash %d, second crash: LoadTree: %v", n, err)
	}
	if applied2 < cp.durable || applied2 > applied {
		t.Fatalf("crash %d, second crash: applied index %d outside %d..%d", n, applied2, cp.durable, applied)
	}
	if !dumpTree(t, tr).equal(ref[applied2]) {
		t.Fatalf("crash %d, second crash: tree at %d differs from the reference", n, applied2)
	}
}
