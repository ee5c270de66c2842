package storage

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// damagedStore writes a store on disk: n log entries, each applied and
// committed, with the first two thirds flushed to a table and the rest only
// in the write-ahead log, and closes it.
func damagedStore(t *testing.T, n uint64) string {
	t.Helper()
	dir := t.TempDir()
	s, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	tr, _ := loadTree(t, s)
	ops := genOps(5, int(n))
	for i := uint64(1); i <= n; i++ {
		if err := s.StoreLogs([]*raft.Log{{Index: i, Term: 1, Type: raft.LogCommand, Data: entryData(i)}}); err != nil {
			t.Fatal(err)
		}
		apply(tr, ops, i)
		if err := s.CommitApplied(tr.TakeChanges(), i); err != nil {
			t.Fatal(err)
		}
		if i == 2*n/3 {
			if err := s.db.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func filesLike(t *testing.T, dir, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s in %s (%v)", pattern, dir, err)
	}
	sort.Strings(m)
	return m
}

func scribble(t *testing.T, path string, at int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if at < 0 {
		st, _ := f.Stat()
		at = st.Size() / 2
	}
	if _, err := f.WriteAt([]byte("zkfs test garbage, zkfs test garbage"), at); err != nil {
		t.Fatal(err)
	}
}

func chop(t *testing.T, path string, n int64) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, max(0, st.Size()-n)); err != nil {
		t.Fatal(err)
	}
}

// TestCorruptDataDirectory damages a data directory in the ways disks and
// people do, and checks that Open either refuses, with an error that names
// the damaged file and says what to do, or opens with every acknowledged
// entry and the whole applied tree: never silently less.
func TestCorruptDataDirectory(t *testing.T) {
	const n = 300
	newest := func(t *testing.T, dir, pattern string) string {
		m := filesLike(t, dir, pattern)
		return m[len(m)-1]
	}
	tests := []struct {
		name string
		// damage returns the file that Open's error must name, "" when
		// the store may open intact.
		damage func(t *testing.T, dir string) string
	}{
		{"WAL tail cut by a few bytes", func(t *testing.T, dir string) string {
			chop(t, newest(t, dir, "*.log"), 10)
			return ""
		}},
		{"WAL tail cut by records", func(t *testing.T, dir string) string {
			w := newest(t, dir, "*.log")
			chop(t, w, 3000)
			return filepath.Base(w)
		}},
		{"WAL cut to nothing", func(t *testing.T, dir string) string {
			w := newest(t, dir, "*.log")
			chop(t, w, 1<<30)
			return filepath.Base(w)
		}},
		{"garbage in the middle of the WAL", func(t *testing.T, dir string) string {
			w := newest(t, dir, "*.log")
			scribble(t, w, -1)
			return filepath.Base(w)
		}},
		{"garbage at the start of the WAL", func(t *testing.T, dir string) string {
			w := newest(t, dir, "*.log")
			scribble(t, w, 0)
			return filepath.Base(w)
		}},
		{"WAL deleted", func(t *testing.T, dir string) string {
			w := newest(t, dir, "*.log")
			os.Remove(w)
			return watermarkName
		}},
		{"garbage in a table", func(t *testing.T, dir string) string {
			sst := newest(t, dir, "*.sst")
			scribble(t, sst, -1)
			return filepath.Base(sst)
		}},
		{"table truncated", func(t *testing.T, dir string) string {
			sst := newest(t, dir, "*.sst")
			chop(t, sst, 100)
			return filepath.Base(sst)
		}},
		{"table deleted", func(t *testing.T, dir string) string {
			sst := newest(t, dir, "*.sst")
			os.Remove(sst)
			return strings.TrimSuffix(filepath.Base(sst), ".sst")
		}},
		{"MANIFEST and its marker deleted", func(t *testing.T, dir string) string {
			for _, f := range append(filesLike(t, dir, "MANIFEST-*"), filesLike(t, dir, "marker.manifest.*")...) {
				os.Remove(f)
			}
			return watermarkName
		}},
		{"garbage in OPTIONS", func(t *testing.T, dir string) string {
			scribble(t, newest(t, dir, "OPTIONS-*"), 0)
			return "zkfs test garbage"
		}},
		{"garbage in the watermark", func(t *testing.T, dir string) string {
			scribble(t, filepath.Join(dir, watermarkName), 0)
			return watermarkName
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := damagedStore(t, n)
			want := tc.damage(t, dir)
			s, err := Open(dir, Options{Logger: quietLogger{}})
			if err != nil {
				if want == "" {
					t.Fatalf("Open refused an intact store: %v", err)
				}
				if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "rejoin") {
					t.Fatalf("Open's error does not name %s or say what to do: %v", want, err)
				}
				if strings.Contains(tc.name, "WAL") && !errors.Is(err, ErrCorrupt) {
					t.Errorf("lost log entries are not reported as ErrCorrupt: %v", err)
				}
				t.Logf("refused: %v", err)
				return
			}
			defer s.Close()
			_, applied, err := s.LoadTree(tree.Config{})
			if err != nil {
				t.Fatalf("opened, then LoadTree failed: %v", err)
			}
			last, _ := s.LastIndex()
			if applied != n || last != n {
				t.Fatalf("opened silently missing data: applied %d, last log index %d, want %d", applied, last, n)
			}
			if want != "" {
				t.Logf("opened intact although %s was damaged", want)
			}
		})
	}
}
