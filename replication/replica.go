package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"zkfs/storage"
	"zkfs/tree"
)

// Errors of the write path.
var (
	// ErrNotLeader reports a write proposed to a replica that is not the
	// leader and cannot forward it.
	ErrNotLeader = errors.New("replication: not the leader")
	// ErrTimeout reports a write whose outcome is unknown because it was
	// not applied before the caller's deadline.
	ErrTimeout = errors.New("replication: write not applied in time")
	// ErrClosed reports a call on a replica that is shutting down.
	ErrClosed = errors.New("replication: replica is shut down")
)

// Config configures a replica.
type Config struct {
	// DataDir holds the Pebble store and Raft's snapshots.
	DataDir string
	// ID is the replica's Raft server id.
	ID string
	// Tree holds the tree's limits.
	Tree tree.Config
	// SnapshotThreshold is the number of log entries between snapshots
	// (ZooKeeper's snapCount); 0 means 100,000.
	SnapshotThreshold uint64
	// TrailingLogs is how many entries a compaction keeps behind a
	// snapshot, so that a slightly lagging follower needs no snapshot;
	// 0 means 10,240.
	TrailingLogs uint64
	// ReapInterval is how often the leader looks for empty containers and
	// expired TTL nodes (ZooKeeper's znode.container.checkIntervalMs);
	// 0 means one minute.
	ReapInterval time.Duration
	// SessionTick is how often the leader looks for expired sessions;
	// 0 means 100 ms.
	SessionTick time.Duration
	// Logger receives the replica's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Replica is one zkfs server's replicated state: the Raft node, the tree it
// applies to and the store that keeps both.
type Replica struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store
	fsm   *fsm
	raft  *raft.Raft
	trans raft.Transport

	sessions sessionTracker

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens (or creates) the data directory and starts Raft. With no
// existing state it bootstraps a cluster of one voter: this replica.
func Open(cfg Config) (*Replica, error) {
	if cfg.ID == "" {
		cfg.ID = "1"
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 100_000
	}
	if cfg.TrailingLogs == 0 {
		cfg.TrailingLogs = 10_240
	}
	if cfg.ReapInterval == 0 {
		cfg.ReapInterval = time.Minute
	}
	if cfg.SessionTick == 0 {
		cfg.SessionTick = 100 * time.Millisecond
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("replication: data directory: %w", err)
	}
	store, err := storage.Open(filepath.Join(cfg.DataDir, "pebble"), storage.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return nil, err
	}
	r := &Replica{cfg: cfg, log: log, store: store, stop: make(chan struct{})}
	r.sessions.lastSeen = make(map[int64]time.Time)
	if err := r.start(); err != nil {
		store.Close()
		return nil, err
	}
	r.wg.Add(2)
	go r.reapLoop()
	go r.expireLoop(cfg.SessionTick)
	return r, nil
}

func (r *Replica) start() error {
	cfg := r.cfg
	hlog := hclog.New(&hclog.LoggerOptions{
		Name:   "raft",
		Level:  hclog.Warn,
		Output: slogWriter{r.log},
	})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, 2, hlog)
	if err != nil {
		return fmt.Errorf("replication: snapshot store: %w", err)
	}
	f, err := newFSM(r.log, r.store, cfg.Tree)
	if err != nil {
		return err
	}
	r.fsm = f
	if err := r.catchUpWithSnapshot(snaps); err != nil {
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	rc.BatchApplyCh = true
	// The store already holds the tree as of its last applied index, so
	// loading raft's snapshot at start would only repeat that work.
	rc.NoSnapshotRestoreOnStart = true
	// A lone voter has nobody to wait for: elect it at once.
	rc.HeartbeatTimeout = 100 * time.Millisecond
	rc.ElectionTimeout = 100 * time.Millisecond
	rc.LeaderLeaseTimeout = 100 * time.Millisecond

	addr, trans := raft.NewInmemTransport(raft.ServerAddress("standalone-" + cfg.ID))
	r.trans = trans
	has, err := raft.HasExistingState(r.store, r.store, snaps)
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if !has {
		boot := raft.Configuration{Servers: []raft.Server{{ID: rc.LocalID, Address: addr}}}
		if err := raft.BootstrapCluster(rc, r.store, r.store, snaps, trans, boot); err != nil {
			return fmt.Errorf("replication: bootstrap: %w", err)
		}
	}
	ra, err := raft.NewRaft(rc, f, r.store, r.store, snaps, trans)
	if err != nil {
		return fmt.Errorf("replication: start raft: %w", err)
	}
	r.raft = ra
	return nil
}

// catchUpWithSnapshot loads raft's newest snapshot into the store when the
// store is behind it. Raft starts applying after the snapshot's index, so a
// store that lost its unsynced tail below that index must be refilled first.
func (r *Replica) catchUpWithSnapshot(snaps raft.SnapshotStore) error {
	list, err := snaps.List()
	if err != nil || len(list) == 0 {
		return err
	}
	meta := list[0]
	if meta.Index <= r.fsm.applied {
		return nil
	}
	r.log.Warn("store is behind raft's snapshot; restoring it", "store", r.fsm.applied, "snapshot", meta.Index)
	_, rc, err := snaps.Open(meta.ID)
	if err != nil {
		return fmt.Errorf("replication: open snapshot %s: %w", meta.ID, err)
	}
	return r.fsm.Restore(rc)
}

// WaitReady blocks until this replica knows a leader and has applied
// everything committed before it started serving.
func (r *Replica) WaitReady(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if r.raft.State() == raft.Leader {
			return r.Sync(ctx)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replication: waiting for a leader: %w", ctx.Err())
		case <-r.stop:
			return ErrClosed
		case <-t.C:
		}
	}
}

