package replication

import (
	"sync"

	"zkfs/tree"
)

// Watches is the replica's one watch fan-out: the client port's watches
// (one-shot, persistent and recursive, in ZooKeeper's data and child
// tables) and the mount's @watch files are registered here, and each
// applied batch is routed to them here, a snapshot restore included (the
// events tree.DiffScope says the restore owes the watched nodes). The
// rules of which change fires which watch therefore live once.
//
// Its lock nests inside the tree's: the events are routed on the apply
// goroutine under the tree's write lock, before any reader can see the
// change, and a registration made under the read lock of the read it
// belongs to misses no change after that read.
type Watches struct {
	mu          sync.Mutex
	data, child watchTable
}

// WatchTable names ZooKeeper's two watch tables. Node creations and data
// changes fire the data table, child changes the child table, and a
// deletion both; a watcher is told once however many of its watches fire.
type WatchTable uint8

const (
	// DataWatches holds data and exists watches (the server does not
	// tell them apart; only clients do).
	DataWatches WatchTable = iota
	// ChildWatches holds child watches.
	ChildWatches
)

// WatchMode is a set of modes, because one watcher may hold a one-shot and
// a persistent watch on the same path, as ZooKeeper's WatchStats allows.
type WatchMode uint8

const (
	// WatchOnce fires for the next change of the node, and goes.
	WatchOnce WatchMode = 1 << iota
	// WatchPersistent fires for every change of the node.
	WatchPersistent
	// WatchRecursive fires for every change of the node and of every
	// node below it, except NodeChildrenChanged (ZooKeeper's
	// PERSISTENT_RECURSIVE).
	WatchRecursive
	// WatchChildren fires for every change of the node and of its direct
	// children, NodeChildrenChanged included: the mount's @watch.
	WatchChildren
)

// Watcher receives the events its watches match.
type Watcher interface {
	// WatchEvent is given each event the watcher's watches match, once.
	// It runs on the apply goroutine under the tree's write lock, so it
	// must only queue.
	WatchEvent(ev tree.Event)
	// WatchIdentity is whose read permission an event needs to reach
	// the watcher: ZooKeeper 3.8.4 and later withhold an event from a
	// watcher that may not read the node, so that recursive watches do
	// not disclose paths under a protected node. A one-shot watch is
	// consumed all the same.
	WatchIdentity() tree.Identity
	// WatchClosed reports that the watcher is going away. Add skips a
	// closed watcher, so that the RemoveAll that follows its closing
	// cannot miss a watch added meanwhile.
	WatchClosed() bool
}

// watchTable is one of ZooKeeper's WatchManagers: watches by path, and by
// watcher for cleanup and reports.
type watchTable struct {
	byPath    map[string]map[Watcher]WatchMode
	byWatcher map[Watcher]map[string]struct{}
	// recursive and children count the watches with those modes, so
	// that a change only looks at its ancestors when somebody holds one.
	recursive, children int
}

func (t *watchTable) counts(m WatchMode) (recursive, children int) {
	if m&WatchRecursive != 0 {
		recursive = 1
	}
	if m&WatchChildren != 0 {
		children = 1
	}
	return
}

func (t *watchTable) add(w Watcher, path string, m WatchMode) {
	if t.byPath == nil {
		t.byPath = make(map[string]map[Watcher]WatchMode)
		t.byWatcher = make(map[Watcher]map[string]struct{})
	}
	ws := t.byPath[path]
	if ws == nil {
		ws = make(map[Watcher]WatchMode)
		t.byPath[path] = ws
	}
	t.set(w, path, ws[w]|m)
	ps := t.byWatcher[w]
	if ps == nil {
		ps = make(map[string]struct{})
		t.byWatcher[w] = ps
	}
	ps[path] = struct{}{}
}

// set replaces w's modes on path; zero removes the watch.
func (t *watchTable) set(w Watcher, path string, m WatchMode) {
	ws := t.byPath[path]
	oldR, oldC := t.counts(ws[w])
	newR, newC := t.counts(m)
	t.recursive += newR - oldR
	t.children += newC - oldC
	if m != 0 {
		ws[w] = m
		return
	}
	delete(ws, w)
	if len(ws) == 0 {
		delete(t.byPath, path)
	}
	if ps := t.byWatcher[w]; ps != nil {
		delete(ps, path)
		if len(ps) == 0 {
			delete(t.byWatcher, w)
		}
	}
}

func (t *watchTable) has(w Watcher, path string) bool {
	_, ok := t.byPath[path][w]
	return ok
}

func (t *watchTable) removeAll(w Watcher) {
	for p := range t.byWatcher[w] {
		t.set(w, p, 0)
	}
	delete(t.byWatcher, w)
}

