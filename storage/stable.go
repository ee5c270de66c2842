package storage

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

var _ raft.StableStore = (*Store)(nil)

// Set stores a Raft stable-store value durably: Raft's current term and vote
// must survive a crash or a node could vote twice in one term.
func (s *Store) Set(key, val []byte) error {
	applied := s.marks.committedNow()
	if err := s.db.Set(stableKey(key), val, pebble.Sync); err != nil {
		return err
	}
	s.marks.synced(applied, 0)
	return nil
}

// Get returns a copy of a Raft stable-store value; ErrKeyNotFound if the key
// is missing.
func (s *Store) Get(key []byte) ([]byte, error) {
	v, ok, err := getCopy(s.db, stableKey(key))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ErrKeyNotFound
	}
	return v, nil
}

// SetUint64 stores a Raft stable-store integer durably.
func (s *Store) SetUint64(key []byte, val uint64) error {
	var buf [8]byte
	binary.BigEndian.PutUint64(buf[:], val)
	return s.Set(key, buf[:])
}

// GetUint64 returns a Raft stable-store integer; ErrKeyNotFound if the key is
// missing.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: stable key %q holds %d bytes, not a uint64", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}
