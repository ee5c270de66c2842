package tree

import (
	"fmt"
	"runtime"
	"testing"
)

// buildTree fills a tree with n nodes of 100 bytes, 1000 per directory.
func buildTree(tb testing.TB, n int) *Tree {
	tb.Helper()
	tr := New(Config{})
	data := make([]byte, 100)
	zxid := int64(0)
	apply := func(op Op) {
		zxid++
		if r, _ := tr.Apply(Header{Zxid: zxid, Time: zxid}, op); r.Err != nil {
			tb.Fatal(r.Err)
		}
	}
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			apply(Create{Path: fmt.Sprintf("/d%04d", i/1000), ACL: OpenACL, Kind: KindDir})
		}
		apply(Create{Path: fmt.Sprintf("/d%04d/n%06d", i/1000, i), Data: data, ACL: OpenACL})
	}
	tr.TakeChanges()
	return tr
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// BenchmarkMemoryPerNode reports the heap per node of 100 bytes of data, and
// its ratio to the node's own payload (path and data), measured in the same
// run.
func BenchmarkMemoryPerNode(b *testing.B) {
	const n = 200_000
	for b.Loop() {
		before := heapInUse()
		tr := buildTree(b, n)
		after := heapInUse()
		perNode := float64(after-before) / n
		payload := float64(len("/d0000/n000000") + 100)
		b.ReportMetric(perNode, "heapB/node")
		b.ReportMetric(perNode/payload, "heap/payload")
		runtime.KeepAlive(tr)
	}
}

func BenchmarkCreate(b *testing.B) {
	tr := New(Config{})
	tr.Apply(Header{Zxid: 1}, Create{Path: "/d", ACL: OpenACL})
	data := make([]byte, 100)
	i := 0
	for b.Loop() {
		i++
		tr.Apply(Header{Zxid: int64(i + 1)}, Create{Path: fmt.Sprintf("/d/n%09d", i), Data: data, ACL: OpenACL})
	}
}

func BenchmarkSetData(b *testing.B) {
	tr := buildTree(b, 10_000)
	data := make([]byte, 100)
	i := 0
	for b.Loop() {
		i++
		tr.Apply(Header{Zxid: int64(1<<20 + i)}, SetData{Path: "/d0003/n003333", Data: data, Version: -1})
	}
}

func BenchmarkGet(b *testing.B) {
	tr := buildTree(b, 10_000)
	for b.Loop() {
		if _, _, err := tr.Get("/d0003/n003333"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChildren1000(b *testing.B) {
	tr := buildTree(b, 10_000)
	for b.Loop() {
		if _, _, err := tr.Children("/d0003"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkChildList1000 is a mount's listing of 1,000 children; compare
// BenchmarkChildrenThenStat1000, the lookups it replaces.
func BenchmarkChildList1000(b *testing.B) {
	tr := buildTree(b, 10_000)
	for b.Loop() {
		if _, _, err := tr.ChildList("/d0003"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChildrenThenStat1000(b *testing.B) {
	tr := buildTree(b, 10_000)
	for b.Loop() {
		kids, _, err := tr.Children("/d0003")
		if err != nil {
			b.Fatal(err)
		}
		for _, k := range kids {
			cp := Join("/d0003", k)
			if _, err := tr.Stat(cp); err != nil {
				b.Fatal(err)
			}
			if _, err := tr.Kind(cp); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkTakeChanges measures a Raft batch's worth of changes (100 writes)
// in a tree of 100,000 nodes; it should not depend on the tree's size.
func BenchmarkTakeChanges(b *testing.B) {
	tr := buildTree(b, 100_000)
	z := int64(1 << 30)
	for b.Loop() {
		for j := 0; j < 100; j++ {
			z++
			tr.Apply(Header{Zxid: z}, SetData{Path: fmt.Sprintf("/d%04d/n%06d", j, j*1000), Version: -1})
		}
		tr.TakeChanges()
	}
}

func BenchmarkLoad(b *testing.B) {
	tr := New(Config{})
	src := buildTree(b, 100_000)
	_ = tr
	var recs []Record
	src.Records(func(r Record) error { recs = append(recs, r); return nil })
	for b.Loop() {
		l := NewLoader(Config{})
		for _, r := range recs {
			if err := l.Add(r); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := l.Finish(1); err != nil {
			b.Fatal(err)
		}
	}
}
