package storage

import (
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

func mkLog(index, term uint64) *raft.Log {
	return &raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogCommand,
		Data:       []byte{byte(index), byte(index >> 8), 'd'},
		Extensions: []byte("ext"),
		AppendedAt: time.Unix(1700000000, int64(index)),
	}
}

func TestLogCodecRoundTrip(t *testing.T) {
	tests := []raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogNoop},
		{Index: 1<<64 - 1, Term: 1<<64 - 1, Type: raft.LogConfiguration, Data: []byte{}, Extensions: []byte{}},
		{Index: 7, Term: 3, Type: raft.LogCommand, Data: []byte("hello"), AppendedAt: time.Unix(-5, 999999999)},
		{Index: 8, Term: 3, Type: raft.LogBarrier, Extensions: []byte{0, 1, 2}, AppendedAt: time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC)},
		*mkLog(42, 9),
	}
	for _, want := range tests {
		enc := appendLog(nil, &want)
		if len(enc) > encodedLogSize(&want) {
			t.Errorf("encoding of %+v is %d bytes, over the bound %d", want, len(enc), encodedLogSize(&want))
		}
		var got raft.Log
		if err := decodeLog(enc, &got); err != nil {
			t.Fatalf("decodeLog(%+v): %v", want, err)
		}
		if !got.AppendedAt.Equal(want.AppendedAt) {
			t.Errorf("AppendedAt = %v, want %v", got.AppendedAt, want.AppendedAt)
		}
		got.AppendedAt, want.AppendedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("round trip = %+v, want %+v", got, want)
		}
	}
}

func TestLogCodecRejectsDamage(t *testing.T) {
	enc := appendLog(nil, mkLog(5, 2))
	for n := 0; n < len(enc); n++ {
		var l raft.Log
		if err := decodeLog(enc[:n], &l); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeLog of %d/%d bytes: err = %v, want ErrCorrupt", n, len(enc), err)
		}
	}
	bad := append([]byte{}, enc...)
	bad[0] = 2
	if err := decodeLog(bad, new(raft.Log)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("unknown version: err = %v", err)
	}
	if err := decodeLog(append(enc, 0), new(raft.Log)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("trailing byte: err = %v", err)
	}
}

func TestDecodedLogDoesNotAliasInput(t *testing.T) {
	enc := appendLog(nil, mkLog(5, 2))
	var l raft.Log
	if err := decodeLog(enc, &l); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 0xee
	}
	if want := mkLog(5, 2); string(l.Data) != string(want.Data) || string(l.Extensions) != string(want.Extensions) {
		t.Errorf("decoded entry changed with its input: %+v", l)
	}
}

func checkBounds(t *testing.T, s *Store, first, last uint64) {
	t.Helper()
	gotFirst, err := s.FirstIndex()
	if err != nil {
		t.Fatal(err)
	}
	gotLast, err := s.LastIndex()
	if err != nil {
		t.Fatal(err)
	}
	if gotFirst != first || gotLast != last {
		t.Errorf("FirstIndex, LastIndex = %d, %d; want %d, %d", gotFirst, gotLast, first, last)
	}
}

func TestLogStore(t *testing.T) {
	s := openMem(t)
	checkBounds(t, s, 0, 0)
	if err := s.GetLog(1, new(raft.Log)); err != raft.ErrLogNotFound {
		t.Fatalf("GetLog on empty log: err = %v, want raft.ErrLogNotFound", err)
	}

	if err := s.StoreLog(mkLog(1, 1)); err != nil {
		t.Fatal(err)
	}
	var batch []*raft.Log
	for i := uint64(2); i <= 10; i++ {
		batch = append(batch, mkLog(i, 2))
	}
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, 10)
	for i := uint64(1); i <= 10; i++ {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
		want := mkLog(i, 2)
		if i == 1 {
			want.Term = 1
		}
		if !got.AppendedAt.Equal(want.AppendedAt) {
			t.Errorf("GetLog(%d).AppendedAt = %v, want %v", i, got.AppendedAt, want.AppendedAt)
		}
		got.AppendedAt, want.AppendedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(&got, want) {
			t.Errorf("GetLog(%d) = %+v, want %+v", i, got, *want)
		}
	}

	// Compaction: a prefix goes.
	if err := s.DeleteRange(1, 4); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 5, 10)
	if err := s.GetLog(4, new(raft.Log)); err != raft.ErrLogNotFound {
		t.Errorf("GetLog(4) after DeleteRange(1, 4): err = %v", err)
	}
	// A conflicting suffix goes and is rewritten in a new term.
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 5, 7)
	if err := s.StoreLogs([]*raft.Log{mkLog(8, 3)}); err != nil {
		t.Fatal(err)
	}
	var got raft.Log
	if err := s.GetLog(8, &got); err != nil || got.Term != 3 {
		t.Errorf("GetLog(8) = %+v, %v; want term 3", got, err)
	}
	checkBounds(t, s, 5, 8)
	// After a snapshot install, Raft may leave a gap.
	if err := s.StoreLogs([]*raft.Log{mkLog(100, 4), mkLog(101, 4)}); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 5, 101)
	// Deleting up to the gap must find the entry after it.
	if err := s.DeleteRange(1, 8); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 100, 101)
	if err := s.DeleteRange(101, 500); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 100, 100)
	// A deletion in the middle, or outside the log, moves no bound.
	if err := s.StoreLogs([]*raft.Log{mkLog(101, 4), mkLog(102, 4)}); err != nil {
		t.Fatal(err)
	}
	for _, r := range [][2]uint64{{101, 101}, {1, 50}, {200, 300}} {
		if err := s.DeleteRange(r[0], r[1]); err != nil {
			t.Fatal(err)
		}
	}
	checkBounds(t, s, 100, 102)
	if err := s.DeleteRange(0, 1<<64-1); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 0, 0)
	if err := s.DeleteRange(9, 3); err != nil {
		t.Errorf("DeleteRange with min > max: %v", err)
	}
}

