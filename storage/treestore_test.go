package storage

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"

	"zkfs/tree"
)

func nodeRec(path, value string) tree.Record {
	r := tree.Record{Type: tree.RecordNode, Path: path}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

func sessionRec(id int64, value string) tree.Record {
	r := tree.Record{Type: tree.RecordSession, Session: id}
	if value != "" {
		r.Value = []byte(value)
	}
	return r
}

// storedRecords returns every stored record as "n:/path" or "s:id" mapped to
// its value.
func storedRecords(t testing.TB, r iterable) map[string]string {
	t.Helper()
	got := map[string]string{}
	err := scanRecords(r, func(rec tree.Record) error {
		got[recordName(rec)] = string(rec.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func recordName(r tree.Record) string {
	if r.Type == tree.RecordSession {
		return fmt.Sprintf("s:%d", r.Session)
	}
	return "n:" + r.Path
}

func TestCommitApplied(t *testing.T) {
	s := openMem(t)
	if got, err := s.AppliedIndex(); err != nil || got != 0 {
		t.Fatalf("AppliedIndex of an empty store = %d, %v", got, err)
	}
	steps := []struct {
		changes []tree.Record
		applied uint64
		want    map[string]string
	}{
		{
			[]tree.Record{nodeRec("/", "root"), nodeRec("/a", "A"), nodeRec("/ab", "AB"), sessionRec(-7, "S")},
			3,
			map[string]string{"n:/": "root", "n:/a": "A", "n:/ab": "AB", "s:-7": "S"},
		},
		{
			[]tree.Record{nodeRec("/a/b", "B"), nodeRec("/a", "A2"), sessionRec(9, "T")},
			4,
			map[string]string{"n:/": "root", "n:/a": "A2", "n:/ab": "AB", "n:/a/b": "B", "s:-7": "S", "s:9": "T"},
		},
		{
			// Nil values delete; a record may be set and deleted in one batch.
			[]tree.Record{nodeRec("/ab", ""), sessionRec(-7, ""), nodeRec("/tmp", "x"), nodeRec("/tmp", "")},
			9,
			map[string]string{"n:/": "root", "n:/a": "A2", "n:/a/b": "B", "s:9": "T"},
		},
		{
			// An entry that changed nothing still advances the index.
			nil,
			10,
			map[string]string{"n:/": "root", "n:/a": "A2", "n:/a/b": "B", "s:9": "T"},
		},
	}
	for i, step := range steps {
		if err := s.CommitApplied(step.changes, step.applied); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := storedRecords(t, s.db); !maps.Equal(got, step.want) {
			t.Errorf("step %d: stored %v, want %v", i, got, step.want)
		}
		if got, err := s.AppliedIndex(); err != nil || got != step.applied {
			t.Errorf("step %d: AppliedIndex = %d, %v; want %d", i, got, err, step.applied)
		}
	}
}

func TestCommitAppliedIsAllOrNothing(t *testing.T) {
	s := openMem(t)
	if err := s.CommitApplied([]tree.Record{nodeRec("/", "r")}, 1); err != nil {
		t.Fatal(err)
	}
	err := s.CommitApplied([]tree.Record{nodeRec("/ok", "x"), nodeRec("bad//path", "y")}, 2)
	if !errors.Is(err, ErrBadPath) {
		t.Fatalf("CommitApplied with a bad path: err = %v, want ErrBadPath", err)
	}
	if err := s.CommitApplied([]tree.Record{{Type: 99, Value: []byte{1}}}, 2); err == nil {
		t.Fatal("CommitApplied with an unknown record type succeeded")
	}
	if got := storedRecords(t, s.db); !maps.Equal(got, map[string]string{"n:/": "r"}) {
		t.Errorf("after failed commits: stored %v", got)
	}
	if got, _ := s.AppliedIndex(); got != 1 {
		t.Errorf("after failed commits: AppliedIndex = %d, want 1", got)
	}
}

func TestCommitAppliedSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CommitApplied([]tree.Record{nodeRec("/", "r"), nodeRec("/x", "X"), sessionRec(1, "s")}, 5); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := map[string]string{"n:/": "r", "n:/x": "X", "s:1": "s"}
	if got := storedRecords(t, s.db); !maps.Equal(got, want) {
		t.Errorf("after reopen: stored %v, want %v", got, want)
	}
	if got, _ := s.AppliedIndex(); got != 5 {
		t.Errorf("after reopen: AppliedIndex = %d, want 5", got)
	}
}

func TestChildren(t *testing.T) {
	s := openMem(t)
	var recs []tree.Record
	for _, p := range []string{"/", "/a", "/ab", "/a-", "/a/b", "/a/c", "/a/b/c", "/ab/x", "/a-/y", "/b", "/zookeeper", "/zookeeper/quota"} {
		recs = append(recs, nodeRec(p, "v"))
	}
	recs = append(recs, sessionRec(1, "s"))
	if err := s.CommitApplied(recs, 1); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		parent string
		want   []string
	}{
		{"/", []string{"a", "a-", "ab", "b", "zookeeper"}},
		{"/a", []string{"b", "c"}},
		{"/ab", []string{"x"}},
		{"/a/b", []string{"c"}},
		{"/a/b/c", nil},
		{"/missing", nil},
		{"/zookeeper", []string{"quota"}},
	}
	for _, tt := range tests {
		got, err := s.Children(tt.parent)
		if err != nil {
			t.Fatalf("Children(%q): %v", tt.parent, err)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Children(%q) = %q, want %q", tt.parent, got, tt.want)
		}
	}
	if _, err := s.Children("a/"); !errors.Is(err, ErrBadPath) {
		t.Errorf("Children of a bad path: err = %v, want ErrBadPath", err)
	}
}
