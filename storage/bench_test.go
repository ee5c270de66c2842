package storage

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// The benchmarks run on disk, where fsync costs what it costs in
// production, and report their figures as ratios against a baseline
// measured in the same run on the same disk.

func openDisk(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "db"), Options{Logger: quietLogger{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

var (
	rawSyncOnce sync.Once
	rawSyncNs   float64
)

// rawSyncedSetNs is the baseline for appends: the time of one synced Pebble
// Set of a log-sized value, with nothing of this package in the way.
func rawSyncedSetNs(b *testing.B) float64 {
	rawSyncOnce.Do(func() {
		db, err := pebble.Open(filepath.Join(b.TempDir(), "raw"), &pebble.Options{Logger: quietLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		val := make([]byte, 128)
		const n = 300
		start := time.Now()
		for i := 0; i < n; i++ {
			if err := db.Set(logKey(uint64(i)), val, pebble.Sync); err != nil {
				b.Fatal(err)
			}
		}
		rawSyncNs = float64(time.Since(start).Nanoseconds()) / n
	})
	return rawSyncNs
}

// BenchmarkStoreLogs measures appends of 128-byte entries: batch entries per
// call, from writers goroutines at once. One op is 256 entries, so that even
// -benchtime 1x measures fsync sharing. entries/s is the throughput;
// x-raw-sync is the time per entry over the baseline's time per synced Set,
// so below 1 means fsyncs are being shared.
func BenchmarkStoreLogs(b *testing.B) {
	const perOp = 256
	for _, bc := range []struct{ batch, writers int }{{1, 1}, {64, 1}, {1, 16}, {16, 16}} {
		b.Run(fmt.Sprintf("batch=%d/writers=%d", bc.batch, bc.writers), func(b *testing.B) {
			base := rawSyncedSetNs(b)
			s := openDisk(b)
			var next atomic.Uint64
			var calls atomic.Int64
			calls.Store(int64(b.N * perOp / bc.batch))
			var wg sync.WaitGroup
			b.SetBytes(128 * perOp)
			b.ResetTimer()
			for w := 0; w < bc.writers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					logs := make([]*raft.Log, bc.batch)
					for calls.Add(-1) >= 0 {
						first := next.Add(uint64(bc.batch)) - uint64(bc.batch) + 1
						for i := range logs {
							logs[i] = &raft.Log{Index: first + uint64(i), Term: 1, Type: raft.LogCommand, Data: make([]byte, 128)}
						}
						if err := s.StoreLogs(logs); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			entries := float64(b.N * perOp)
			b.ReportMetric(entries/b.Elapsed().Seconds(), "entries/s")
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/entries/base, "x-raw-sync")
		})
	}
}

// changes1000 returns the records of 1000 creates in 10 directories, and
// the ops that produce them.
func changes1000(b *testing.B) ([]tree.Record, []tree.Op) {
	var ops []tree.Op
	for d := 0; d < 10; d++ {
		ops = append(ops, tree.Create{Path: fmt.Sprintf("/d%d", d), ACL: tree.OpenACL})
		for c := 0; c < 99; c++ {
			ops = append(ops, tree.Create{Path: fmt.Sprintf("/d%d/node%03d", d, c), Data: make([]byte, 100), ACL: tree.OpenACL})
		}
	}
	t := tree.New(tree.Config{})
	for i, op := range ops {
		if r, _ := t.Apply(tree.Header{Zxid: int64(i + 1), Identity: tree.Identity{Super: true}}, op); r.Err != nil {
			b.Fatal(r.Err)
		}
	}
	return t.TakeChanges(), ops
}

// BenchmarkCommitApplied1000 persists the records of 1000 node creates in
// one CommitApplied. x-apply compares it with applying the 1000 creates to
// the tree, the work it follows on the apply path; x-raw-batch with a plain
// Pebble batch of the same keys and values.
func BenchmarkCommitApplied1000(b *testing.B) {
	changes, ops := changes1000(b)

	start := time.Now()
	const applyRounds = 10
	for r := 0; r < applyRounds; r++ {
		t := tree.New(tree.Config{})
		for i, op := range ops {
			t.Apply(tree.Header{Zxid: int64(i + 1), Identity: tree.Identity{Super: true}}, op)
		}
	}
	applyNs := float64(time.Since(start).Nanoseconds()) / applyRounds

	keys := make([][]byte, len(changes))
	for i, r := range changes {
		k, err := recordKey(r)
		if err != nil {
			b.Fatal(err)
		}
		keys[i] = k
	}
	raw := openDisk(b)
	start = time.Now()
	const rawRounds = 50
	for r := 0; r < rawRounds; r++ {
		batch := raw.db.NewBatch()
		for i, rec := range changes {
			batch.Set(keys[i], rec.Value, nil)
		}
		batch.Set(metaAppliedKey, appliedValue(uint64(r)), nil)
		if err := batch.Commit(pebble.NoSync); err != nil {
			b.Fatal(err)
		}
		batch.Close()
	}
	rawNs := float64(time.Since(start).Nanoseconds()) / rawRounds

	s := openDisk(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.CommitApplied(changes, uint64(i+1)); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(perOp/applyNs, "x-apply")
	b.ReportMetric(perOp/rawNs, "x-raw-batch")
}

// BenchmarkSnapshotRestore100k streams and restores a tree of 100,000
// 100-byte nodes; x-load compares a Restore with loading the same tree
// from the store, the part of the work that is the tree's.
func BenchmarkSnapshotRestore100k(b *testing.B) {
	src := openDisk(b)
	bulkTree(b, src, 100, 1000, 100)
	start := time.Now()
	const loadRounds = 3
	for i := 0; i < loadRounds; i++ {
		if _, _, err := src.LoadTree(tree.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	loadNs := float64(time.Since(start).Nanoseconds()) / loadRounds
	snap := takeSnapshot(b, src)
	dst := openDisk(b)
	b.SetBytes(int64(len(snap)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := dst.Restore(bytes.NewReader(snap), tree.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/loadNs, "x-load")
}

// BenchmarkFirstIndexAfterCompaction asks for the first index of a log of
// 200,000 entries of which 190,000 were compacted away by range deletions
// not yet compacted out of Pebble. x-seek compares it with a seek from the
// start of the log, which has to step over the deleted entries.
func BenchmarkFirstIndexAfterCompaction(b *testing.B) {
	s := openDisk(b)
	for lo := uint64(1); lo <= 200_000; lo += 1000 {
		logs := make([]*raft.Log, 0, 1000)
		for i := lo; i < lo+1000; i++ {
			logs = append(logs, &raft.Log{Index: i, Term: 1, Data: make([]byte, 100)})
		}
		if err := s.StoreLogs(logs); err != nil {
			b.Fatal(err)
		}
	}
	for lo := uint64(1); lo < 190_000; lo += 1000 {
		if err := s.DeleteRange(lo, lo+999); err != nil {
			b.Fatal(err)
		}
	}
	start := time.Now()
	const seeks = 20
	for i := 0; i < seeks; i++ {
		if first, err := s.seekLog(0, true); err != nil || first != 190_001 {
			b.Fatalf("seek: %d, %v", first, err)
		}
	}
	seekNs := float64(time.Since(start).Nanoseconds()) / seeks
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if first, err := s.FirstIndex(); err != nil || first != 190_001 {
			b.Fatalf("FirstIndex: %d, %v", first, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/seekNs, "x-seek")
}
