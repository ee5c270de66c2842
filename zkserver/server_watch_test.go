package zkserver

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

func nextEvent(t *testing.T, ch <-chan zk.Event) zk.Event {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no watch event")
	}
	return zk.Event{}
}

func TestOneShotWatches(t *testing.T) {
	ts := startTestServer(t, nil)
	c, _ := zkConnect(t, ts.addr, 10*time.Second)
	w, _ := zkConnect(t, ts.addr, 10*time.Second)
	acl := zk.WorldACL(zk.PermAll)

	// exists on a missing node fires on creation.
	ok, _, ech, err := w.ExistsW("/n")
	if err != nil || ok {
		t.Fatalf("existsW = %v, %v", ok, err)
	}
	if _, err := c.Create("/n", []byte("0"), 0, acl); err != nil {
		t.Fatal(err)
	}
	if e := nextEvent(t, ech); e.Type != zk.EventNodeCreated || e.Path != "/n" {
		t.Errorf("exists watch: %+v", e)
	}
	// getData fires on a data change, once.
	_, _, dch, err := w.GetW("/n")
	if err != nil {
		t.Fatal(err)
	}
	c.Set("/n", []byte("1"), -1)
	if e := nextEvent(t, dch); e.Type != zk.EventNodeDataChanged || e.Path != "/n" {
		t.Errorf("data watch: %+v", e)
	}
	// getChildren fires when a child comes.
	_, _, cch, err := w.ChildrenW("/n")
	if err != nil {
		t.Fatal(err)
	}
	c.Create("/n/k", nil, 0, acl)
	if e := nextEvent(t, cch); e.Type != zk.EventNodeChildrenChanged || e.Path != "/n" {
		t.Errorf("child watch: %+v", e)
	}
	// A delete fires data, exists and child watches.
	_, _, dch, _ = w.GetW("/n/k")
	_, _, xch, _ := w.ExistsW("/n/k")
	_, _, kch, _ := w.ChildrenW("/n/k")
	_, _, pch, _ := w.ChildrenW("/n")
	c.Delete("/n/k", -1)
	for name, ch := range map[string]<-chan zk.Event{"data": dch, "exists": xch, "child": kch} {
		if e := nextEvent(t, ch); e.Type != zk.EventNodeDeleted || e.Path != "/n/k" {
			t.Errorf("%s watch on a deleted node: %+v", name, e)
		}
	}
	if e := nextEvent(t, pch); e.Type != zk.EventNodeChildrenChanged || e.Path != "/n" {
		t.Errorf("parent's child watch: %+v", e)
	}
}