// collect gathers the watchers a change of type typ at path fires, and
// consumes their one-shot watches, following ZooKeeper's WatchManager:
// every watch on the path itself fires, except that a recursive watch
// never sees NodeChildrenChanged; on the parent, children watches fire;
// on ancestors, recursive watches fire (again not for
// NodeChildrenChanged).
func (t *watchTable) collect(path string, typ tree.EventType, into map[Watcher]struct{}) {
	for w, m := range t.byPath[path] {
		if m&^WatchRecursive != 0 || typ != tree.EventNodeChildrenChanged {
			into[w] = struct{}{}
		}
		if m&WatchOnce != 0 {
			t.set(w, path, m&^WatchOnce)
		}
	}
	if path == "/" {
		return
	}
	if t.children > 0 {
		for w, m := range t.byPath[tree.Parent(path)] {
			if m&WatchChildren != 0 {
				into[w] = struct{}{}
			}
		}
	}
	if t.recursive == 0 || typ == tree.EventNodeChildrenChanged {
		return
	}
	for p := path; p != "/"; {
		p = tree.Parent(p)
		for w, m := range t.byPath[p] {
			if m&WatchRecursive != 0 {
				into[w] = struct{}{}
			}
		}
	}
}

func (ws *Watches) table(k WatchTable) *watchTable {
	if k == ChildWatches {
		return &ws.child
	}
	return &ws.data
}

// Add registers a watch of w on path, unless w is closed, and reports
// whether it did. Modes add to those w holds on path already.
func (ws *Watches) Add(w Watcher, path string, k WatchTable, m WatchMode) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if w.WatchClosed() {
		return false
	}
	ws.table(k).add(w, path, m)
	return true
}

// Has reports whether w holds a watch on path in table k.
func (ws *Watches) Has(w Watcher, path string, k WatchTable) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.table(k).has(w, path)
}

// Remove drops every mode of w's watch on path in table k, and reports
// whether there was one.
func (ws *Watches) Remove(w Watcher, path string, k WatchTable) bool {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	t := ws.table(k)
	if !t.has(w, path) {
		return false
	}
	t.set(w, path, 0)
	return true
}

// RemoveAll drops every watch of w.
func (ws *Watches) RemoveAll(w Watcher) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	ws.data.removeAll(w)
	ws.child.removeAll(w)
}

// RemoveWhere drops every watch of the watchers that match, and returns
// those watchers.
func (ws *Watches) RemoveWhere(match func(Watcher) bool) []Watcher {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	seen := map[Watcher]struct{}{}
	for _, t := range []*watchTable{&ws.data, &ws.child} {
		for w := range t.byWatcher {
			if _, ok := seen[w]; !ok && match(w) {
				seen[w] = struct{}{}
			}
		}
	}
	out := make([]Watcher, 0, len(seen))
	for w := range seen {
		ws.data.removeAll(w)
		ws.child.removeAll(w)
		out = append(out, w)
	}
	return out
}

// Each calls fn for every watch in table k, under the fan-out's lock (fn
// must not call back into it), for reports such as wchc and wchs.
func (ws *Watches) Each(k WatchTable, fn func(path string, w Watcher, m WatchMode)) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for p, byW := range ws.table(k).byPath {
		for w, m := range byW {
			fn(p, w, m)
		}
	}
}

// Apply routes an applied batch. The replica calls it with each batch,
// before its listeners; a test may call it to stand in for a restore.
func (ws *Watches) Apply(a Applied) {
	if a.Reset {
		ws.restore(a.Before, a.After)
		return
	}
	for _, ev := range a.Events {
		ws.fire(ev)
	}
}

// fire routes one applied change.
func (ws *Watches) fire(ev tree.Event) {
	ws.mu.Lock()
	if len(ws.data.byPath) == 0 && len(ws.child.byPath) == 0 {
		ws.mu.Unlock()
		return
	}
	to := make(map[Watcher]struct{})
	switch ev.Type {
	case tree.EventNodeCreated, tree.EventNodeDataChanged:
		ws.data.collect(ev.Path, ev.Type, to)
	case tree.EventNodeDeleted:
		ws.data.collect(ev.Path, ev.Type, to)
		ws.child.collect(ev.Path, ev.Type, to)
	case tree.EventNodeChildrenChanged:
		ws.child.collect(ev.Path, ev.Type, to)
	}
	ws.mu.Unlock()
	for w := range to {
		if tree.Permitted(ev.ACL, tree.PermRead, w.WatchIdentity()) {
			w.WatchEvent(ev)
		}
	}
}

// restore answers a snapshot restore, which replaces the tree without the
// writes that led to it. Each watched node, each child of a node under a
// children watch, and each node under a recursive watch fires what the
// change from the old tree to the new one implies (tree.DiffScope), as
// those writes would have; an unchanged node fires nothing, since a client
// told of a change re-reads and must find one. It runs under the tree's
// write lock, which keeps both trees still.
func (ws *Watches) restore(before, after *tree.Tree) {
	var scope tree.Scope
	ws.mu.Lock()
	for _, t := range []*watchTable{&ws.data, &ws.child} {
		for p, byW := range t.byPath {
			scope.Nodes = append(scope.Nodes, p)
			var all WatchMode
			for _, m := range byW {
				all |= m
			}
			if all&WatchRecursive != 0 {
				scope.Subtrees = append(scope.Subtrees, p)
			}
			if all&WatchChildren != 0 {
				scope.Children = append(scope.Children, p)
			}
		}
	}
	ws.mu.Unlock()
	for _, ev := range tree.DiffScope(before, after, scope) {
		ws.fire(ev)
	}
}
