package storage

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"zkfs/tree"
)

// runOps loads the store's tree and applies ops[from..to] with a
// CommitApplied after each, as the FSM does.
func runOps(tb testing.TB, s *Store, t *tree.Tree, ops []op, from, to uint64) {
	tb.Helper()
	for i := from; i <= to; i++ {
		apply(t, ops, i)
		if err := s.CommitApplied(t.TakeChanges(), i); err != nil {
			tb.Fatal(err)
		}
	}
}

func loadTree(tb testing.TB, s *Store) (*tree.Tree, uint64) {
	tb.Helper()
	t, applied, err := s.LoadTree(tree.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	return t, applied
}

func TestLoadTreeOfEmptyStore(t *testing.T) {
	s := openMem(t)
	got, applied := loadTree(t, s)
	want := tree.New(tree.Config{})
	if applied != 0 || !dumpTree(t, got).equal(dumpTree(t, want)) {
		t.Fatalf("LoadTree of an empty store = %v at %d, want a fresh tree at 0", dumpTree(t, got), applied)
	}
	// The fresh tree is stored, so a store that applied changes to it
	// loads again even though TakeChanges never reported the initial nodes.
	again, _ := loadTree(t, s)
	if !dumpTree(t, again).equal(dumpTree(t, want)) {
		t.Fatalf("second LoadTree = %v", dumpTree(t, again))
	}
}

func TestLoadTreeMatchesAppliedTree(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	ops := genOps(1, 300)
	want := refDumps(t, ops)
	tr, _ := loadTree(t, s)
	for _, stop := range []uint64{1, 17, 150, 300} {
		prev, _ := s.AppliedIndex()
		runOps(t, s, tr, ops, prev+1, stop)
		if !dumpTree(t, tr).equal(want[stop]) {
			t.Fatalf("live tree at %d differs from the reference", stop)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if s, err = Open("db", memOptions(fs)); err != nil {
			t.Fatal(err)
		}
		var applied uint64
		tr, applied = loadTree(t, s)
		if applied != stop {
			t.Fatalf("applied index after reopen = %d, want %d", applied, stop)
		}
		if got := dumpTree(t, tr); !got.equal(want[stop]) {
			t.Fatalf("loaded tree at %d:\n got %v\nwant %v", stop, got, want[stop])
		}
	}
	s.Close()
}

// takeSnapshot returns the store's current snapshot as bytes.
func takeSnapshot(tb testing.TB, s *Store) []byte {
	tb.Helper()
	sn, err := s.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	defer sn.Close()
	var buf bytes.Buffer
	n, err := sn.WriteTo(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	if n != int64(buf.Len()) {
		tb.Fatalf("WriteTo reported %d bytes, wrote %d", n, buf.Len())
	}
	return buf.Bytes()
}

func TestSnapshotRestoreRoundTrip(t *testing.T) {
	ops := genOps(2, 400)
	want := refDumps(t, ops)

	src := openMem(t)
	tr, _ := loadTree(t, src)
	runOps(t, src, tr, ops, 1, 250)
	// A snapshot is a point in time: applies after it do not show.
	sn, err := src.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	runOps(t, src, tr, ops, 251, 400)
	var buf bytes.Buffer
	if _, err := sn.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	if sn.AppliedIndex() != 250 {
		t.Errorf("snapshot AppliedIndex = %d, want 250", sn.AppliedIndex())
	}
	if err := sn.Close(); err != nil {
		t.Fatal(err)
	}

	// Restore over a store that holds a different, further-along tree, so
	// that records absent from the snapshot must disappear.
	dst := openMem(t)
	other, _ := loadTree(t, dst)
	runOps(t, dst, other, genOps(99, 300), 1, 300)
	got, applied, err := dst.Restore(bytes.NewReader(buf.Bytes()), tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if applied != 250 || !dumpTree(t, got).equal(want[250]) {
		t.Fatalf("restored tree at %d = %v, want %v", applied, dumpTree(t, got), want[250])
	}
	if a, _ := dst.AppliedIndex(); a != 250 {
		t.Errorf("AppliedIndex after Restore = %d, want 250", a)
	}
	loaded, _ := loadTree(t, dst)
	if !dumpTree(t, loaded).equal(want[250]) {
		t.Fatalf("tree loaded after Restore = %v, want %v", dumpTree(t, loaded), want[250])
	}
	// The restored store carries on applying and snapshots identically.
	runOps(t, dst, loaded, ops, 251, 400)
	if again := takeSnapshot(t, dst); !bytes.Equal(again, takeSnapshot(t, src)) {
		t.Error("snapshots of two stores at the same state differ")
	}
}

func TestRestoreOfEmptyStoreSnapshot(t *testing.T) {
	snap := takeSnapshot(t, openMem(t))
	dst := openMem(t)
	tr, _ := loadTree(t, dst)
	runOps(t, dst, tr, genOps(3, 50), 1, 50)
	got, applied, err := dst.Restore(bytes.NewReader(snap), tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	fresh := dumpTree(t, tree.New(tree.Config{}))
	if applied != 0 || !dumpTree(t, got).equal(fresh) {
		t.Fatalf("Restore of an empty snapshot = %v at %d", dumpTree(t, got), applied)
	}
	if loaded, _ := loadTree(t, dst); !dumpTree(t, loaded).equal(fresh) {
		t.Fatalf("LoadTree after Restore of an empty snapshot = %v", dumpTree(t, loaded))
	}
}

func TestRestoreRejectsBadSnapshotsAndKeepsState(t *testing.T) {
	ops := genOps(4, 200)
	src := openMem(t)
	tr, _ := loadTree(t, src)
	runOps(t, src, tr, ops, 1, 200)
	good := takeSnapshot(t, src)

	dst := openMem(t)
	dtr, _ := loadTree(t, dst)
	runOps(t, dst, dtr, ops, 1, 120)
	before := takeSnapshot(t, dst)
	wantTree := dumpTree(t, dtr)

	type badCase struct {
		name string
		data []byte
	}
	var cases []badCase
	for _, n := range []int{0, 1, 8, 19, 20, 21, 100, len(good) / 2, len(good) - 13, len(good) - 12, len(good) - 4, len(good) - 1} {
		cases = append(cases, badCase{name: "truncated", data: good[:n]})
	}
	for _, i := range []int{0, 9, 15, 25, 60, len(good) / 3, len(good) - 10, len(good) - 2} {
		c := bytes.Clone(good)
		c[i] ^= 0x40
		cases = append(cases, badCase{name: "flipped", data: c})
	}
	cases = append(cases,
		badCase{"trailing garbage", append(bytes.Clone(good), 0)},
		badCase{"empty", nil},
		badCase{"wrong magic", append([]byte("NOTASNAP"), good[8:]...)},
	)
	// A stream with a valid checksum whose records do not form a tree: drop
	// the root record and fix up count and checksum.
	cases = append(cases, badCase{"no root", resealWithout(t, good, "/")})

	for _, tc := range cases {
		_, _, err := dst.Restore(bytes.NewReader(tc.data), tree.Config{})
		if !errors.Is(err, ErrBadSnapshot) {
			t.Errorf("%s (%d of %d bytes): err = %v, want ErrBadSnapshot", tc.name, len(tc.data), len(good), err)
		}
		if after := takeSnapshot(t, dst); !bytes.Equal(after, before) {
			t.Fatalf("%s: a failed Restore changed the store", tc.name)
		}
	}
	loaded, applied := loadTree(t, dst)
	if applied != 120 || !dumpTree(t, loaded).equal(wantTree) {
		t.Fatalf("after failed restores: tree at %d differs", applied)
	}
}

func TestRestoreRejectsFailingReader(t *testing.T) {
	src := openMem(t)
	tr, _ := loadTree(t, src)
	runOps(t, src, tr, genOps(5, 50), 1, 50)
	good := takeSnapshot(t, src)
	dst := openMem(t)
	boom := errors.New("connection reset")
	r := io.MultiReader(bytes.NewReader(good[:len(good)/2]), errReader{boom})
	if _, _, err := dst.Restore(r, tree.Config{}); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("Restore from a failing reader: err = %v", err)
	}
	if a, _ := dst.AppliedIndex(); a != 0 {
		t.Fatalf("AppliedIndex after a failed Restore = %d", a)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// resealWithout rewrites a snapshot without the node at path, with a
// correct count and checksum, by restoring it into a scratch store, deleting
// the record there and snapshotting again.
func resealWithout(tb testing.TB, snap []byte, path string) []byte {
	tb.Helper()
	s := openMem(tb)
	if _, _, err := s.Restore(bytes.NewReader(snap), tree.Config{}); err != nil {
		tb.Fatal(err)
	}
	if err := s.CommitApplied([]tree.Record{{Type: tree.RecordNode, Path: path}}, 1); err != nil {
		tb.Fatal(err)
	}
	return takeSnapshot(tb, s)
}

func TestSnapshotWriteToFailingWriter(t *testing.T) {
	s := openMem(t)
	tr, _ := loadTree(t, s)
	runOps(t, s, tr, genOps(6, 100), 1, 100)
	sn, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	boom := errors.New("disk full")
	if _, err := sn.WriteTo(failingWriter{after: 100, err: boom}); !errors.Is(err, boom) {
		t.Fatalf("WriteTo a failing writer: err = %v, want %v", err, boom)
	}
}

type failingWriter struct {
	after int
	err   error
}

func (w failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.after {
		return w.after, w.err
	}
	return len(p), nil
}

func TestRestoreTooLargeFailsCleanly(t *testing.T) {
	src := openMem(t)
	tr, _ := loadTree(t, src)
	runOps(t, src, tr, genOps(9, 200), 1, 200)
	snap := takeSnapshot(t, src)

	dst := openMem(t)
	dtr, _ := loadTree(t, dst)
	runOps(t, dst, dtr, genOps(9, 200), 1, 50)
	before := takeSnapshot(t, dst)
	defer func(old int) { maxRestoreBatch = old }(maxRestoreBatch)
	maxRestoreBatch = len(snap) / 2
	if _, _, err := dst.Restore(bytes.NewReader(snap), tree.Config{}); !errors.Is(err, ErrSnapshotTooLarge) {
		t.Fatalf("Restore over the batch limit: err = %v, want ErrSnapshotTooLarge", err)
	}
	if !bytes.Equal(takeSnapshot(t, dst), before) {
		t.Fatal("a Restore over the batch limit changed the store")
	}
}
