package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"zkfs/storage"
	"zkfs/tree"
)

// Errors of the write path.
var (
	// ErrNotLeader reports a write proposed to a replica that is not the
	// leader and cannot forward it; the write was not applied.
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
	// LogDir, when set, holds Raft's log in a Pebble store of its own
	// (ZooKeeper's dataLogDir), so that log appends, which are synced on
	// every write, can have a disk to themselves.
	LogDir string
	// ID is the replica's server id (ZooKeeper's myid); "1" if empty.
	ID string
	// Peers lists the ensemble, this replica included. Empty means a
	// standalone replica: a single voter with no network transport.
	Peers []Peer
	// TLS, when set, secures all traffic between replicas.
	TLS *PeerTLS
	// Join marks a replica that is being added to a running ensemble: it
	// must not bootstrap a cluster of its own, and waits until a member's
	// Reconfig adds it.
	Join bool
	// TickTime is ZooKeeper's basic time unit; Raft's timeouts derive
	// from it (see raftTimings). 0 means 2 s, ZooKeeper's default.
	TickTime time.Duration
	// WriteTimeout bounds a write's wait for the log; 0 means 10 s.
	WriteTimeout time.Duration
	// Tree holds the tree's limits.
	Tree tree.Config
	// SnapshotThreshold is the number of log entries between snapshots
	// (ZooKeeper's snapCount); 0 means 100,000.
	SnapshotThreshold uint64
	// SnapshotRetain is how many snapshots are kept on disk (ZooKeeper's
	// autopurge.snapRetainCount); 0 means 3.
	SnapshotRetain int
	// TrailingLogs is how many entries a compaction keeps behind a
	// snapshot, so that a slightly lagging follower needs no snapshot;
	// 0 means 10,240.
	TrailingLogs uint64
	// ReapInterval is how often the leader looks for empty containers and
	// expired TTL nodes (ZooKeeper's znode.container.checkIntervalMs);
	// 0 means one minute.
	ReapInterval time.Duration
	// SessionTick is how often the leader looks for expired sessions and
	// followers report session activity; 0 means 100 ms.
	SessionTick time.Duration
	// Logger receives the replica's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Replica is one zkfs server's replicated state: the Raft node, the tree it
// applies to and the store that keeps both. It is the facade over the
// write path's stages, each a type of its own that Open builds with what it
// uses (docs/write-path.md names which goroutine owns each step).
type Replica struct {
	cfg   Config
	log   *slog.Logger
	store *storage.Store // the tree, and the Raft log unless LogDir is set
	logs  *storage.Store // Raft's log and stable store
	// raftLogs is the log as raft reads it, through its cache; counted
	// counts its synced appends (logstats.go).
	raftLogs raft.LogStore
	counted  *countingLogs
	fsm      *fsm
	raft     *raft.Raft
	// writes is the write path's entry (pipeline.go); reads serves Sync
	// and read-your-writes (reads.go).
	writes *submitter
	reads  *readIndex
	// watches routes every applied batch to the watches of the client
	// port and of the mount (watches.go).
	watches *Watches
	// fences are waited on before a write is acknowledged (fence.go).
	fences fences
	trans  raft.Transport

	// sessions owns session ids, activity, expiry and owners
	// (sessions.go, owners.go).
	sessions *sessions

	// Ensemble plumbing; unused by a standalone replica. peerSrv serves
	// the followers' streams while this replica leads; link is this
	// replica's own stream to the leader while it follows.
	peerSrv *peerServer
	link    *leaderLink
	fwd     *forwarder
	// members is the peer table and its changes (membership.go).
	members *membership

	// readOnly decides read-only mode (readonly.go).
	readOnly *readOnlyMode

	stop chan struct{}
	wg   sync.WaitGroup
}

// Open opens (or creates) the data directory and starts Raft. With no
// existing state it bootstraps the cluster: a single voter when standalone,
// or the configured peers, which every member bootstraps identically so
// that they may start in any order.
func Open(cfg Config) (*Replica, error) {
	if cfg.ID == "" {
		cfg.ID = "1"
	}
	if cfg.TickTime == 0 {
		cfg.TickTime = 2 * time.Second
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 10 * time.Second
	}
	if cfg.SnapshotThreshold == 0 {
		cfg.SnapshotThreshold = 100_000
	}
	if cfg.SnapshotRetain == 0 {
		cfg.SnapshotRetain = 3
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
	r := &Replica{cfg: cfg, log: log, stop: make(chan struct{}), readOnly: newReadOnlyMode(cfg.TickTime)}
	r.members = &membership{static: cfg.Peers, log: log, writeTimeout: cfg.WriteTimeout,
		propose: r.Propose, read: r.Read, stop: r.stop, wg: &r.wg, peers: make(map[string]Peer)}
	r.sessions = newSessions(cfg, r.IsLeader, r.Propose, r.Read, r.stop, &r.wg)
	for _, p := range cfg.Peers {
		r.members.peers[p.ID] = p
	}
	if !r.standalone() {
		if _, ok := r.members.peer(cfg.ID); !ok {
			return nil, fmt.Errorf("replication: server id %s is not among the configured servers", cfg.ID)
		}
	}
	store, err := storage.Open(filepath.Join(cfg.DataDir, "pebble"), storage.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return nil, err
	}
	r.store, r.logs = store, store
	if cfg.LogDir != "" {
		if r.logs, err = openLogStore(cfg.LogDir, store, log); err != nil {
			store.Close()
			return nil, err
		}
	}
	if err := r.start(); err != nil {
		r.shutdownTransport()
		r.closeStores()
		return nil, err
	}
	r.wg.Add(2)
	go r.reapLoop()
	go r.sessions.expireLoop(cfg.SessionTick)
	if !r.standalone() {
		r.wg.Add(4)
		go r.fsm.retryAhead(r.raftLogs, r.stop, &r.wg)
		go r.fwd.run()
		go r.sessions.touchLoop(cfg.SessionTick)
		go r.link.follow()
		startCommitNotices(r.Listen, r.IsLeader, r.raftLogs, r.peerSrv, r.stop, &r.wg)
		r.members.watch(r.Listen)
		r.members.publishOnLeadership()
	}
	return r, nil
}

func (r *Replica) standalone() bool { return len(r.cfg.Peers) == 0 }

// raftTimings derives Raft's timeouts from tickTime, as ZooKeeper derives
// its own from it. A follower that hears nothing from the leader for a
// quarter tick (at least 500 ms, raft waits up to twice that) starts an
// election, and a leader that cannot reach a quorum for a quarter tick
// steps down. With the default 2 s tick a dead leader is replaced within
// about a second: a ZooKeeper follower sees its leader's socket close at
// once, and raft has no such signal, only the silence. The floor keeps a
// loaded machine's pauses from starting needless elections at short
// ticks. A standalone replica has nobody to wait for.
func raftTimings(rc *raft.Config, tick time.Duration, standalone bool) {
	if standalone {
		rc.HeartbeatTimeout = 100 * time.Millisecond
		rc.ElectionTimeout = 100 * time.Millisecond
		rc.LeaderLeaseTimeout = 100 * time.Millisecond
		return
	}
	rc.HeartbeatTimeout = max(tick/4, 500*time.Millisecond)
	rc.ElectionTimeout = rc.HeartbeatTimeout
	rc.LeaderLeaseTimeout = tick / 4
	// Followers learn the commit index with the next AppendEntries; an
	// idle leader sends one every CommitTimeout. Commit notices
	// (commit.go) usually tell them sooner; this is the fallback.
	rc.CommitTimeout = 5 * time.Millisecond
}

// logCacheSize is how many of the newest Raft log entries stay in memory,
// a few batches' worth for each follower.
const logCacheSize = 512

func (r *Replica) start() error {
	cfg := r.cfg
	hlog := newRaftLogger(r.log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, cfg.SnapshotRetain, hlog)
	if err != nil {
		return fmt.Errorf("replication: snapshot store: %w", err)
	}
	f, err := newFSM(r.log, r.store, cfg.Tree)
	if err != nil {
		return err
	}
	r.fsm = f
	r.watches = &Watches{}
	f.listeners = append(f.listeners, r.watches.Apply)
	if err := r.catchUpWithSnapshot(snaps); err != nil {
		return err
	}

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.Logger = hlog
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.TrailingLogs = cfg.TrailingLogs
	// Raft looks at the threshold only this often; ZooKeeper snapshots as
	// soon as snapCount is reached, so look often (the check is cheap).
	rc.SnapshotInterval = 5 * time.Second
	rc.BatchApplyCh = true
	// The store already holds the tree as of its last applied index, so
	// loading raft's snapshot at start would only repeat that work.
	rc.NoSnapshotRestoreOnStart = true
	raftTimings(rc, cfg.TickTime, r.standalone())

	boot := bootConfiguration(cfg)
	if r.standalone() {
		_, r.trans = raft.NewInmemTransport(standaloneAddr(cfg.ID))
	} else {
		self, _ := r.members.peer(cfg.ID)
		adv, err := net.ResolveTCPAddr("tcp", self.RaftAddr)
		if err != nil {
			return fmt.Errorf("replication: peer address %s: %w", self.RaftAddr, err)
		}
		ln, err := listenPeer(cfg.TLS, self.RaftAddr)
		if err != nil {
			return fmt.Errorf("replication: raft transport on %s: %w", self.RaftAddr, err)
		}
		var stream raft.StreamLayer = &tcpStreamLayer{Listener: ln, advertise: adv}
		if cfg.TLS != nil {
			stream = &tlsStreamLayer{Listener: ln, advertise: adv, client: cfg.TLS.Client}
		}
		r.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
			ServerAddressProvider: raftAddrs{r.members},
			Logger:                hlog,
			Stream:                stream,
			MaxPool:               3,
			Timeout:               10 * time.Second,
		})
		if r.peerSrv, err = listenPeers(cfg.TLS, self.RPCAddr, cfg.ID, r.log); err != nil {
			r.trans.(raft.WithClose).Close()
			return err
		}
	}
	has, err := raft.HasExistingState(r.logs, r.logs, snaps)
	if err != nil {
		return fmt.Errorf("replication: %w", err)
	}
	if !has && !cfg.Join {
		if err := raft.BootstrapCluster(rc, r.logs, r.logs, snaps, r.trans, boot); err != nil {
			return fmt.Errorf("replication: bootstrap: %w", err)
		}
	}
	// Replication to each follower and every replica's apply loop read
	// back the entries just appended; keeping the newest in memory takes
	// those reads off Pebble (6% of a leader's CPU under writes).
	r.counted = &countingLogs{LogStore: r.logs, stored: f.logStored}
	logs, err := raft.NewLogCache(logCacheSize, r.counted)
	if err != nil {
		return err
	}
	r.raftLogs = logs
	r.reads = &readIndex{fsm: f, logs: logs, stop: r.stop}
	ra, err := raft.NewRaft(rc, f, logs, r.logs, snaps, r.trans)
	if err != nil {
		return fmt.Errorf("replication: start raft: %w", err)
	}
	r.raft = ra
	r.members.raft = ra
	if r.peerSrv != nil {
		// The link and the forwarder are made here and started by Open.
		r.link = &leaderLink{self: cfg.ID, raft: ra, tls: cfg.TLS, stall: cfg.WriteTimeout,
			members: r.members, readOnly: r.readOnly, readOnlyNow: r.ReadOnly, sessions: r.sessions,
			streams: r.peerSrv, fsm: f, logs: logs, log: r.log, stop: r.stop, replicaWG: &r.wg,
			changed: make(chan struct{})}
		r.sessions.link = r.link
		r.fwd = &forwarder{queue: make(chan *pendingForward, 4096), link: r.link, readOnly: r.ReadOnly,
			writeTimeout: cfg.WriteTimeout, stop: r.stop, wg: &r.wg}
	}
	r.writes = &submitter{standalone: r.standalone(), isLeader: r.IsLeader, readOnly: r.ReadOnly,
		owners: &r.sessions.owners, raft: ra, fwd: r.fwd, reads: r.reads, writeTimeout: cfg.WriteTimeout, stop: r.stop}
	if r.peerSrv != nil {
		// Peers forward writes and ask for read indexes as soon as the
		// port answers; before Raft exists that was a nil dereference.
		r.peerSrv.serve(leaderSide{raft: ra, isLeader: r.IsLeader, submit: r.writes.local,
			sessions: r.sessions, reads: r.reads, members: r.members})
	}
	return nil
}

