package replication

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// ConfigPath is the znode where ZooKeeper publishes the ensemble's
// configuration.
const ConfigPath = "/zookeeper/config"

// ErrBadReconfig reports a membership change that cannot be made.
var ErrBadReconfig = errors.New("replication: bad reconfiguration")

// membership is this replica's view of the ensemble's members, and the
// changes to it: the peer table that the leader link and raft's transport
// dial from, kept in step with /zookeeper/config, and Reconfig on the
// leader. The table has its own lock because raft's transport, the leader
// link, the config watcher and client requests (Peers, mntr) all read it
// from their own goroutines; the watcher goroutine (watch) and a
// reconfiguration are the only writers.
type membership struct {
	// static is the replica's own configuration of its peers, whose
	// addresses win over the published ones (dialaddr.go).
	static       []Peer
	log          *slog.Logger
	writeTimeout time.Duration

	// raft changes the membership and tells a new leader. It is set by
	// start once raft exists: raft's transport resolves addresses through
	// this table, so the table comes first.
	raft    *raft.Raft
	propose proposeFunc
	read    func(func(*tree.Tree))
	// stop and wg are the replica's lifetime, which the ensemble's
	// goroutines share.
	stop <-chan struct{}
	wg   *sync.WaitGroup

	mu    sync.Mutex
	peers map[string]Peer
}

// all returns the members, ordered by id.
func (m *membership) all() []Peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Peer, 0, len(m.peers))
	for _, p := range m.peers {
		out = append(out, p)
	}
	sortPeers(out)
	return out
}

func (m *membership) peer(id string) (Peer, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.peers[id]
	return p, ok
}

func (m *membership) set(p Peer) {
	m.mu.Lock()
	m.peers[p.ID] = p
	m.mu.Unlock()
}

func (m *membership) remove(id string) {
	m.mu.Lock()
	delete(m.peers, id)
	m.mu.Unlock()
}

// reconfig changes the membership on the leader. Raft's configuration
// changes one server at a time; each change is committed before the next,
// and /zookeeper/config is rewritten after them. It runs on the caller's
// goroutine: a client's on the leader, or the goroutine a follower's
// stream starts for a forwarded reconfig.
func (m *membership) reconfig(ctx context.Context, add []Peer, remove []string) error {
	timeout := m.writeTimeout
	for _, id := range remove {
		if _, ok := m.peer(id); !ok {
			return fmt.Errorf("%w: server %s is not a member", ErrBadReconfig, id)
		}
	}
	for _, p := range add {
		if _, ok := m.peer(p.ID); ok {
			return fmt.Errorf("%w: server %s is already a member", ErrBadReconfig, p.ID)
		}
		var f raft.IndexFuture
		if p.Observer {
			f = m.raft.AddNonvoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, timeout)
		} else {
			f = m.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, timeout)
		}
		if err := f.Error(); err != nil {
			return raftError(err)
		}
		m.set(p)
	}
	for _, id := range remove {
		if err := m.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error(); err != nil {
			return raftError(err)
		}
		m.remove(id)
	}
	return m.publish(ctx)
}

// publish writes the membership to /zookeeper/config, where clients read
// it and where other replicas learn the peers' RPC and client addresses.
func (m *membership) publish(ctx context.Context) error {
	want := ConfigText(m.all(), int64(m.raft.LastIndex()))
	res, err := m.propose(ctx, 0, tree.Identity{Super: true}, tree.SetData{Path: ConfigPath, Data: []byte(want), Version: -1})
	if err != nil {
		return err
	}
	return res.Err
}

// watch keeps the peer table in step with /zookeeper/config, so that
// members added at runtime are reachable from every replica. Its listener,
// which the FSM calls under its apply lock, only wakes the watcher's
// goroutine; it is registered before the first load, so that no change
// falls between the two.
func (m *membership) watch(listen func(Listener)) {
	changed := make(chan struct{}, 1)
	listen(func(a Applied) {
		hit := a.Reset
		for _, ev := range a.Events {
			hit = hit || ev.Path == ConfigPath
		}
		if hit {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.load()
		for {
			select {
			case <-m.stop:
				return
			case <-changed:
				m.load()
			}
		}
	}()
}

// load replaces the peer table with what /zookeeper/config holds.
func (m *membership) load() {
	var data []byte
	m.read(func(t *tree.Tree) { data, _, _ = t.Get(ConfigPath) })
	if len(data) == 0 {
		return
	}
	peers, err := ParseConfigText(string(data))
	if err != nil {
		m.log.Warn("ignoring an unreadable /zookeeper/config", "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.peers = make(map[string]Peer, len(peers))
	for _, p := range peers {
		m.peers[p.ID] = m.withLocalAddrs(p)
	}
}

// publishOnLeadership makes each new leader publish the membership when
// /zookeeper/config does not hold it yet (a freshly bootstrapped
// ensemble), from a goroutine of its own that follows raft's leadership
// channel.
func (m *membership) publishOnLeadership() {
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ch := m.raft.LeaderCh()
		for {
			select {
			case <-m.stop:
				return
			case leader := <-ch:
				if !leader {
					continue
				}
				var data []byte
				m.read(func(t *tree.Tree) { data, _, _ = t.Get(ConfigPath) })
				if len(data) > 0 {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), m.writeTimeout)
				if err := m.publish(ctx); err != nil {
					m.log.Warn("publishing the configuration failed", "err", err)
				}
				cancel()
			}
		}
	}()
}

// Peers returns the ensemble's members as this replica knows them, ordered
// by id.
func (r *Replica) Peers() []Peer { return r.members.all() }

// Reconfig adds and removes members, as ZooKeeper's incremental reconfig
// does. Raft's configuration changes one server at a time; each change is
// committed before the next, and /zookeeper/config is rewritten after them.
// Any replica accepts it and forwards it to the leader.
func (r *Replica) Reconfig(ctx context.Context, add []Peer, remove []string) error {
	if r.standalone() {
		return fmt.Errorf("%w: a standalone replica has no ensemble to change", ErrBadReconfig)
	}
	if !r.IsLeader() {
		f, err := r.link.call(ctx, &peerFrame{typ: frameReconfig, add: add, remove: remove}, false)
		if err != nil {
			return err
		}
		if err := f.err(); err != nil {
			return err
		}
		return r.Sync(ctx)
	}
	return r.members.reconfig(ctx, add, remove)
}
