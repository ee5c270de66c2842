package zkdata

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// seedFiles adds the golden directory's files of one kind to f.
func seedFiles(f *testing.F, prefix string) {
	files, err := filepath.Glob(filepath.Join(zk38, "version-2", prefix+".*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no %s files in %s (%v)", prefix, zk38, err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecodeSnapshot: any bytes either decode or fail with ErrCorrupt,
// never panic; the golden snapshots are the seeds.
func FuzzDecodeSnapshot(f *testing.F) {
	seedFiles(f, "snapshot")
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := decodeSnapshot(b)
		if err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("error %v is not ErrCorrupt", err)
		}
		if err == nil && tr.Node("/") == nil {
			t.Fatal("decoded a tree without a root")
		}
	})
}

// FuzzDecodeLog: any bytes either decode or fail with ErrCorrupt, and
// every decoded transaction applies to a fresh tree or fails with
// ErrCorrupt, never panics; the golden logs are the seeds.
func FuzzDecodeLog(f *testing.F) {
	seedFiles(f, "log")
	f.Fuzz(func(t *testing.T, b []byte) {
		lf, err := decodeLog(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is not ErrCorrupt", err)
			}
			return
		}
		tr := newTree()
		tr.nodes["/"] = &Node{Path: "/"}
		for _, x := range lf.txns {
			if err := tr.apply(x); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("apply: %v is not ErrCorrupt", err)
			}
		}
	})
}