func (r *Replica) shutdownTransport() {
	if r.peerSrv != nil {
		r.peerSrv.close()
	}
	if c, ok := r.trans.(raft.WithClose); ok {
		c.Close()
	}
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
	_, err := r.waitServable(ctx, false)
	return err
}

// WaitServing blocks until this replica may serve clients: as WaitReady,
// or else once it is in read-only mode. A ZooKeeper server that starts
// while no quorum can be formed serves read-only clients from what it
// loaded after the same grace, so a replica restarted during a partition
// serves them too. A replica that is not yet a member (started with Join
// and not added) has nothing of the ensemble's to serve and waits.
// readOnly tells which of the two happened.
func (r *Replica) WaitServing(ctx context.Context) (readOnly bool, err error) {
	return r.waitServable(ctx, true)
}

// isMember reports whether raft's configuration lists this replica.
func (r *Replica) isMember() bool {
	f := r.raft.GetConfiguration()
	if f.Error() != nil {
		return false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == r.cfg.ID {
			return true
		}
	}
	return false
}

func (r *Replica) waitServable(ctx context.Context, orReadOnly bool) (readOnly bool, err error) {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		if _, id := r.raft.LeaderWithID(); id != "" {
			if err := r.Sync(ctx); err == nil || ctx.Err() != nil {
				return false, err
			}
		}
		if orReadOnly && r.ReadOnly() && r.isMember() {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("replication: waiting for a leader: %w", ctx.Err())
		case <-r.stop:
			return false, ErrClosed
		case <-t.C:
		}
	}
}