// TestWatchWireEvents checks the notifications themselves: xid -1, zxid -1
// as ZooKeeper 3.8 sends them, state SyncConnected, one event per
// connection even when both of its watch tables match, and one-shot
// watches consumed.
func TestWatchWireEvents(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	w := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/d", ACL: openACL()}, nil)
	w.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/d", Watch: true}, nil)
	w.mustCall(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/d", Watch: true}, nil)
	w.mustCall(wire.OpExists, &wire.ExistsRequest{Path: "/d", Watch: true}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/d", Data: []byte("x"), Version: -1}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/d", Data: []byte("y"), Version: -1}, nil)
	c.mustCall(wire.OpDelete, &wire.DeleteRequest{Path: "/d", Version: -1}, nil)
	got := w.waitEvents(2)
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	want := []wire.WatcherEvent{
		{Type: wire.EventNodeDataChanged, State: wire.StateSyncConnected, Path: "/d"},
		{Type: wire.EventNodeDeleted, State: wire.StateSyncConnected, Path: "/d"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events %+v, want %+v", got, want)
	}
}

func TestPersistentWatches(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	w := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/q", ACL: openACL()}, nil)
	var er wire.ErrorResponse
	w.mustCall(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/p", Mode: wire.AddWatchPersistent}, &er)
	w.mustCall(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/q", Mode: wire.AddWatchPersistentRecursive}, &er)

	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/p", Data: []byte("1"), Version: -1}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/p", Data: []byte("2"), Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p/c", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p/c/d", ACL: openACL()}, nil) // not watched
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/q/a", ACL: openACL()}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/q/a", Data: []byte("x"), Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/q/a/b", ACL: openACL()}, nil)
	c.mustCall(wire.OpDelete, &wire.DeleteRequest{Path: "/q/a/b", Version: -1}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/q", Data: []byte("x"), Version: -1}, nil)
	want := []string{
		"NodeDataChanged /p", "NodeDataChanged /p", "NodeChildrenChanged /p",
		// A recursive watch sees every change below it, but never
		// NodeChildrenChanged.
		"NodeCreated /q/a", "NodeDataChanged /q/a", "NodeCreated /q/a/b", "NodeDeleted /q/a/b", "NodeDataChanged /q",
	}
	w.waitEvents(len(want))
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if got := eventStrings(w.events); !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}

	// checkWatches and removeWatches.
	if _, err := w.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/q", Type: wire.WatcherAny}, nil); err != nil {
		t.Errorf("checkWatches on a recursive watch: %v", err)
	}
	if _, err := w.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/zzz", Type: wire.WatcherData}, nil); wire.CodeOf(err) != tree.CodeNoWatcher {
		t.Errorf("checkWatches without a watch: %v", err)
	}
	if _, err := w.call(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/q", Type: wire.WatcherAny}, nil); err != nil {
		t.Errorf("removeWatches: %v", err)
	}
	if _, err := w.call(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/q", Type: wire.WatcherAny}, nil); wire.CodeOf(err) != tree.CodeNoWatcher {
		t.Errorf("removeWatches twice: %v", err)
	}
	if _, err := w.call(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/q", Mode: 5}, nil); wire.CodeOf(err) != tree.CodeMarshallingError {
		t.Errorf("addWatch with a bad mode: %v", err)
	}
	n := len(w.events)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/q/a", Data: []byte("y"), Version: -1}, nil)
	w.mustCall(wire.OpRemoveWatches, &wire.RemoveWatchesRequest{Path: "/p", Type: wire.WatcherData}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/p", Data: []byte("z"), Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p/e", ACL: openACL()}, nil)
	w.waitEvents(n + 1)
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if got := eventStrings(w.events[n:]); !slices.Equal(got, []string{"NodeChildrenChanged /p"}) {
		t.Errorf("after removing watches: %q", got)
	}
}

// TestSetWatches re-registers watches as a reconnecting client does and
// checks which fire at once, against ZooKeeper's DataTree.setWatches.
func TestSetWatches(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	var cr wire.Create2Response
	c.mustCall(wire.OpCreate2, &wire.CreateRequest{Path: "/s", ACL: openACL()}, &cr)
	c.mustCall(wire.OpCreate2, &wire.CreateRequest{Path: "/t", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate2, &wire.CreateRequest{Path: "/u", ACL: openACL()}, nil)
	seen := c.mustCall(wire.OpCreate2, &wire.CreateRequest{Path: "/t/k", ACL: openACL()}, nil).Zxid
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/s", Data: []byte("new"), Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/u/k", ACL: openACL()}, nil)

	w := dialRaw(t, ts.addr, 10000)
	w.mustCall(wire.OpSetWatches2, &wire.SetWatches2{
		RelativeZxid: seen,
		DataWatches:  []string{"/s", "/t", "/gone"},
		ExistWatches: []string{"/t", "/later"},
		ChildWatches: []string{"/t", "/u"},
		// Persistent watches are re-armed whatever happened.
		PersistentWatches:          []string{"/p"},
		PersistentRecursiveWatches: []string{"/r"},
	}, nil)
	want := []string{
		"NodeDataChanged /s", // changed after seen
		"NodeDeleted /gone",
		"NodeCreated /t",         // an exists watch on a node that exists
		"NodeChildrenChanged /u", // a child came after seen
	}
	if got := eventStrings(w.events); !slices.Equal(got, want) {
		t.Errorf("setWatches fired %q, want %q", got, want)
	}
	// The others are armed.
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/t", Data: []byte("x"), Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/later", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/t/k2", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p/x", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/r", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/r/x", ACL: openACL()}, nil)
	want = append(want, "NodeDataChanged /t", "NodeCreated /later", "NodeChildrenChanged /t",
		"NodeCreated /p", "NodeChildrenChanged /p", "NodeCreated /r", "NodeCreated /r/x")
	w.waitEvents(len(want))
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if got := eventStrings(w.events); !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}
}

