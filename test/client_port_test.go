package test

import (
	"errors"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestClientPortOperations walks a real `zkfs server` process through
// ZooKeeper's operations with go-zookeeper: sequential and ephemeral
// nodes, versions, multi (success and all-or-nothing failure), every kind
// of one-shot watch, and ACL denials.
func TestClientPortOperations(t *testing.T) {
	srv := startServer(t)
	c := connect(t, srv.Addr(), 10*time.Second)
	open := zk.WorldACL(zk.PermAll)

	if _, err := c.Create("/ops", []byte("root"), 0, open); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Create("/ops", nil, 0, open); !errors.Is(err, zk.ErrNodeExists) {
		t.Errorf("second create: %v, want NodeExists", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, open); !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("create under a missing parent: %v, want NoNode", err)
	}
	var seqs []string
	for i := 0; i < 3; i++ {
		p, err := c.Create("/ops/job-", nil, zk.FlagSequence, open)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, p)
	}
	if seqs[0] != "/ops/job-0000000000" || seqs[2] != "/ops/job-0000000002" {
		t.Errorf("sequential names %v", seqs)
	}
	eph, err := c.Create("/ops/eph-", nil, zk.FlagEphemeral|zk.FlagSequence, open)
	if err != nil {
		t.Fatal(err)
	}
	if _, st, err := c.Get(eph); err != nil || st.EphemeralOwner != c.SessionID() {
		t.Errorf("ephemeral %s: owner %x, %v", eph, st.EphemeralOwner, err)
	}
	if _, err := c.Create(eph+"/child", nil, 0, open); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Errorf("child of an ephemeral: %v", err)
	}
	if _, err := c.Set("/ops", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/ops", []byte("stale"), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Errorf("stale set: %v, want BadVersion", err)
	}
	if err := c.Delete("/ops", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Errorf("delete with children: %v, want NotEmpty", err)
	}

	// Multi: all or nothing.
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/ops/m1", Data: []byte("a"), Acl: open},
		&zk.SetDataRequest{Path: "/ops", Data: []byte("v2"), Version: 1},
		&zk.CheckVersionRequest{Path: "/ops", Version: 2},
	)
	if err != nil || len(res) != 3 || res[0].String != "/ops/m1" {
		t.Fatalf("multi: %+v, %v", res, err)
	}
	_, err = c.Multi(
		&zk.CreateRequest{Path: "/ops/m2", Acl: open},
		&zk.DeleteRequest{Path: "/ops/nope", Version: -1},
	)
	if !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("failing multi: %v, want NoNode", err)
	}
	if ok, _, _ := c.Exists("/ops/m2"); ok {
		t.Error("a failed multi left its create behind")
	}

	// One-shot watches of every kind.
	_, _, dataW, err := c.GetW("/ops/m1")
	if err != nil {
		t.Fatal(err)
	}
	_, _, existW, err := c.ExistsW("/ops/later")
	if err != nil {
		t.Fatal(err)
	}
	_, _, childW, err := c.ChildrenW("/ops")
	if err != nil {
		t.Fatal(err)
	}
	_, _, delW, err := c.GetW(seqs[0])
	if err != nil {
		t.Fatal(err)
	}
	other := connect(t, srv.Addr(), 10*time.Second)
	if _, err := other.Set("/ops/m1", []byte("b"), -1); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Create("/ops/later", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	if err := other.Delete(seqs[0], -1); err != nil {
		t.Fatal(err)
	}
	for _, w := range []struct {
		name string
		ch   <-chan zk.Event
		typ  zk.EventType
		path string
	}{
		{"data", dataW, zk.EventNodeDataChanged, "/ops/m1"},
		{"exists", existW, zk.EventNodeCreated, "/ops/later"},
		{"child", childW, zk.EventNodeChildrenChanged, "/ops"},
		{"delete", delW, zk.EventNodeDeleted, seqs[0]},
	} {
		select {
		case e := <-w.ch:
			if e.Type != w.typ || e.Path != w.path {
				t.Errorf("%s watch: got %v %s, want %v %s", w.name, e.Type, e.Path, w.typ, w.path)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("%s watch did not fire", w.name)
		}
	}

	// ACL denials: a node only bob may write.
	if err := other.AddAuth("digest", []byte("bob:secret")); err != nil {
		t.Fatal(err)
	}
	bobOnly := append(zk.DigestACL(zk.PermAll, "bob", "secret"), zk.WorldACL(zk.PermRead)...)
	if _, err := other.Create("/ops/bob", []byte("mine"), 0, bobOnly); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Set("/ops/bob", []byte("theirs"), -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("set without permission: %v, want NoAuth", err)
	}
	if _, err := c.Create("/ops/bob/x", nil, 0, open); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("create without permission: %v, want NoAuth", err)
	}
	if data, _, err := c.Get("/ops/bob"); err != nil || string(data) != "mine" {
		t.Errorf("read with world READ: %q %v", data, err)
	}
	if _, err := other.Set("/ops/bob", []byte("still mine"), -1); err != nil {
		t.Errorf("bob's own write: %v", err)
	}

	// The ephemeral node goes with its session.
	c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		ok, _, err := other.Exists(eph)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("ephemeral node outlived its closed session")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