// Sync returns once this replica has applied every write that was committed
// when Sync was called, so that a read after it is linearizable. It is a
// ReadIndex, with no log entry: the leader notes its last log index, confirms
// with a round of heartbeats that a quorum still follows it, and this replica
// waits until it has applied up to that index (reads.go). Like ZooKeeper's
// sync, it also waits for the writes the leader had in flight.
func (r *Replica) Sync(ctx context.Context) error {
	var idx uint64
	var err error
	if r.IsLeader() || r.standalone() {
		idx, err = r.reads.atLeader(r.raft.LastIndex(), r.raft.VerifyLeader())
	} else {
		idx, err = r.reads.fromLeader(ctx, r.link)
	}
	if err != nil {
		return err
	}
	return r.reads.wait(ctx, idx)
}

// Read runs fn with the tree under a read lock. fn must not keep the tree
// or call back into the replica.
func (r *Replica) Read(fn func(t *tree.Tree)) {
	r.fsm.mu.RLock()
	defer r.fsm.mu.RUnlock()
	fn(r.fsm.tree)
}

// Watches returns the replica's watch fan-out, which the client port and
// the mount register their watches with.
func (r *Replica) Watches() *Watches { return r.watches }

// Listen registers a listener for applied batches; see Listener. The
// replica's Watches hear each batch before any listener.
func (r *Replica) Listen(l Listener) {
	r.fsm.mu.Lock()
	defer r.fsm.mu.Unlock()
	r.fsm.listeners = append(r.fsm.listeners, l)
}

