package storage

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"zkfs/tree"
)

// bulkTree stores, without going through the tree's Apply, a valid tree of
// dirs*perDir file nodes with dataSize bytes of data each, under /d<i>, at
// applied index 1, and returns the number of nodes including the fresh
// tree's.
func bulkTree(tb testing.TB, s *Store, dirs, perDir, dataSize int) int {
	tb.Helper()
	base, _ := loadTree(tb, s)
	if err := s.CommitApplied(nil, 0); err != nil {
		tb.Fatal(err)
	}
	var rootRec tree.Record
	err := base.Records(func(r tree.Record) error {
		if r.Type == tree.RecordNode && r.Path == "/" {
			rootRec = r
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	root, err := tree.DecodeNode(rootRec.Value)
	if err != nil {
		tb.Fatal(err)
	}
	root.NumChildren += int32(dirs)
	root.Cversion += int32(dirs)
	data := make([]byte, dataSize)
	for i := range data {
		data[i] = byte('a' + i%26)
	}
	batch := []tree.Record{{Type: tree.RecordNode, Path: "/", Value: tree.EncodeNode(root)}}
	flush := func() {
		if err := s.CommitApplied(batch, 1); err != nil {
			tb.Fatal(err)
		}
		batch = batch[:0]
	}
	for d := 0; d < dirs; d++ {
		dir := fmt.Sprintf("/d%04d", d)
		batch = append(batch, tree.Record{Type: tree.RecordNode, Path: dir, Value: tree.EncodeNode(tree.NodeRecord{
			Czxid: 1, Mzxid: 1, Pzxid: 1, NumChildren: int32(perDir), Cversion: int32(perDir),
			Kind: tree.KindDir, ACL: tree.OpenACL,
		})})
		for c := 0; c < perDir; c++ {
			batch = append(batch, tree.Record{Type: tree.RecordNode, Path: fmt.Sprintf("%s/n%06d", dir, c),
				Value: tree.EncodeNode(tree.NodeRecord{Czxid: 1, Mzxid: 1, Pzxid: 1, Data: data, ACL: tree.OpenACL})})
		}
		if len(batch) > 10_000 {
			flush()
		}
	}
	flush()
	return base.NodeCount() + dirs + dirs*perDir
}

// TestRestoreMillionNodes restores a snapshot of a million 100-byte nodes,
// on disk: the whole snapshot becomes one Pebble batch.
func TestRestoreMillionNodes(t *testing.T) {
	dirs, perDir := 1000, 1000
	if raceEnabled {
		// The race detector makes this several times slower without
		// exercising anything more; keep the shape, shrink the size.
		t.Log("race detector on: restoring 100,000 nodes instead of 1,000,000")
		dirs = 100
	}
	dir := t.TempDir()
	src, err := Open(filepath.Join(dir, "src"), Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	phase := func(what string) {
		t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond))
		start = time.Now()
	}
	want := bulkTree(t, src, dirs, perDir, 100)
	phase("store")
	f, err := os.Create(filepath.Join(dir, "snap"))
	if err != nil {
		t.Fatal(err)
	}
	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	n, err := sn.WriteTo(f)
	if err != nil {
		t.Fatal(err)
	}
	sn.Close()
	src.Close()
	phase(fmt.Sprintf("snapshot of %d nodes, %d MB", want, n>>20))

	dst, err := Open(filepath.Join(dir, "dst"), Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	tr, applied, err := dst.Restore(f, tree.Config{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	phase("restore")
	if applied != 1 || tr.NodeCount() != want {
		t.Fatalf("restored %d nodes at %d, want %d at 1", tr.NodeCount(), applied, want)
	}
	kids, err := dst.Children("/d0042")
	if err != nil || len(kids) != perDir || kids[7] != "n000007" {
		t.Fatalf("Children(/d0042) after restore: %d names, %v", len(kids), err)
	}
	loaded, _ := loadTree(t, dst)
	phase("load")
	if loaded.NodeCount() != want {
		t.Fatalf("LoadTree after restore: %d nodes, want %d", loaded.NodeCount(), want)
	}
	if data, _, err := loaded.Get(fmt.Sprintf("/d%04d/n%06d", dirs-1, perDir-1)); err != nil || len(data) != 100 {
		t.Fatalf("last node after restore: %d bytes, %v", len(data), err)
	}
}
