package storage

import (
	"errors"
	"fmt"
	"sync"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

var _ raft.LogStore = (*Store)(nil)

// logBounds caches the first and last index of the Raft log. Asking Pebble
// each time would be one seek, but a seek from the start of the log has to
// step over every entry that a compaction range-deleted until Pebble
// compacts them away, milliseconds for a few hundred thousand entries.
type logBounds struct {
	// appendMu is held shared by StoreLogs and exclusively by DeleteRange,
	// so that concurrent appends still share an fsync while a deletion and
	// its bounds update cannot interleave with an append's.
	appendMu sync.RWMutex
	mu       sync.Mutex
	first    uint64 // 0 when the log is empty
	last     uint64
}

// loadLogBounds reads the bounds from the database, once, at Open.
func (s *Store) loadLogBounds() error {
	first, err := s.seekLog(0, true)
	if err != nil {
		return err
	}
	last, err := s.seekLog(^uint64(0), false)
	if err != nil {
		return err
	}
	s.bounds.first, s.bounds.last = first, last
	return nil
}

// seekLog returns the first log index at or above from (forward), or the
// last one below from (backward, from == MaxUint64 meaning no limit); 0 if
// there is none. Starting at from, not at an end of the log, is what keeps it
// clear of the range-deleted entries.
func (s *Store) seekLog(from uint64, forward bool) (uint64, error) {
	o := &pebble.IterOptions{LowerBound: prefixStart(prefixLog), UpperBound: prefixEnd(prefixLog)}
	if forward {
		o.LowerBound = logKey(from)
	} else if from != ^uint64(0) {
		o.UpperBound = logKey(from)
	}
	it, err := s.db.NewIter(o)
	if err != nil {
		return 0, err
	}
	var ok bool
	if forward {
		ok = it.First()
	} else {
		ok = it.Last()
	}
	var index uint64
	if ok {
		index, err = decodeLogKey(it.Key())
	}
	return index, errors.Join(err, it.Close())
}

// FirstIndex returns the index of the first Raft log entry, 0 if the log is
// empty.
func (s *Store) FirstIndex() (uint64, error) {
	s.bounds.mu.Lock()
	defer s.bounds.mu.Unlock()
	return s.bounds.first, nil
}

// LastIndex returns the index of the last Raft log entry, 0 if the log is
// empty.
func (s *Store) LastIndex() (uint64, error) {
	s.bounds.mu.Lock()
	defer s.bounds.mu.Unlock()
	return s.bounds.last, nil
}

// GetLog reads the Raft log entry at index into l; raft.ErrLogNotFound if
// there is none.
func (s *Store) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return err
	}
	err = decodeLog(v, l)
	closer.Close()
	if err != nil {
		return fmt.Errorf("%w (log index %d)", err, index)
	}
	if l.Index != index {
		return fmt.Errorf("%w: log key %d holds entry %d", ErrCorrupt, index, l.Index)
	}
	return nil
}

// StoreLog appends one Raft log entry durably.
func (s *Store) StoreLog(l *raft.Log) error {
	return s.StoreLogs([]*raft.Log{l})
}

// StoreLogs writes Raft log entries durably and atomically: they are on
// stable storage when it returns. All of them go in one synced batch, and
// Pebble's commit pipeline shares one WAL fsync among batches committed
// concurrently, so callers appending in parallel do not pay one fsync each.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	size := 0
	lo, hi := logs[0].Index, logs[0].Index
	for _, l := range logs {
		size += 9 + encodedLogSize(l)
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}
	b := s.db.NewBatchWithSize(size + 64)
	defer b.Close()
	var buf []byte
	for _, l := range logs {
		buf = appendLog(buf[:0], l)
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return err
		}
	}
	s.bounds.appendMu.RLock()
	defer s.bounds.appendMu.RUnlock()
	applied := s.marks.committedNow()
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	s.marks.synced(applied, hi)
	s.bounds.mu.Lock()
	if s.bounds.first == 0 || lo < s.bounds.first {
		s.bounds.first = lo
	}
	s.bounds.last = max(s.bounds.last, hi)
	s.bounds.mu.Unlock()
	return nil
}

// DeleteRange deletes the Raft log entries from min to max, inclusive, with
// one range deletion, so that truncating a long prefix costs the same as a
// short one. It is synced although Raft would survive losing it: deletions
// are rare (compaction, a conflicting suffix), and after a crash the log
// should be the one Raft last saw, not one with entries it had dropped.
func (s *Store) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	end := prefixEnd(prefixLog)
	if max < ^uint64(0) {
		end = logKey(max + 1)
	}
	s.bounds.appendMu.Lock()
	defer s.bounds.appendMu.Unlock()
	s.bounds.mu.Lock()
	suffix := max >= s.bounds.last
	s.bounds.mu.Unlock()
	if suffix {
		// The log's end moves back: first the watermark, durably.
		if err := s.marks.truncating(min - 1); err != nil {
			return err
		}
	}
	applied := s.marks.committedNow()
	if err := s.db.DeleteRange(logKey(min), end, pebble.Sync); err != nil {
		return err
	}
	s.marks.synced(applied, 0)
	s.bounds.mu.Lock()
	first, last := s.bounds.first, s.bounds.last
	s.bounds.mu.Unlock()
	var err error
	switch {
	case first == 0 || max < first || min > last:
		return nil
	case min <= first && max >= last:
		first, last = 0, 0
	case min <= first:
		// Entries may have gaps (Raft leaves one after installing a
		// snapshot), so find the new first entry rather than assume max+1.
		first, err = s.seekLog(max+1, true)
	case max >= last:
		last, err = s.seekLog(min, false)
	}
	if err != nil {
		return err
	}
	s.bounds.mu.Lock()
	s.bounds.first, s.bounds.last = first, last
	s.bounds.mu.Unlock()
	return nil
}
