package replication

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"zkfs/storage"
)

// openLogStore opens the Raft log in its own directory. The tree's batches
// are still committed without fsync: a snapshot syncs the tree store before
// Raft compacts the log, so every entry that the tree store may have lost
// in a crash is still in the log, and is replayed.
//
// A data directory whose own store already holds a Raft log was set up
// without a separate log directory; starting with an empty one there would
// silently begin a new history, so it is refused.
func openLogStore(dir string, tree *storage.Store, log *slog.Logger) (*storage.Store, error) {
	logs, err := storage.Open(filepath.Join(dir, "raftlog"), storage.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return nil, err
	}
	own, err := logs.LastIndex()
	if err != nil {
		logs.Close()
		return nil, err
	}
	old, err := tree.LastIndex()
	if err != nil {
		logs.Close()
		return nil, err
	}
	if own == 0 && old > 0 {
		logs.Close()
		return nil, fmt.Errorf("replication: the data directory holds a Raft log (up to index %d) but the log directory %s is empty; "+
			"move the data directory's log there first, or start without a separate log directory", old, dir)
	}
	return logs, nil
}