// TestWatchNeedsRead checks ZooKeeper 3.8.4's rule: a watcher that may not
// read a node is not told about it, so a recursive watch on / does not
// reveal what happens under a protected node.
func TestWatchNeedsRead(t *testing.T) {
	ts := startTestServer(t, nil)
	owner := dialRaw(t, ts.addr, 10000)
	owner.mustCall(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("bob:pw")}, nil)
	w := dialRaw(t, ts.addr, 10000)
	w.mustCall(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/", Mode: wire.AddWatchPersistentRecursive}, nil)
	private := []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "auth"}}}
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/secret", ACL: private}, nil)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/secret/plan", ACL: private}, nil)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/public", ACL: openACL()}, nil)
	w.waitEvents(1)
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if got := eventStrings(w.events); !slices.Equal(got, []string{"NodeCreated /public"}) {
		t.Errorf("watcher without READ saw %q", got)
	}
}

// permAll is every permission bit.
const permAll = 31

// TestResetFiresWhatChanged: after a snapshot restore replaced the tree,
// each watch fires what the change from the old tree to the new one
// implies, and a watch on a node that did not change stays quiet (a
// client told of a change would re-read and find none). One-shot watches
// that fired are used up; persistent ones stay.
func TestResetFiresWhatChanged(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/x", ACL: openACL()}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/same", ACL: openACL()}, nil)
	w := dialRaw(t, ts.addr, 10000)
	w.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/x", Watch: true}, nil)
	w.mustCall(wire.OpGetChildren, &wire.GetChildrenRequest{Path: "/x", Watch: true}, nil)
	w.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/same", Watch: true}, nil)
	for _, p := range []string{"/absent", "/still-absent"} {
		if _, err := w.call(wire.OpExists, &wire.ExistsRequest{Path: p, Watch: true}, nil); wire.CodeOf(err) != tree.CodeNoNode {
			t.Fatalf("exists %s: %v", p, err)
		}
	}
	w.mustCall(wire.OpAddWatch, &wire.AddWatchRequest{Path: "/p", Mode: wire.AddWatchPersistent}, nil)

	// The trees a restore swaps: the same start, then writes that only
	// the new one has.
	before, after := tree.New(tree.Config{}), tree.New(tree.Config{})
	apply := func(tr *tree.Tree, zxid int64, op tree.Op) {
		if r, _ := tr.Apply(tree.Header{Zxid: zxid, Time: zxid}, op); r.Err != nil {
			t.Fatalf("apply %#v: %v", op, r.Err)
		}
	}
	for _, tr := range []*tree.Tree{before, after} {
		apply(tr, 1, tree.Create{Path: "/x", ACL: tree.OpenACL})
		apply(tr, 2, tree.Create{Path: "/same", ACL: tree.OpenACL})
	}
	apply(after, 3, tree.SetData{Path: "/x", Data: []byte("new"), Version: -1})
	apply(after, 4, tree.Create{Path: "/x/kid", ACL: tree.OpenACL})
	apply(after, 5, tree.Create{Path: "/absent", ACL: tree.OpenACL})
	apply(after, 6, tree.Create{Path: "/p", ACL: tree.OpenACL})
	// What the replica's listener receives after a restore.
	ts.srv.watches.ws.Apply(replication.Applied{Index: 6, Reset: true, Before: before, After: after})
	w.waitEvents(4)
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	got := eventStrings(w.events)
	slices.Sort(got)
	want := []string{"NodeChildrenChanged /x", "NodeCreated /absent", "NodeCreated /p", "NodeDataChanged /x"}
	if !slices.Equal(got, want) {
		t.Errorf("after a reset: %q, want %q", got, want)
	}
	// The one-shot watches that fired are used up, the persistent one is
	// not, and the quiet one on /same is still set.
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/x", Version: -1}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/p", ACL: openACL()}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/same", Version: -1}, nil)
	w.waitEvents(6)
	w.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if got := eventStrings(w.events[4:]); !slices.Equal(got, []string{"NodeCreated /p", "NodeDataChanged /same"}) {
		t.Errorf("after the reset's events: %q", got)
	}
}

func eventStrings(evs []wire.WatcherEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = fmt.Sprintf("%v %s", e.Type, e.Path)
	}
	return out
}
