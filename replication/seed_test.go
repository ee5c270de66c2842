package replication

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"zkfs/storage"
	"zkfs/tree"
)

// TestSeedStartsAtTheIndex seeds a directory with a tree at index 5000 and
// opens a replica on it: the tree is there, the first write gets a zxid
// above 5000, and both survive a restart. A second seed is refused, and a
// myid file is kept.
func TestSeedStartsAtTheIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644)
	src := tree.New(tree.Config{})
	src.Apply(tree.Header{Zxid: 4000, Time: 1}, tree.Create{Path: "/kept", Data: []byte("x"), ACL: tree.OpenACL})
	src.TakeChanges()
	fill := func(st *storage.Store) error {
		var recs []tree.Record
		src.Records(func(r tree.Record) error { recs = append(recs, r); return nil })
		return st.CommitApplied(recs, 5000)
	}
	index, err := Seed(Config{DataDir: dir}, fill)
	if err != nil || index != 5000 {
		t.Fatalf("Seed = %d, %v", index, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "myid")); err != nil || string(b) != "1\n" {
		t.Errorf("myid after the seed: %q, %v", b, err)
	}
	if _, err := Seed(Config{DataDir: dir}, fill); !errors.Is(err, ErrNotEmpty) {
		t.Errorf("second Seed = %v, want ErrNotEmpty", err)
	}

	r := openTest(t, dir, nil)
	if data, st, err := getData(r, "/kept"); err != nil || data != "x" || st.Czxid != 4000 {
		t.Fatalf("/kept after the seed: %q %+v %v", data, st, err)
	}
	res := propose(t, r, tree.Create{Path: "/new", ACL: tree.OpenACL})
	if res.Err != nil || res.Stat.Czxid <= 5000 {
		t.Fatalf("first write after the seed: %+v; want a zxid above 5000", res)
	}
	r.Close()
	r = openTest(t, dir, nil)
	defer r.Close()
	for _, p := range []string{"/kept", "/new"} {
		if _, _, err := getData(r, p); err != nil {
			t.Errorf("%s after a restart: %v", p, err)
		}
	}
}

// TestSeedFailureLeavesNothing checks that a failing fill leaves no
// directory behind.
func TestSeedFailureLeavesNothing(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "data")
	boom := errors.New("boom")
	if _, err := Seed(Config{DataDir: dir}, func(*storage.Store) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Seed = %v, want the fill's error", err)
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 0 {
		t.Errorf("a failed seed left %v", ents)
	}
}