// Propose replicates one operation on behalf of a session and returns the
// result of applying it. The leader stamps the time: the tree never reads a
// clock, so every replica computes the same ctime and mtime.
func (r *Replica) Propose(ctx context.Context, session int64, id tree.Identity, op tree.Op) (tree.Result, error) {
	data, err := EncodeCommand(Command{Time: time.Now().UnixMilli(), Session: session, Identity: id, Op: op})
	if err != nil {
		return tree.Result{}, err
	}
	fut := r.raft.Apply(data, timeoutOf(ctx))
	done := make(chan struct{})
	go func() {
		fut.Error()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		return tree.Result{}, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
	}
	if err := fut.Error(); err != nil {
		return tree.Result{}, raftError(err)
	}
	res, ok := fut.Response().(applyResult)
	if !ok {
		return tree.Result{}, fmt.Errorf("replication: entry %d was not applied as a command", fut.Index())
	}
	return res.result, nil
}

// Sync returns once this replica has applied every write that was committed
// when Sync was called.
func (r *Replica) Sync(ctx context.Context) error {
	fut := r.raft.Barrier(timeoutOf(ctx))
	if err := fut.Error(); err != nil {
		return raftError(err)
	}
	return nil
}

// Read runs fn with the tree under a read lock. fn must not keep the tree
// or call back into the replica.
func (r *Replica) Read(fn func(t *tree.Tree)) {
	r.fsm.mu.RLock()
	defer r.fsm.mu.RUnlock()
	fn(r.fsm.tree)
}

// Listen registers a listener for applied batches; see Listener.
func (r *Replica) Listen(l Listener) {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	r.fsm.listeners = append(r.fsm.listeners, l)
}

// AppliedIndex returns the last applied Raft index.
func (r *Replica) AppliedIndex() uint64 {
	r.fsm.mu.RLock()
	defer r.fsm.mu.RUnlock()
	return r.fsm.applied
}

// IsLeader reports whether this replica is the Raft leader.
func (r *Replica) IsLeader() bool { return r.raft.State() == raft.Leader }

// Snapshot takes a Raft snapshot now and compacts the log behind it.
func (r *Replica) Snapshot() error {
	return r.raft.Snapshot().Error()
}

// Close stops Raft and closes the store. Writes in flight fail.
func (r *Replica) Close() error {
	close(r.stop)
	r.wg.Wait()
	err := r.raft.Shutdown().Error()
	if cerr := r.store.Close(); err == nil {
		err = cerr
	}
	return err
}

// reapLoop deletes empty containers and expired TTL nodes. Only the leader
// proposes; the tree re-checks each candidate when the Reap is applied.
func (r *Replica) reapLoop() {
	defer r.wg.Done()
	t := time.NewTicker(r.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
		}
		if !r.IsLeader() {
			continue
		}
		var paths []string
		now := time.Now().UnixMilli()
		r.Read(func(t *tree.Tree) { paths = t.Reapable(now) })
		for _, p := range paths {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			_, err := r.Propose(ctx, 0, tree.Identity{Super: true}, tree.Reap{Path: p})
			cancel()
			if err != nil {
				r.log.Warn("reap failed", "path", p, "err", err)
				break
			}
		}
	}
}

func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 0
}

func raftError(err error) error {
	switch {
	case errors.Is(err, raft.ErrNotLeader):
		return fmt.Errorf("%w: %v", ErrNotLeader, err)
	case errors.Is(err, raft.ErrLeadershipLost), errors.Is(err, raft.ErrEnqueueTimeout):
		// The entry may still commit under the next leader.
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	case errors.Is(err, raft.ErrRaftShutdown):
		return ErrClosed
	}
	return fmt.Errorf("replication: %w", err)
}