func TestLogStoreSurvivesReopen(t *testing.T) {
	fs := vfs.NewMem()
	s, err := Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 50; i++ {
		if err := s.StoreLog(mkLog(i, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DeleteRange(1, 20); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open("db", memOptions(fs))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkBounds(t, s, 21, 50)
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Errorf("GetUint64(CurrentTerm) = %d, %v; want 7", v, err)
	}
}

func TestConcurrentStoreLogs(t *testing.T) {
	s := openMem(t)
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < perWriter; i++ {
				idx := uint64(w*perWriter + i + 1)
				if err := s.StoreLogs([]*raft.Log{mkLog(idx, 1)}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	// A compaction running alongside must leave the cached bounds equal to
	// what the database holds.
	stop := make(chan struct{})
	deleterDone := make(chan struct{})
	go func() {
		defer close(deleterDone)
		for hi := uint64(5); ; hi += 5 {
			select {
			case <-stop:
				return
			default:
			}
			if err := s.DeleteRange(1, hi%(writers*perWriter/2)); err != nil {
				errs <- err
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-deleterDone
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	first, err := s.seekLog(0, true)
	if err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, first, writers*perWriter)
	// The deletions raced with the appends below them; write everything
	// again to check each append.
	if err := s.StoreLogs(logsFrom(1, writers*perWriter)); err != nil {
		t.Fatal(err)
	}
	checkBounds(t, s, 1, writers*perWriter)
	for i := uint64(1); i <= writers*perWriter; i++ {
		if err := s.GetLog(i, new(raft.Log)); err != nil {
			t.Fatalf("GetLog(%d): %v", i, err)
		}
	}
}

func TestStableStore(t *testing.T) {
	s := openMem(t)
	if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Errorf("Get of a missing key: err = %v, want exactly \"not found\"", err)
	}
	if _, err := s.GetUint64([]byte("missing")); err == nil || err.Error() != "not found" {
		t.Errorf("GetUint64 of a missing key: err = %v, want exactly \"not found\"", err)
	}
	if !errors.Is(func() error { _, err := s.Get([]byte("x")); return err }(), ErrKeyNotFound) {
		t.Error("missing key does not match ErrKeyNotFound")
	}
	val := []byte("candidate-1")
	if err := s.Set([]byte("LastVoteCand"), val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the store must have copied it
	got, err := s.Get([]byte("LastVoteCand"))
	if err != nil || string(got) != "candidate-1" {
		t.Errorf("Get = %q, %v", got, err)
	}
	// The returned slice must not alias Pebble's memory: overwrite the key and
	// make sure the old result is unchanged.
	if err := s.Set([]byte("LastVoteCand"), []byte("candidate-2")); err != nil {
		t.Fatal(err)
	}
	if string(got) != "candidate-1" {
		t.Errorf("earlier Get result changed to %q", got)
	}
	if err := s.Set([]byte("empty"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get([]byte("empty")); err != nil || len(got) != 0 {
		t.Errorf("Get(empty) = %q, %v; want empty and no error", got, err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 1<<40+3); err != nil {
		t.Fatal(err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 1<<40+3 {
		t.Errorf("GetUint64 = %d, %v", v, err)
	}
	if _, err := s.GetUint64([]byte("LastVoteCand")); !errors.Is(err, ErrCorrupt) {
		t.Errorf("GetUint64 of a non-integer: err = %v, want ErrCorrupt", err)
	}
	// Stable keys must not be confused with log entries or tree records.
	checkBounds(t, s, 0, 0)
}

func logsFrom(lo, hi uint64) []*raft.Log {
	var logs []*raft.Log
	for i := lo; i <= hi; i++ {
		logs = append(logs, mkLog(i, 1))
	}
	return logs
}
