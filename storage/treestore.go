package storage

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"zkfs/tree"
)

// recordKey is the key of a tree record.
func recordKey(r tree.Record) ([]byte, error) {
	switch r.Type {
	case tree.RecordNode:
		return nodeKey(r.Path)
	case tree.RecordSession:
		return sessionKey(r.Session), nil
	}
	return nil, fmt.Errorf("storage: unknown tree record type %d", r.Type)
}

func appliedValue(index uint64) []byte {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], index)
	return buf[:]
}

// CommitApplied persists the tree records changed by applying the Raft log
// up to appliedIndex, together with that index, in one atomic batch: after a
// crash the stored tree is always the tree at the stored applied index.
//
// The batch is committed without an fsync. That is safe because the Raft log
// lives in the same database and the same write-ahead log: every entry up to
// appliedIndex was synced by StoreLogs before Raft could apply it, and Pebble
// recovers a prefix of its WAL, so a crash can lose only the newest applied
// batches, never one without those before it. What is lost is rebuilt by
// re-applying the log after the stored applied index. Syncing here would
// double the fsyncs on the write path for nothing.
func (s *Store) CommitApplied(changes []tree.Record, appliedIndex uint64) error {
	size := 32
	for _, r := range changes {
		size += 16 + len(r.Path) + len(r.Value)
	}
	b := s.db.NewBatchWithSize(size)
	defer b.Close()
	for _, r := range changes {
		k, err := recordKey(r)
		if err != nil {
			return err
		}
		if r.Value == nil {
			err = b.Delete(k, nil)
		} else {
			err = b.Set(k, r.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	if err := b.Set(metaAppliedKey, appliedValue(appliedIndex), nil); err != nil {
		return err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return err
	}
	s.marks.setCommitted(appliedIndex)
	return nil
}

// AppliedIndex returns the index of the last Raft entry whose effects are
// stored, 0 for an empty store.
func (s *Store) AppliedIndex() (uint64, error) {
	return readApplied(s.db)
}

func readApplied(r reader) (uint64, error) {
	v, ok, err := getCopy(r, metaAppliedKey)
	if err != nil || !ok {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: applied index of %d bytes", ErrCorrupt, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// LoadTree rebuilds the stored tree and returns it with the applied index.
// An empty store gives a new tree, which it stores, and index 0. Zxids are Raft indexes, so
// the loaded tree's last zxid is the applied index.
func (s *Store) LoadTree(cfg tree.Config) (*tree.Tree, uint64, error) {
	snap := s.db.NewSnapshot()
	defer snap.Close()
	applied, err := readApplied(snap)
	if err != nil {
		return nil, 0, err
	}
	var l *tree.Loader
	n := 0
	err = scanRecordsAhead(snap, func(r tree.Record) error {
		if l == nil {
			l = tree.NewLoader(cfg)
		}
		n++
		return l.Add(r)
	})
	if err != nil {
		return nil, 0, fmt.Errorf("storage: load tree: %w", err)
	}
	if n == 0 {
		if applied != 0 {
			return nil, 0, fmt.Errorf("%w: applied index %d but no tree records", ErrCorrupt, applied)
		}
		return s.initTree(cfg)
	}
	t, err := l.Finish(int64(applied))
	if err != nil {
		return nil, 0, fmt.Errorf("storage: load tree: %w", err)
	}
	return t, applied, nil
}

// initTree stores a fresh tree in an empty store. A fresh tree's nodes (/,
// /zookeeper, ...) are not changes that TakeChanges reports, so without this
// the first CommitApplied would store a root whose children are missing.
// Committing without sync is enough: until it is durable, the store is empty
// and the next LoadTree starts over.
func (s *Store) initTree(cfg tree.Config) (*tree.Tree, uint64, error) {
	t := tree.New(cfg)
	b := s.db.NewBatch()
	defer b.Close()
	if err := addTreeRecords(b, t); err != nil {
		return nil, 0, err
	}
	if err := b.Set(metaAppliedKey, appliedValue(0), nil); err != nil {
		return nil, 0, err
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return nil, 0, err
	}
	return t, 0, nil
}

// addTreeRecords adds every record of t to b.
func addTreeRecords(b *pebble.Batch, t *tree.Tree) error {
	return t.Records(func(r tree.Record) error {
		k, err := recordKey(r)
		if err != nil {
			return err
		}
		return b.Set(k, r.Value, nil)
	})
}

// iterable is what scanRecords needs; both *pebble.DB and *pebble.Snapshot
// have it.
type iterable interface {
	NewIter(o *pebble.IterOptions) (*pebble.Iterator, error)
}

// scanRecords calls fn with every node record, then every session record.
// The Value passed to fn is only valid during the call.
func scanRecords(r iterable, fn func(tree.Record) error) error {
	for _, p := range []byte{prefixNode, prefixSession} {
		if err := scanPrefix(r, p, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanPrefix(r iterable, p byte, fn func(tree.Record) error) (err error) {
	it, err := r.NewIter(&pebble.IterOptions{
		LowerBound: prefixStart(p),
		UpperBound: prefixEnd(p),
	})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for ok := it.First(); ok; ok = it.Next() {
		rec := tree.Record{Type: tree.RecordNode}
		if p == prefixSession {
			rec.Type = tree.RecordSession
			rec.Session, err = decodeSessionKey(it.Key())
		} else {
			rec.Path, err = decodeNodeKey(it.Key())
		}
		if err != nil {
			return err
		}
		rec.Value, err = it.ValueAndErr()
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return it.Error()
}

// Children returns the names of the stored children of parent, sorted
// bytewise, with one range scan. It reads the database, not a tree, so it
// serves tools and checks of what was persisted.
func (s *Store) Children(parent string) (names []string, err error) {
	lo, err := childrenPrefix(parent)
	if err != nil {
		return nil, err
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: lo, UpperBound: prefixSuccessor(lo)})
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for ok := it.First(); ok; ok = it.Next() {
		name, ok := nodeName(it.Key())
		if !ok {
			return nil, fmt.Errorf("%w: bad node key %x", ErrCorrupt, it.Key())
		}
		names = append(names, string(name))
	}
	return names, it.Error()
}

// Sync makes everything committed so far durable, including the applied
// tree that CommitApplied leaves to the next synced write. Call it before
// relying on the stored state outside this database, such as handing a
// snapshot's index to Raft.
func (s *Store) Sync() error {
	applied := s.marks.committedNow()
	if err := s.db.LogData(nil, pebble.Sync); err != nil {
		return err
	}
	s.marks.synced(applied, 0)
	return nil
}
