package zkserver

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// readOp fills in how a non-write request runs. Reads check ACLs here, as
// ZooKeeper's FinalRequestProcessor does; writes are checked by the tree.
// Watches are set under the same read lock as the read, so that no change
// can fall between what the client read and what its watch reports.
func (c *conn) readOp(s *slot, req wire.Request, id tree.Identity) {
	w := c.srv.watches
	switch r := req.(type) {
	case *wire.PingRequest:
		// The reply is the header alone, with the last zxid.
	case *wire.ExistsRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			// ZooKeeper sets the watch whether or not the node exists (it
			// then fires on creation); since 3.8.4 an existing node needs
			// READ, and a denied exists sets no watch.
			st, err := t.StatAs(r.Path, id)
			if r.Watch && !errors.Is(err, tree.ErrNoAuth) {
				w.add(c, r.Path, replication.DataWatches, replication.WatchOnce)
			}
			if err != nil {
				return nil, err
			}
			return &wire.ExistsResponse{Stat: st}, nil
		}
	case *wire.GetDataRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			if err := t.CheckPerm(r.Path, tree.PermRead, id); err != nil {
				return nil, err
			}
			data, st, err := t.Get(r.Path)
			if err != nil {
				return nil, err
			}
			if r.Watch {
				w.add(c, r.Path, replication.DataWatches, replication.WatchOnce)
			}
			return &wire.GetDataResponse{Data: data, Stat: st}, nil
		}
	case *wire.GetChildrenRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			kids, _, err := c.children(t, r.Path, r.Watch, id)
			if err != nil {
				return nil, err
			}
			return &wire.GetChildrenResponse{Children: kids}, nil
		}
	case *wire.GetChildren2Request:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			kids, st, err := c.children(t, r.Path, r.Watch, id)
			if err != nil {
				return nil, err
			}
			return &wire.GetChildren2Response{Children: kids, Stat: st}, nil
		}
	case *wire.GetACLRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			acl, st, err := t.GetACLAs(r.Path, id)
			if err != nil {
				return nil, err
			}
			return &wire.GetACLResponse{ACL: acl, Stat: st}, nil
		}
	case *wire.GetAllChildrenNumberRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			if err := t.CheckPerm(r.Path, tree.PermRead, id); err != nil {
				return nil, err
			}
			n, err := t.AllChildrenNumber(r.Path)
			if err != nil {
				return nil, err
			}
			return &wire.GetAllChildrenNumberResponse{TotalNumber: int32(n)}, nil
		}
	case *wire.GetEphemeralsRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			// No ACL check: a session only sees its own nodes.
			all := t.Ephemerals(c.session)
			prefix := r.PrefixPath
			if strings.TrimSpace(prefix) == "/" {
				prefix = ""
			}
			out := make([]string, 0, len(all))
			for _, p := range all {
				if strings.HasPrefix(p, prefix) {
					out = append(out, p)
				}
			}
			return &wire.GetEphemeralsResponse{Ephemerals: out}, nil
		}
	case *wire.MultiReadRequest:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			return c.multiRead(t, r, id), nil
		}
	case *wire.WhoAmIRequest:
		s.run = func(*tree.Tree) (wire.Record, error) {
			return &wire.WhoAmIResponse{ClientInfo: clientInfos(id)}, nil
		}
	case *wire.SyncRequest:
		s.block = func() error {
			ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
			defer cancel()
			return c.srv.rep.Sync(ctx)
		}
		s.run = func(*tree.Tree) (wire.Record, error) {
			return &wire.SyncResponse{Path: r.Path}, nil
		}
	case *wire.SetWatches:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			w.setWatches(c, t, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches, nil, nil)
			return nil, nil
		}
	case *wire.SetWatches2:
		s.run = func(t *tree.Tree) (wire.Record, error) {
			w.setWatches(c, t, r.RelativeZxid, r.DataWatches, r.ExistWatches, r.ChildWatches,
				r.PersistentWatches, r.PersistentRecursiveWatches)
			return nil, nil
		}
	case *wire.AddWatchRequest:
		s.run = func(*tree.Tree) (wire.Record, error) {
			mode := replication.WatchPersistent
			switch r.Mode {
			case wire.AddWatchPersistent:
			case wire.AddWatchPersistentRecursive:
				mode = replication.WatchRecursive
			default:
				// ZooKeeper fails to decode the mode: MarshallingError.
				return nil, fmt.Errorf("%w: addWatch mode %d", wire.ErrMalformed, r.Mode)
			}
			w.add(c, r.Path, replication.DataWatches, mode)
			w.add(c, r.Path, replication.ChildWatches, mode)
			return &wire.ErrorResponse{Err: tree.CodeOK}, nil
		}
	case *wire.CheckWatchesRequest:
		s.run = func(*tree.Tree) (wire.Record, error) {
			if !validWatcherType(r.Type) {
				return nil, fmt.Errorf("%w: watcher type %d", wire.ErrMalformed, r.Type)
			}
			if !w.contains(c, r.Path, r.Type) {
				return nil, wire.ErrNoWatcher
			}
			return nil, nil
		}
	case *wire.RemoveWatchesRequest:
		s.run = func(*tree.Tree) (wire.Record, error) {
			if !validWatcherType(r.Type) {
				return nil, fmt.Errorf("%w: watcher type %d", wire.ErrMalformed, r.Type)
			}
			if !w.remove(c, r.Path, r.Type) {
				return nil, wire.ErrNoWatcher
			}
			return nil, nil
		}
	default:
		s.err = wire.ErrUnknownOpcode
	}
}

// children serves getChildren and getChildren2: READ on the node, and the
// watch only once the read succeeded.
func (c *conn) children(t *tree.Tree, path string, watch bool, id tree.Identity) ([]string, tree.Stat, error) {
	if err := t.CheckPerm(path, tree.PermRead, id); err != nil {
		return nil, tree.Stat{}, err
	}
	kids, st, err := t.Children(path)
	if err != nil {
		return nil, tree.Stat{}, err
	}
	if watch {
		c.srv.watches.add(c, path, replication.ChildWatches, replication.WatchOnce)
	}
	return kids, st, nil
}

// multiRead answers each read on its own; a failed one is an error result
// and the others still run.
func (c *conn) multiRead(t *tree.Tree, r *wire.MultiReadRequest, id tree.Identity) *wire.MultiResponse {
	out := make([]wire.MultiResult, len(r.Ops))
	for i, m := range r.Ops {
		switch q := m.Req.(type) {
		case *wire.GetDataRequest:
			err := t.CheckPerm(q.Path, tree.PermRead, id)
			var data []byte
			var st tree.Stat
			if err == nil {
				data, st, err = t.Get(q.Path)
			}
			if err != nil {
				out[i] = wire.MultiResult{Op: wire.OpError, Err: codeOf(err)}
				continue
			}
			out[i] = wire.MultiResult{Op: wire.OpGetData, Data: data, Stat: st}
		case *wire.GetChildrenRequest:
			kids, _, err := c.children(t, q.Path, false, id)
			if err != nil {
				out[i] = wire.MultiResult{Op: wire.OpError, Err: codeOf(err)}
				continue
			}
			out[i] = wire.MultiResult{Op: wire.OpGetChildren, Children: kids}
		default:
			out[i] = wire.MultiResult{Op: wire.OpError, Err: codeOf(wire.ErrUnknownOpcode)}
		}
	}
	return &wire.MultiResponse{Results: out}
}

func validWatcherType(t wire.WatcherType) bool {
	return t == wire.WatcherChildren || t == wire.WatcherData || t == wire.WatcherAny
}
