package zkserver

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"zkfs/tree"
	"zkfs/wire"
)

// watchKind names ZooKeeper's two watch tables. The server does not tell
// data watches from exists watches (only clients do): both live in the
// data table.
type watchKind uint8

const (
	watchData watchKind = iota
	watchChild
)

// watchMode is a set of modes, because one connection may hold a one-shot
// and a persistent watch on the same path, as ZooKeeper's WatchStats
// allows.
type watchMode uint8

const (
	modeStandard watchMode = 1 << iota
	modePersistent
	modeRecursive
)

// watchTable is one of ZooKeeper's WatchManagers: watches by path, and by
// connection for cleanup and the wchc/wchs reports.
type watchTable struct {
	byPath map[string]map[*conn]watchMode
	byConn map[*conn]map[string]struct{}
	// recursive counts recursive watches, so that a change only walks up
	// its ancestors when somebody holds one.
	recursive int
}

func newWatchTable() watchTable {
	return watchTable{byPath: make(map[string]map[*conn]watchMode), byConn: make(map[*conn]map[string]struct{})}
}

func (t *watchTable) add(c *conn, path string, m watchMode) {
	ws := t.byPath[path]
	if ws == nil {
		ws = make(map[*conn]watchMode)
		t.byPath[path] = ws
	}
	old := ws[c]
	if old&modeRecursive == 0 && m&modeRecursive != 0 {
		t.recursive++
	}
	ws[c] = old | m
	ps := t.byConn[c]
	if ps == nil {
		ps = make(map[string]struct{})
		t.byConn[c] = ps
	}
	ps[path] = struct{}{}
}

// set replaces c's modes on path; zero removes the watch.
func (t *watchTable) set(c *conn, path string, m watchMode) {
	ws := t.byPath[path]
	old := ws[c]
	if old&modeRecursive != 0 && m&modeRecursive == 0 {
		t.recursive--
	}
	if m != 0 {
		ws[c] = m
		return
	}
	delete(ws, c)
	if len(ws) == 0 {
		delete(t.byPath, path)
	}
	if ps := t.byConn[c]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(t.byConn, c)
		}
	}
}

func (t *watchTable) has(c *conn, path string) bool {
	_, ok := t.byPath[path][c]
	return ok
}

func (t *watchTable) removeConn(c *conn) {
	for p := range t.byConn[c] {
		t.set(c, p, 0)
	}
	delete(t.byConn, c)
}

// collect gathers the connections a change of type typ at path notifies and
// consumes their one-shot watches, following ZooKeeper's WatchManager: every
// watch on the path itself fires, except that a recursive watch never sees
// NodeChildrenChanged; on ancestors only recursive watches fire.
func (t *watchTable) collect(path string, typ wire.EventType, into map[*conn]struct{}) {
	for c, m := range t.byPath[path] {
		if m&(modeStandard|modePersistent) != 0 || typ != wire.EventNodeChildrenChanged {
			into[c] = struct{}{}
		}
		if m&modeStandard != 0 {
			t.set(c, path, m&^modeStandard)
		}
	}
	if t.recursive == 0 || typ == wire.EventNodeChildrenChanged {
		return
	}
	for p := path; p != "/"; {
		p = tree.Parent(p)
		for c, m := range t.byPath[p] {
			if m&modeRecursive != 0 {
				into[c] = struct{}{}
			}
		}
	}
}

// watchRegistry holds every connection's watches. Its lock nests inside
// the tree's lock: triggers run under the write lock (in the replica's
// listener), registrations under the read lock of the read they belong to.
type watchRegistry struct {
	mu          sync.Mutex
	data, child watchTable
}

func newWatchRegistry() *watchRegistry {
	return &watchRegistry{data: newWatchTable(), child: newWatchTable()}
}

func (r *watchRegistry) table(k watchKind) *watchTable {
	if k == watchChild {
		return &r.child
	}
	return &r.data
}

// add registers a watch, unless the connection is already closed (its
// watches would then never be removed).
func (r *watchRegistry) add(c *conn, path string, k watchKind, m watchMode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c.closed.Load() {
		return
	}
	r.table(k).add(c, path, m)
}

func (r *watchRegistry) removeConn(c *conn) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.data.removeConn(c)
	r.child.removeConn(c)
}

// contains answers checkWatches.
func (r *watchRegistry) contains(c *conn, path string, typ wire.WatcherType) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch typ {
	case wire.WatcherChildren:
		return r.child.has(c, path)
	case wire.WatcherData:
		return r.data.has(c, path)
	case wire.WatcherAny:
		return r.child.has(c, path) || r.data.has(c, path)
	}
	return false
}

// remove answers removeWatches: every mode of the selected watches goes.
func (r *watchRegistry) remove(c *conn, path string, typ wire.WatcherType) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	removed := false
	if typ == wire.WatcherChildren || typ == wire.WatcherAny {
		if r.child.has(c, path) {
			r.child.set(c, path, 0)
			removed = true
		}
	}
	if typ == wire.WatcherData || typ == wire.WatcherAny {
		if r.data.has(c, path) {
			r.data.set(c, path, 0)
			removed = true
		}
	}
	return removed
}

