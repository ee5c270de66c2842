package zkserver

import (
	"fmt"
	"sort"
	"strings"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// The client port's watches live in the replica's one watch fan-out
// (replication.Watches), beside the mount's @watch files: it decides which
// change fires which watch, a snapshot restore included. A connection is
// a replication.Watcher; what is left here is the wire's side: the
// requests that set, check and remove watches, setWatches after a
// reconnection, and the four-letter reports, which count the client port's
// watches alone.

// WatchEvent queues an event for the connection, ordered by its zxid
// among the replies (outqueue.go).
func (c *conn) WatchEvent(ev tree.Event) {
	c.out.pushEvent(ev.Zxid, eventFrame(wire.EventType(ev.Type), ev.Path))
}

// WatchIdentity is the connection's identity, as it authenticated.
func (c *conn) WatchIdentity() tree.Identity { return c.ident() }

// WatchClosed reports that the connection is closing: its watches are
// removed then, and no new one may be added.
func (c *conn) WatchClosed() bool { return c.closed.Load() }

// watchRegistry is the server's view of the replica's watches.
type watchRegistry struct {
	ws *replication.Watches
}

func newWatchRegistry(ws *replication.Watches) *watchRegistry {
	return &watchRegistry{ws: ws}
}

// add registers a watch, unless the connection is already closed (its
// watches would then never be removed).
func (r *watchRegistry) add(c *conn, path string, k replication.WatchTable, m replication.WatchMode) {
	r.ws.Add(c, path, k, m)
}

func (r *watchRegistry) removeConn(c *conn) {
	r.ws.RemoveAll(c)
}

// contains answers checkWatches.
func (r *watchRegistry) contains(c *conn, path string, typ wire.WatcherType) bool {
	switch typ {
	case wire.WatcherChildren:
		return r.ws.Has(c, path, replication.ChildWatches)
	case wire.WatcherData:
		return r.ws.Has(c, path, replication.DataWatches)
	case wire.WatcherAny:
		return r.ws.Has(c, path, replication.ChildWatches) || r.ws.Has(c, path, replication.DataWatches)
	}
	return false
}

// remove answers removeWatches: every mode of the selected watches goes.
func (r *watchRegistry) remove(c *conn, path string, typ wire.WatcherType) bool {
	removed := false
	if typ == wire.WatcherChildren || typ == wire.WatcherAny {
		removed = r.ws.Remove(c, path, replication.ChildWatches) || removed
	}
	if typ == wire.WatcherData || typ == wire.WatcherAny {
		removed = r.ws.Remove(c, path, replication.DataWatches) || removed
	}
	return removed
}

// setWatches re-registers the watches of a reconnecting client and fires
// at once those whose node changed after relativeZxid, the last zxid the
// client saw, as ZooKeeper's DataTree.setWatches does. It runs under the
// tree's read lock.
func (r *watchRegistry) setWatches(c *conn, t *tree.Tree, relativeZxid int64, data, exist, child, persistent, recursive []string) {
	if c.closed.Load() {
		return
	}
	const once = replication.WatchOnce
	var fire [][]byte
	for _, p := range data {
		st, err := t.Stat(p)
		switch {
		case err != nil:
			fire = append(fire, eventFrame(wire.EventNodeDeleted, p))
		case st.Mzxid > relativeZxid:
			fire = append(fire, eventFrame(wire.EventNodeDataChanged, p))
		default:
			r.add(c, p, replication.DataWatches, once)
		}
	}
	for _, p := range exist {
		if t.Exists(p) {
			fire = append(fire, eventFrame(wire.EventNodeCreated, p))
		} else {
			r.add(c, p, replication.DataWatches, once)
		}
	}
	for _, p := range child {
		st, err := t.Stat(p)
		switch {
		case err != nil:
			fire = append(fire, eventFrame(wire.EventNodeDeleted, p))
		case st.Pzxid > relativeZxid:
			fire = append(fire, eventFrame(wire.EventNodeChildrenChanged, p))
		default:
			r.add(c, p, replication.ChildWatches, once)
		}
	}
	for _, p := range persistent {
		r.add(c, p, replication.DataWatches, replication.WatchPersistent)
		r.add(c, p, replication.ChildWatches, replication.WatchPersistent)
	}
	for _, p := range recursive {
		r.add(c, p, replication.DataWatches, replication.WatchRecursive)
		r.add(c, p, replication.ChildWatches, replication.WatchRecursive)
	}
	for _, f := range fire {
		c.out.push(f)
	}
}

// clientWatches returns the client port's watches in table k, by path and
// by connection: the replica's fan-out also holds the mount's.
func (r *watchRegistry) clientWatches(k replication.WatchTable) (byPath map[string][]*conn, byConn map[*conn][]string) {
	byPath, byConn = map[string][]*conn{}, map[*conn][]string{}
	r.ws.Each(k, func(p string, w replication.Watcher, _ replication.WatchMode) {
		if c, ok := w.(*conn); ok {
			byPath[p] = append(byPath[p], c)
			byConn[c] = append(byConn[c], p)
		}
	})
	return byPath, byConn
}

// watchSummary is what wchs reports.
type watchSummary struct {
	conns, paths, watches int
}

// summary answers wchs. Like ZooKeeper 3.8, whose report only looks at
// its data watch manager, it counts data and exists watches alone.
func (r *watchRegistry) summary() watchSummary {
	byPath, byConn := r.clientWatches(replication.DataWatches)
	s := watchSummary{conns: len(byConn), paths: len(byPath)}
	for _, ps := range byConn {
		s.watches += len(ps)
	}
	return s
}

// total is mntr's zk_watch_count: the watches of both tables.
func (r *watchRegistry) total() int {
	n := 0
	for _, k := range []replication.WatchTable{replication.DataWatches, replication.ChildWatches} {
		_, byConn := r.clientWatches(k)
		for _, ps := range byConn {
			n += len(ps)
		}
	}
	return n
}

// dump answers wchc (by session) and wchp (by path), over the data table
// as ZooKeeper 3.8 does.
func (r *watchRegistry) dump(byPath bool) string {
	conns, paths := r.clientWatches(replication.DataWatches)
	var b strings.Builder
	if byPath {
		paths := make([]string, 0, len(conns))
		for p := range conns {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			b.WriteString(p + "\n")
			for _, id := range sessionsOf(conns[p]) {
				fmt.Fprintf(&b, "\t0x%x\n", uint64(id))
			}
		}
	} else {
		bySession := make(map[int64][]string)
		for c, ps := range paths {
			for _, p := range ps {
				bySession[c.session] = append(bySession[c.session], p)
			}
		}
		ids := make([]int64, 0, len(bySession))
		for id := range bySession {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			fmt.Fprintf(&b, "0x%x\n", uint64(id))
			ps := bySession[id]
			sort.Strings(ps)
			for _, p := range ps {
				b.WriteString("\t" + p + "\n")
			}
		}
	}
	b.WriteString("\n")
	return b.String()
}

func sessionsOf(cs []*conn) []int64 {
	ids := make([]int64, 0, len(cs))
	for _, c := range cs {
		ids = append(ids, c.session)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func eventFrame(typ wire.EventType, path string) []byte {
	return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}, &wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path})
}
