package replication

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"zkfs/tree"
)

// BenchmarkRestartAfterWrites applies many writes (ZKFS_RESTART_WRITES,
// default 1,000,000 creates of 100-byte nodes), closes the replica and
// measures how long it takes to serve again. The store keeps the tree as of
// its last applied index, so a restart loads the tree and replays only the
// log entries after the last snapshot.
func BenchmarkRestartAfterWrites(b *testing.B) {
	writes := 1_000_000
	if s := os.Getenv("ZKFS_RESTART_WRITES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		writes = n
	}
	dir := b.TempDir()
	r := openTest(b, dir, nil)
	const parents = 1000
	for p := 0; p < parents; p++ {
		propose(b, r, tree.Create{Path: fmt.Sprintf("/p%d", p), ACL: tree.OpenACL})
	}
	data := make([]byte, 100)
	start := time.Now()
	const workers = 64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < writes; i += workers {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				res, err := r.Propose(ctx, 0, tree.Identity{}, tree.Create{Path: fmt.Sprintf("/p%d/n%d", i%parents, i), Data: data, ACL: tree.OpenACL})
				cancel()
				if err == nil {
					err = res.Err
				}
				if err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
			}
		}(w)
	}
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	b.Logf("%d writes in %v", writes, time.Since(start).Round(time.Millisecond))
	last := r.AppliedIndex()
	r.Close()

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		r = openTest(b, dir, nil)
		d := time.Since(t0)
		first, _ := r.logs.FirstIndex()
		var count int
		r.Read(func(t *tree.Tree) { count = t.NodeCount() })
		r.Close()
		b.ReportMetric(float64(d.Milliseconds()), "restart-ms")
		b.Logf("restart after %d applied entries: %v (log now starts at %d, tail of at most %d entries; %d nodes)", last, d.Round(time.Millisecond), first, last-first+1, count)
	}
}
