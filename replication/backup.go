package replication

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"zkfs/storage"
	"zkfs/tree"
)

// Backup takes a consistent snapshot of this replica's tree for a backup;
// its WriteTo streams it in storage's snapshot format, and the caller must
// Close it. It first asks for the leader's commit index, so that the
// backup holds every write acknowledged before the call; a replica without
// a leader (an ensemble that lost its quorum) takes what it has, and fresh
// reports which of the two happened.
func (r *Replica) Backup(ctx context.Context) (snap *storage.Snapshot, fresh bool, err error) {
	sctx, cancel := context.WithTimeout(ctx, min(r.cfg.WriteTimeout, 5*time.Second))
	fresh = r.HasQuorum() && r.Sync(sctx) == nil
	cancel()
	snap, err = r.store.Snapshot()
	if err != nil {
		return nil, false, err
	}
	return snap, fresh, nil
}

// RestoreOptions describe the data directory that RestoreDataDir builds.
type RestoreOptions struct {
	// DataDir is the directory to build. It must be missing, empty, or
	// hold nothing but a myid file.
	DataDir string
	// LogDir is the replica's separate Raft log directory (dataLogDir),
	// if it has one; it must be missing or empty, since an old log there
	// would be replayed over the restored tree.
	LogDir string
	// Peers is the membership of the ensemble that will start from the
	// directory; empty means a standalone replica.
	Peers []Peer
	// Progress, when set, is called as the snapshot is checked.
	Progress func(storage.SnapshotInfo)
	// Now stamps the membership change a restore may have to write; zero
	// means the clock.
	Now time.Time
}

// RestoreResult describes a restored data directory.
type RestoreResult struct {
	// Info describes the snapshot that was read.
	Info storage.SnapshotInfo
	// Index is the applied index the directory starts from: the
	// snapshot's, or one more when the membership had to be rewritten.
	Index uint64
	// Membership is set when /zookeeper/config was rewritten because the
	// snapshot came from an ensemble of other members.
	Membership bool
}

// RestoreDataDir builds a data directory from a snapshot stream, as a
// Backup writes it, from which a replica of a new ensemble starts (see
// Seed). Every member of that ensemble is restored from the same stream
// with the same peers, so they all begin from the same Raft snapshot
// holding the new membership, and elect a leader among themselves without
// bootstrapping. Sessions in the snapshot are restored and expire as usual
// unless their clients return.
//
// The whole stream is read and checked before anything is written, so a
// truncated or damaged file (storage.ErrBadSnapshot), or a directory that
// is not empty (ErrNotEmpty), leaves the disk as it was.
func RestoreDataDir(src io.ReadSeeker, o RestoreOptions) (RestoreResult, error) {
	var res RestoreResult
	var err error
	if res.Info, err = storage.ReadSnapshotInfo(src, o.Progress); err != nil {
		return res, err
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return res, err
	}
	res.Index, err = Seed(Config{DataDir: o.DataDir, LogDir: o.LogDir, Peers: o.Peers}, func(store *storage.Store) error {
		t, _, err := store.Restore(src, tree.Config{})
		if err != nil || len(o.Peers) == 0 {
			return err
		}
		res.Membership, err = rewriteMembership(store, t, o.Peers, o.Now)
		return err
	})
	return res, err
}

// rewriteMembership points /zookeeper/config at the new ensemble when the
// snapshot names other members: replicas learn each other's addresses
// there, and would otherwise try to reach the old ensemble. The change is
// applied as the next index, as a reconfig would be.
func rewriteMembership(store *storage.Store, t *tree.Tree, peers []Peer, now time.Time) (bool, error) {
	data, _, _ := t.Get(ConfigPath)
	old, perr := ParseConfigText(string(data))
	if perr == nil && samePeers(old, peers) {
		return false, nil
	}
	if now.IsZero() {
		now = time.Now()
	}
	idx := uint64(t.LastZxid()) + 1
	text := ConfigText(peers, int64(idx))
	h := tree.Header{Zxid: int64(idx), Time: now.UnixMilli(), Identity: tree.Identity{Super: true}}
	if res, _ := t.Apply(h, tree.SetData{Path: ConfigPath, Data: []byte(text), Version: -1}); res.Err != nil {
		return false, fmt.Errorf("replication: rewriting %s: %w", ConfigPath, res.Err)
	}
	if err := store.CommitApplied(t.TakeChanges(), idx); err != nil {
		return false, err
	}
	return true, nil
}

func samePeers(a, b []Peer) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sortPeers(a)
	sortPeers(b)
	return slices.Equal(a, b)
}