// trigger delivers one applied change, mapping the tree's events onto
// ZooKeeper's two tables as DataTree does: creations and data changes go to
// the data table, child changes to the child table, and a deletion to both,
// each connection being told once.
func (r *watchRegistry) trigger(ev tree.Event) {
	typ := wire.EventType(ev.Type)
	r.mu.Lock()
	if len(r.data.byPath) == 0 && len(r.child.byPath) == 0 {
		r.mu.Unlock()
		return
	}
	to := make(map[*conn]struct{})
	switch ev.Type {
	case tree.EventNodeCreated, tree.EventNodeDataChanged:
		r.data.collect(ev.Path, typ, to)
	case tree.EventNodeDeleted:
		r.data.collect(ev.Path, typ, to)
		r.child.collect(ev.Path, typ, to)
	case tree.EventNodeChildrenChanged:
		r.child.collect(ev.Path, typ, to)
	}
	r.mu.Unlock()
	if len(to) == 0 {
		return
	}
	frame := eventFrame(typ, ev.Path)
	for c := range to {
		// ZooKeeper 3.8.4 and later withhold an event from a watcher that
		// may not read the node, so that persistent recursive watches do
		// not disclose paths under a protected node.
		if !tree.Permitted(ev.ACL, tree.PermRead, c.ident()) {
			continue
		}
		c.out.pushEvent(ev.Zxid, frame)
	}
}

// reset answers a snapshot restore, which replaces the tree without the
// writes that led to it. Each watched node, and each node under a
// recursive watch, fires what the change from the old tree to the new one
// implies (tree.Diff), as those writes would have; an unchanged node fires
// nothing, since a client told of a change re-reads and must find one. It
// runs under the tree's write lock, which keeps both trees still.
func (r *watchRegistry) reset(before, after *tree.Tree) {
	var scope tree.Scope
	r.mu.Lock()
	for _, t := range []*watchTable{&r.data, &r.child} {
		for p, ws := range t.byPath {
			scope.Nodes = append(scope.Nodes, p)
			for _, m := range ws {
				if m&modeRecursive != 0 {
					scope.Subtrees = append(scope.Subtrees, p)
					break
				}
			}
		}
	}
	r.mu.Unlock()
	for _, ev := range tree.DiffScope(before, after, scope) {
		r.trigger(ev)
	}
}

// setWatches re-registers the watches of a reconnecting client and fires
// at once those whose node changed after relativeZxid, the last zxid the
// client saw, as ZooKeeper's DataTree.setWatches does. It runs under the
// tree's read lock.
func (r *watchRegistry) setWatches(c *conn, t *tree.Tree, relativeZxid int64, data, exist, child, persistent, recursive []string) {
	var fire [][]byte
	r.mu.Lock()
	if c.closed.Load() {
		r.mu.Unlock()
		return
	}
	for _, p := range data {
		st, err := t.Stat(p)
		switch {
		case err != nil:
			fire = append(fire, eventFrame(wire.EventNodeDeleted, p))
		case st.Mzxid > relativeZxid:
			fire = append(fire, eventFrame(wire.EventNodeDataChanged, p))
		default:
			r.data.add(c, p, modeStandard)
		}
	}
	for _, p := range exist {
		if t.Exists(p) {
			fire = append(fire, eventFrame(wire.EventNodeCreated, p))
		} else {
			r.data.add(c, p, modeStandard)
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
			r.child.add(c, p, modeStandard)
		}
	}
	for _, p := range persistent {
		r.data.add(c, p, modePersistent)
		r.child.add(c, p, modePersistent)
	}
	for _, p := range recursive {
		r.data.add(c, p, modeRecursive)
		r.child.add(c, p, modeRecursive)
	}
	r.mu.Unlock()
	for _, f := range fire {
		c.out.push(f)
	}
}

// watchSummary is what wchs reports.
type watchSummary struct {
	conns, paths, watches int
}

// summary answers wchs. Like ZooKeeper 3.8, whose report only looks at
// its data watch manager, it counts data and exists watches alone.
func (r *watchRegistry) summary() watchSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := watchSummary{conns: len(r.data.byConn), paths: len(r.data.byPath)}
	for _, ps := range r.data.byConn {
		s.watches += len(ps)
	}
	return s
}

// total is mntr's zk_watch_count: the watches of both tables.
func (r *watchRegistry) total() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, t := range []*watchTable{&r.data, &r.child} {
		for _, ps := range t.byConn {
			n += len(ps)
		}
	}
	return n
}

// dump answers wchc (by session) and wchp (by path), over the data table
// as ZooKeeper 3.8 does.
func (r *watchRegistry) dump(byPath bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	if byPath {
		paths := make([]string, 0, len(r.data.byPath))
		for p := range r.data.byPath {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		for _, p := range paths {
			b.WriteString(p + "\n")
			for _, id := range sessionsOf(r.data.byPath[p]) {
				fmt.Fprintf(&b, "\t0x%x\n", uint64(id))
			}
		}
	} else {
		bySession := make(map[int64][]string)
		for c, ps := range r.data.byConn {
			for p := range ps {
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

func sessionsOf(ws map[*conn]watchMode) []int64 {
	ids := make([]int64, 0, len(ws))
	for c := range ws {
		ids = append(ids, c.session)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func eventFrame(typ wire.EventType, path string) []byte {
	return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: wire.XidNotification, Zxid: -1}, &wire.WatcherEvent{Type: typ, State: wire.StateSyncConnected, Path: path})
}
