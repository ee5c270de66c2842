package replication

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// ConfigPath is the znode where ZooKeeper publishes the ensemble's
// configuration.
const ConfigPath = "/zookeeper/config"

// ErrBadReconfig reports a membership change that cannot be made.
var ErrBadReconfig = errors.New("replication: bad reconfiguration")

// Peers returns the ensemble's members as this replica knows them, ordered
// by id.
func (r *Replica) Peers() []Peer {
	r.peersMu.Lock()
	defer r.peersMu.Unlock()
	out := make([]Peer, 0, len(r.peers))
	for _, p := range r.peers {
		out = append(out, p)
	}
	sortPeers(out)
	return out
}

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
	return r.reconfigLocal(ctx, add, remove)
}

func (r *Replica) reconfigLocal(ctx context.Context, add []Peer, remove []string) error {
	timeout := r.cfg.WriteTimeout
	for _, id := range remove {
		if _, ok := r.peer(id); !ok {
			return fmt.Errorf("%w: server %s is not a member", ErrBadReconfig, id)
		}
	}
	for _, p := range add {
		if _, ok := r.peer(p.ID); ok {
			return fmt.Errorf("%w: server %s is already a member", ErrBadReconfig, p.ID)
		}
		var f raft.IndexFuture
		if p.Observer {
			f = r.raft.AddNonvoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, timeout)
		} else {
			f = r.raft.AddVoter(raft.ServerID(p.ID), raft.ServerAddress(p.RaftAddr), 0, timeout)
		}
		if err := f.Error(); err != nil {
			return raftError(err)
		}
		r.setPeer(p)
	}
	for _, id := range remove {
		if err := r.raft.RemoveServer(raft.ServerID(id), 0, timeout).Error(); err != nil {
			return raftError(err)
		}
		r.peersMu.Lock()
		delete(r.peers, id)
		r.peersMu.Unlock()
	}
	return r.publishConfig(ctx)
}

// publishConfig writes the membership to /zookeeper/config, where clients
// read it and where other replicas learn the peers' RPC and client
// addresses.
func (r *Replica) publishConfig(ctx context.Context) error {
	peers := r.Peers()
	want := ConfigText(peers, int64(r.raft.LastIndex()))
	res, err := r.Propose(ctx, 0, tree.Identity{Super: true}, tree.SetData{Path: ConfigPath, Data: []byte(want), Version: -1})
	if err != nil {
		return err
	}
	return res.Err
}

func (r *Replica) setPeer(p Peer) {
	r.peersMu.Lock()
	r.peers[p.ID] = p
	r.peersMu.Unlock()
}

// watchConfig keeps the peer table in step with /zookeeper/config, so that
// members added at runtime are reachable from every replica.
func (r *Replica) watchConfig() {
	changed := make(chan struct{}, 1)
	r.Listen(func(a Applied) {
		hit := a.Reset
		for _, e := range a.Events {
			hit = hit || e.Path == ConfigPath
		}
		if hit {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		r.loadConfig()
		for {
			select {
			case <-r.stop:
				return
			case <-changed:
				r.loadConfig()
			}
		}
	}()
}

func (r *Replica) loadConfig() {
	var data []byte
	r.Read(func(t *tree.Tree) { data, _, _ = t.Get(ConfigPath) })
	if len(data) == 0 {
		return
	}
	peers, err := ParseConfigText(string(data))
	if err != nil {
		r.log.Warn("ignoring an unreadable /zookeeper/config", "err", err)
		return
	}
	r.peersMu.Lock()
	defer r.peersMu.Unlock()
	r.peers = make(map[string]Peer, len(peers))
	for _, p := range peers {
		r.peers[p.ID] = r.withLocalAddrs(p)
	}
}

// publishOnLeadership makes each new leader publish the membership when
// /zookeeper/config does not hold it yet (a freshly bootstrapped ensemble).
func (r *Replica) publishOnLeadership() {
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		ch := r.raft.LeaderCh()
		for {
			select {
			case <-r.stop:
				return
			case leader := <-ch:
				if !leader {
					continue
				}
				var data []byte
				r.Read(func(t *tree.Tree) { data, _, _ = t.Get(ConfigPath) })
				if len(data) > 0 {
					continue
				}
				ctx, cancel := context.WithTimeout(context.Background(), r.cfg.WriteTimeout)
				if err := r.publishConfig(ctx); err != nil {
					r.log.Warn("publishing the configuration failed", "err", err)
				}
				cancel()
			}
		}
	}()
}
