package zkserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// reconfig serves ZooKeeper's reconfig request: incremental (joining and
// leaving servers) or a whole new membership. As in ZooKeeper, only a
// caller with ADMIN on /zookeeper/config may change the membership, which
// by default means the superuser; the reply is the new configuration and
// its stat.
func (c *conn) reconfig(s *slot, r *wire.ReconfigRequest) readState {
	s.block = func() error {
		if c.srv.rep.Mode() == "standalone" || c.srv.cfg.ReconfigDisabled {
			return wire.ErrReconfigDisabled
		}
		// ZooKeeper's order: the request's arguments, then the
		// configuration version it names, then the caller's rights.
		add, remove, err := reconfigChanges(c.srv.rep.Peers(), r)
		if err != nil {
			c.log.Info("reconfig refused", "err", err)
			return tree.ErrBadArguments
		}
		var perm error
		var current []byte
		c.srv.rep.Read(func(t *tree.Tree) {
			perm = t.CheckPerm(replication.ConfigPath, tree.PermAdmin, c.ident())
			current, _, _ = t.Get(replication.ConfigPath)
		})
		if r.CurConfigID != -1 && r.CurConfigID != configVersion(current) {
			return tree.ErrBadVersion
		}
		if perm != nil {
			return perm
		}
		ctx, cancel := context.WithTimeout(c.ctx, reconfigWait)
		defer cancel()
		err = c.srv.rep.Reconfig(ctx, add, remove)
		switch {
		case errors.Is(err, replication.ErrBadReconfig):
			c.log.Info("reconfig refused", "err", err)
			return tree.ErrBadArguments
		case errors.Is(err, replication.ErrTimeout), errors.Is(err, replication.ErrNotLeader):
			// The new members did not catch up in time; ZooKeeper
			// reports that as NewConfigNoQuorum, not as a lost
			// connection.
			c.log.Warn("reconfig did not complete", "err", err)
			return wire.ErrNewConfigNoQuorum
		}
		return err
	}
	s.run = func(t *tree.Tree) (wire.Record, error) {
		data, st, err := t.Get(replication.ConfigPath)
		if err != nil {
			return nil, err
		}
		return &wire.GetDataResponse{Data: data, Stat: st}, nil
	}
	return c.ordered(s, readOn)
}

// reconfigWait bounds a membership change: a joining server must catch up
// with the leader before Raft commits its addition.
const reconfigWait = 60 * time.Second

// configVersion reads the `version=` line of /zookeeper/config (hex, as
// ZooKeeper writes it); -2 when there is none, which no request matches.
func configVersion(data []byte) int64 {
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "version="); ok {
			if n, err := strconv.ParseInt(v, 16, 64); err == nil {
				return n
			}
		}
	}
	return -2
}

// reconfigChanges turns a request into members to add and ids to remove.
// Incremental requests list joining servers as `server.N=...` specs and
// leaving servers as ids, each comma-separated; a non-incremental request
// gives the whole new membership.
func reconfigChanges(current []replication.Peer, r *wire.ReconfigRequest) ([]replication.Peer, []string, error) {
	if r.NewMembers != "" {
		if r.JoiningServers != "" || r.LeavingServers != "" {
			return nil, nil, fmt.Errorf("new members cannot be combined with joining or leaving servers")
		}
		want, err := parseSpecs(r.NewMembers)
		if err != nil {
			return nil, nil, err
		}
		have := map[string]replication.Peer{}
		for _, p := range current {
			have[p.ID] = p
		}
		var add []replication.Peer
		var remove []string
		keep := map[string]bool{}
		for _, p := range want {
			keep[p.ID] = true
			if old, ok := have[p.ID]; !ok {
				add = append(add, p)
			} else if old.RaftAddr != p.RaftAddr || old.Observer != p.Observer {
				return nil, nil, fmt.Errorf("server %s: changing a member's address or role is not supported; remove it, then add it", p.ID)
			}
		}
		for _, p := range current {
			if !keep[p.ID] {
				remove = append(remove, p.ID)
			}
		}
		return add, remove, nil
	}
	add, err := parseSpecs(r.JoiningServers)
	if err != nil {
		return nil, nil, err
	}
	var remove []string
	for _, id := range strings.Split(r.LeavingServers, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			continue
		}
		if n, err := strconv.Atoi(id); err != nil || n <= 0 {
			return nil, nil, fmt.Errorf("leaving server %q is not a server id", id)
		}
		remove = append(remove, strings.TrimLeft(id, "0"))
	}
	if len(add) == 0 && len(remove) == 0 {
		return nil, nil, fmt.Errorf("nothing to change")
	}
	return add, remove, nil
}

// parseSpecs parses comma-separated `server.N=host:port:port[:role][;client]`
// specs.
func parseSpecs(list string) ([]replication.Peer, error) {
	var out []replication.Peer
	for _, spec := range strings.Split(list, ",") {
		spec = strings.TrimSpace(spec)
		if spec == "" {
			continue
		}
		k, v, ok := strings.Cut(spec, "=")
		if !ok {
			return nil, fmt.Errorf("%q is not server.N=host:peerPort:electionPort", spec)
		}
		p, err := replication.ParseServer(strings.TrimSpace(k), strings.TrimSpace(v))
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
