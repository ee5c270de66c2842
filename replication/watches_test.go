package replication

import (
	"fmt"
	"slices"
	"testing"

	"zkfs/tree"
)

// recorder is a Watcher that keeps what it was told.
type recorder struct {
	id     tree.Identity
	got    []string
	closed bool
}

func (r *recorder) WatchEvent(ev tree.Event) {
	r.got = append(r.got, fmt.Sprintf("%d %s", ev.Type, ev.Path))
}
func (r *recorder) WatchIdentity() tree.Identity { return r.id }
func (r *recorder) WatchClosed() bool            { return r.closed }

// TestWatchesFanOut checks the routing rules that the client port's watches
// and the mount's @watch share: which change fires which watch, once per
// watcher, and what stays registered afterwards.
func TestWatchesFanOut(t *testing.T) {
	const (
		created  = tree.EventNodeCreated
		deleted  = tree.EventNodeDeleted
		changed  = tree.EventNodeDataChanged
		children = tree.EventNodeChildrenChanged
	)
	ev := func(typ tree.EventType, p string) tree.Event {
		return tree.Event{Type: typ, Path: p, ACL: tree.OpenACL}
	}
	type watch struct {
		table WatchTable
		path  string
		mode  WatchMode
	}
	tests := []struct {
		name    string
		watches []watch
		events  []tree.Event
		want    []string
	}{
		{"a one-shot data watch fires once", []watch{{DataWatches, "/a", WatchOnce}},
			[]tree.Event{ev(changed, "/a"), ev(changed, "/a")}, []string{"3 /a"}},
		{"a persistent watch stays", []watch{{DataWatches, "/a", WatchPersistent}},
			[]tree.Event{ev(changed, "/a"), ev(changed, "/a")}, []string{"3 /a", "3 /a"}},
		{"a delete fires both tables once", []watch{{DataWatches, "/a", WatchOnce}, {ChildWatches, "/a", WatchOnce}},
			[]tree.Event{ev(deleted, "/a")}, []string{"2 /a"}},
		{"a child watch ignores data changes", []watch{{ChildWatches, "/a", WatchOnce}},
			[]tree.Event{ev(changed, "/a"), ev(children, "/a")}, []string{"4 /a"}},
		{"a recursive watch sees below, but no NodeChildrenChanged",
			[]watch{{DataWatches, "/a", WatchRecursive}, {ChildWatches, "/a", WatchRecursive}},
			[]tree.Event{ev(created, "/a/b/c"), ev(children, "/a/b"), ev(children, "/a"), ev(changed, "/ab")},
			[]string{"1 /a/b/c"}},
		{"a children watch sees the node and its children, not grandchildren",
			[]watch{{DataWatches, "/a", WatchChildren}, {ChildWatches, "/a", WatchChildren}},
			[]tree.Event{ev(children, "/a"), ev(created, "/a/b"), ev(children, "/a/b"), ev(created, "/a/b/c"), ev(deleted, "/a/b"), ev(changed, "/a")},
			[]string{"4 /a", "1 /a/b", "4 /a/b", "2 /a/b", "3 /a"}},
		{"a children watch on / sees /", []watch{{DataWatches, "/", WatchChildren}},
			[]tree.Event{ev(changed, "/"), ev(created, "/x")}, []string{"3 /", "1 /x"}},
		{"no read, no event", []watch{{DataWatches, "/a", WatchPersistent}},
			[]tree.Event{{Type: changed, Path: "/a", ACL: []tree.ACL{{Perms: tree.PermRead, ID: tree.ID{Scheme: "digest", ID: "bob:x"}}}}, ev(changed, "/a")},
			[]string{"3 /a"}},
	}
	for _, tt := range tests {
		ws := &Watches{}
		r := &recorder{}
		for _, w := range tt.watches {
			ws.Add(r, w.path, w.table, w.mode)
		}
		ws.Apply(Applied{Events: tt.events})
		if !slices.Equal(r.got, tt.want) {
			t.Errorf("%s: got %q, want %q", tt.name, r.got, tt.want)
		}
	}
}

func TestWatchesAddRemove(t *testing.T) {
	ws := &Watches{}
	r := &recorder{}
	ws.Add(r, "/a", DataWatches, WatchOnce)
	ws.Add(r, "/a", DataWatches, WatchPersistent)
	ws.Apply(Applied{Events: []tree.Event{{Type: tree.EventNodeDataChanged, Path: "/a", ACL: tree.OpenACL}}})
	if !ws.Has(r, "/a", DataWatches) {
		t.Errorf("the persistent watch went with the one-shot one")
	}
	if !ws.Remove(r, "/a", DataWatches) || ws.Has(r, "/a", DataWatches) || ws.Remove(r, "/a", DataWatches) {
		t.Errorf("Remove did not remove exactly once")
	}
	closed := &recorder{closed: true}
	if ws.Add(closed, "/a", DataWatches, WatchOnce) || ws.Has(closed, "/a", DataWatches) {
		t.Errorf("a closed watcher was added")
	}
	ws.Add(r, "/b", ChildWatches, WatchRecursive)
	ws.RemoveAll(r)
	if ws.data.recursive != 0 || ws.child.recursive != 0 || len(ws.child.byPath) != 0 {
		t.Errorf("RemoveAll left %+v", ws.child)
	}
}

// TestWatchesRestore: a snapshot restore fires, for every kind of watch,
// what the change between the trees implies, and nothing for the rest.
func TestWatchesRestore(t *testing.T) {
	before, after := tree.New(tree.Config{}), tree.New(tree.Config{})
	apply := func(tr *tree.Tree, zxid int64, op tree.Op) {
		if r, _ := tr.Apply(tree.Header{Zxid: zxid, Time: zxid}, op); r.Err != nil {
			t.Fatalf("apply %#v: %v", op, r.Err)
		}
	}
	for _, tr := range []*tree.Tree{before, after} {
		apply(tr, 1, tree.Create{Path: "/d", ACL: tree.OpenACL})
		apply(tr, 2, tree.Create{Path: "/d/old", ACL: tree.OpenACL})
		apply(tr, 3, tree.Create{Path: "/r", ACL: tree.OpenACL})
		apply(tr, 4, tree.Create{Path: "/r/x", ACL: tree.OpenACL})
	}
	apply(after, 5, tree.Delete{Path: "/d/old", Version: -1})
	apply(after, 6, tree.SetData{Path: "/r/x", Data: []byte("v"), Version: -1})
	apply(after, 7, tree.Create{Path: "/r/x/y", ACL: tree.OpenACL})

	ws := &Watches{}
	dir, rec, quiet := &recorder{}, &recorder{}, &recorder{}
	ws.Add(dir, "/d", DataWatches, WatchChildren)
	ws.Add(dir, "/d", ChildWatches, WatchChildren)
	ws.Add(rec, "/r", DataWatches, WatchRecursive)
	ws.Add(quiet, "/r", DataWatches, WatchOnce)
	ws.Apply(Applied{Reset: true, Before: before, After: after})
	for _, c := range []struct {
		name string
		r    *recorder
		want []string
	}{
		{"children watch", dir, []string{"4 /d", "2 /d/old"}},
		{"recursive watch", rec, []string{"3 /r/x", "1 /r/x/y"}},
		{"one-shot on an unchanged node", quiet, nil},
	} {
		if !slices.Equal(c.r.got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, c.r.got, c.want)
		}
	}
}
