package storage

import (
	"math/rand"
	"sync"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestCrashAtEveryOperation loses power right before each filesystem
// operation the store makes, in turn, while it works as a Raft
// follower's store: appends, applies and commits, snapshots and log
// truncations, snapshot installs (Restore) and flushes. Where
// TestCrashRecovery picks moments at random, this one leaves none out.
// Each crashed copy must pass the same checks (see checkCrashPoint).
func TestCrashAtEveryOperation(t *testing.T) {
	const n = 400
	ops := genOps(31, n)
	ref := refDumps(t, ops)

	mem := vfs.NewCrashableMem()
	m := &crashModel{acked: map[uint64]uint64{}}
	var (
		mu     sync.Mutex
		armed  bool
		points []crashPoint
	)
	hook := errorfs.InjectorFunc(func(op errorfs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if armed {
			// Unsynced data is lost entirely here: a crash right before
			// an operation keeps exactly what was synced.
			points = append(points, m.crashWith(mem, vfs.CrashCloneCfg{}))
		}
		return nil
	})
	opts := memOptions(errorfs.Wrap(mem, hook))
	opts.MemTableSize = 64 << 10
	s, err := Open("db", opts)
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := loadTree(t, s)
	leader := openMem(t)
	ltree, _ := loadTree(t, leader)
	d := &crashDriver{t: t, rng: rand.New(rand.NewSource(32)), s: s, m: m, ops: ops, tr: tr,
		leader: leader, ltree: ltree, term: 1}
	mu.Lock()
	armed = true
	mu.Unlock()
	for !d.done() {
		d.step()
	}
	d.pending.Wait()
	mu.Lock()
	armed = false
	mu.Unlock()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if len(m.restores) == 0 || len(d.snaps) == 0 {
		t.Fatalf("the workload installed %d snapshots and took %d; the test needs both", len(m.restores), len(d.snaps))
	}
	lost := 0
	for i, cp := range points {
		if checkCrashPoint(t, i, cp, ops, ref) {
			lost++
		}
	}
	t.Logf("%d crash points, one before each filesystem operation; %d lost applied state that replay rebuilt", len(points), lost)
}
