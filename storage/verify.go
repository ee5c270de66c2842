package storage

import (
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
)

// corruption receives Pebble's reports of damaged files. Until Open has
// read the whole store it keeps the report, so that Open can refuse with
// the file's name; afterwards it stops the process as Pebble's own default
// does, since a replica that cannot read its state must not go on.
type corruption struct {
	logger    pebble.Logger
	verifying atomic.Bool

	mu    sync.Mutex
	first *pebble.DataCorruptionInfo
}

func (c *corruption) report(info pebble.DataCorruptionInfo) {
	if c.verifying.Load() {
		c.mu.Lock()
		if c.first == nil {
			c.first = &info
		}
		c.mu.Unlock()
		return
	}
	c.logger.Fatalf("%s", info)
}

// verify reads every key and value once, so that a damaged table is found
// at start, with its name, rather than by whichever read reaches it first.
// The tree is read in full at start anyway; the rest is the Raft log kept
// behind the last snapshot, a small part.
func (s *Store) verify(c *corruption) error {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if _, err := it.ValueAndErr(); err != nil {
			break
		}
	}
	err = it.Error()
	if cerr := it.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		c.verifying.Store(false)
		return nil
	}
	// Still verifying for the readers racing Open's close of the database:
	// the error is Open's to report.
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.first != nil {
		return fmt.Errorf("%w: %s is damaged: %v", ErrCorrupt, c.first.Path, c.first.Details)
	}
	return err
}
