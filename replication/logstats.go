package replication

import (
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// countingLogs counts the log's synced appends and the writes they carry.
// Each StoreLogs is one Pebble batch committed with fsync, on the leader
// (its own append) as on a follower (what AppendEntries brought): writes
// per append is how well the write path batches.
type countingLogs struct {
	raft.LogStore
	syncs  atomic.Uint64
	writes atomic.Uint64 // command entries (a multi is one)
	// stored, if set, hears of the last index of each append.
	stored func(last uint64)
}

func (c *countingLogs) StoreLog(l *raft.Log) error {
	return c.StoreLogs([]*raft.Log{l})
}

func (c *countingLogs) StoreLogs(logs []*raft.Log) error {
	if err := c.LogStore.StoreLogs(logs); err != nil {
		return err
	}
	var n uint64
	for _, l := range logs {
		if l.Type == raft.LogCommand {
			n++
		}
	}
	c.syncs.Add(1)
	c.writes.Add(n)
	if c.stored != nil && len(logs) > 0 {
		c.stored(logs[len(logs)-1].Index)
	}
	return nil
}

// LogStats returns how many synced appends this replica made to its log
// since it started, and how many writes (commands) they carried.
func (r *Replica) LogStats() (syncs, writes uint64) {
	if r.counted == nil {
		return 0, 0
	}
	return r.counted.syncs.Load(), r.counted.writes.Load()
}
