package storage

import (
	"runtime"
	"runtime/debug"
	"testing"

	"zkfs/tree"
)

// BenchmarkLoadTreeMillion loads a stored tree of a million 100-byte nodes,
// as a replica does at start (with the collector off, as newFSM runs it).
// The figure to watch is ns/op: the restart goal is a follower serving
// within 10 s of its start.
func BenchmarkLoadTreeMillion(b *testing.B) {
	if testing.Short() {
		b.Skip("a million nodes; not in -short")
	}
	s := openDisk(b)
	want := bulkTree(b, s, 1000, 1000, 100)
	if err := s.db.Flush(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		runtime.GC()
		gc := debug.SetGCPercent(-1)
		t, applied, err := s.LoadTree(tree.Config{})
		debug.SetGCPercent(gc)
		if err != nil {
			b.Fatal(err)
		}
		if applied != 1 || t.NodeCount() != want {
			b.Fatalf("loaded %d nodes at %d, want %d at 1", t.NodeCount(), applied, want)
		}
	}
}