// AppliedIndex returns the last applied Raft index.
func (r *Replica) AppliedIndex() uint64 { return r.fsm.appliedIndex() }

// IsLeader reports whether this replica is the Raft leader.
func (r *Replica) IsLeader() bool { return r.raft.State() == raft.Leader }

// Mode returns the replica's role in ZooKeeper's words, as srvr and mntr
// report it: standalone, leader, follower, observer or read-only.
func (r *Replica) Mode() string {
	switch {
	case r.standalone():
		return "standalone"
	case r.IsLeader():
		return "leader"
	case r.ReadOnly():
		return "read-only"
	}
	if p, ok := r.members.peer(r.cfg.ID); ok && p.Observer {
		return "observer"
	}
	return "follower"
}

// HasQuorum reports whether this replica takes writes: it is not in
// read-only mode (readonly.go). During an election it still does; the
// writes wait for the new leader.
func (r *Replica) HasQuorum() bool {
	return !r.ReadOnly()
}

// Snapshot takes a Raft snapshot now and compacts the log behind it.
func (r *Replica) Snapshot() error {
	return r.raft.Snapshot().Error()
}

// Close stops Raft and closes the store. Writes in flight fail.
func (r *Replica) Close() error {
	close(r.stop)
	r.wg.Wait()
	r.fsm.stopApplyAhead()
	err := r.raft.Shutdown().Error()
	if r.link != nil {
		r.link.close()
	}
	r.shutdownTransport()
	if cerr := r.closeStores(); err == nil {
		err = cerr
	}
	return err
}

func (r *Replica) closeStores() error {
	err := r.store.Close()
	if r.logs != r.store {
		if lerr := r.logs.Close(); err == nil {
			err = lerr
		}
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
			ctx, cancel := context.WithTimeout(context.Background(), r.cfg.WriteTimeout)
			_, err := r.Propose(ctx, 0, tree.Identity{Super: true}, tree.Reap{Path: p})
			cancel()
			if err != nil {
				r.log.Warn("reap failed", "path", p, "err", err)
				break
			}
		}
	}
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
