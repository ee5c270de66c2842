package storage

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

var _ raft.LogStore = (*Store)(nil)

// FirstIndex returns the index of the first Raft log entry, 0 if the log is
// empty. It is one seek: log keys sort by index, and range deletions let the
// iterator skip a truncated prefix without visiting its keys.
func (s *Store) FirstIndex() (uint64, error) {
	return s.logBound(true)
}

// LastIndex returns the index of the last Raft log entry, 0 if the log is
// empty.
func (s *Store) LastIndex() (uint64, error) {
	return s.logBound(false)
}

func (s *Store) logBound(first bool) (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: prefixStart(prefixLog),
		UpperBound: prefixEnd(prefixLog),
	})
	if err != nil {
		return 0, err
	}
	var ok bool
	if first {
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
	size := 0
	for _, l := range logs {
		size += 9 + encodedLogSize(l)
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
	return b.Commit(pebble.Sync)
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
	return s.db.DeleteRange(logKey(min), end, pebble.Sync)
}
