package zkserver

import (
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"slices"
	"testing"
	"time"

	"zkfs/tree"
	"zkfs/wire"

	"github.com/go-zookeeper/zk"
)

func TestACLEnforcement(t *testing.T) {
	ts := startTestServer(t, nil)
	owner, _ := zkConnect(t, ts.addr, 10*time.Second)
	if err := owner.AddAuth("digest", []byte("bob:secret")); err != nil {
		t.Fatal(err)
	}
	bobOnly := zk.DigestACL(zk.PermAll, "bob", "secret")
	if _, err := owner.Create("/priv", []byte("x"), 0, bobOnly); err != nil {
		t.Fatal(err)
	}
	// "auth" expands to the creator's digest.
	if _, err := owner.Create("/priv2", nil, 0, zk.AuthACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	got, _, err := owner.GetACL("/priv2")
	if err != nil || len(got) != 1 || got[0].Scheme != "digest" || got[0].ID != bobOnly[0].ID {
		t.Errorf("auth ACL became %+v, %v; want %+v", got, err, bobOnly)
	}

	anon, _ := zkConnect(t, ts.addr, 10*time.Second)
	for name, err := range map[string]error{
		"get":      third(anon.Get("/priv")),
		"children": third(anon.Children("/priv")),
		"getACL":   third(anon.GetACL("/priv")),
		"set":      second(anon.Set("/priv", nil, -1)),
		"create":   second(anon.Create("/priv/c", nil, 0, zk.WorldACL(zk.PermAll))),
		"setACL":   second(anon.SetACL("/priv", zk.WorldACL(zk.PermAll), -1)),
	} {
		if !errors.Is(err, zk.ErrNoAuth) {
			t.Errorf("anonymous %s: %v, want NoAuth", name, err)
		}
	}
	// exists needs READ, as in ZooKeeper 3.8.4 (ZOOKEEPER-2590), and a
	// missing node is NoNode for anyone.
	if _, _, err := anon.Exists("/priv"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("anonymous exists: %v, want NoAuth", err)
	}
	if ok, _, err := anon.Exists("/nothing"); err != nil || ok {
		t.Errorf("anonymous exists of a missing node: %v, %v", ok, err)
	}
	// Nobody anonymous may use "auth".
	if _, err := anon.Create("/x", nil, 0, zk.AuthACL(zk.PermAll)); !errors.Is(err, zk.ErrInvalidACL) {
		t.Errorf("auth ACL without credentials: %v", err)
	}
	wrong, _ := zkConnect(t, ts.addr, 10*time.Second)
	wrong.AddAuth("digest", []byte("bob:wrong"))
	if _, _, err := wrong.Get("/priv"); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("wrong password: %v", err)
	}
	if err := anon.AddAuth("digest", []byte("bob:secret")); err != nil {
		t.Fatal(err)
	}
	if d, _, err := anon.Get("/priv"); err != nil || string(d) != "x" {
		t.Errorf("after addauth: %q, %v", d, err)
	}
	// Deleting a child needs DELETE on the parent.
	owner.Create("/open", nil, 0, zk.WorldACL(zk.PermRead|zk.PermCreate))
	owner.Create("/open/k", nil, 0, zk.WorldACL(zk.PermAll))
	if err := wrong.Delete("/open/k", -1); !errors.Is(err, zk.ErrNoAuth) {
		t.Errorf("delete without DELETE on the parent: %v", err)
	}
}

func TestACLRawReads(t *testing.T) {
	ts := startTestServer(t, nil)
	owner := dialRaw(t, ts.addr, 10000)
	owner.mustCall(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("bob:secret")}, nil)
	mixed := []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "auth"}}, {Perms: 1, ID: wire.ID{Scheme: "world", ID: "anyone"}}}
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/m", ACL: mixed}, nil)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/m/k", ACL: []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "auth"}}}}, nil)

	anon := dialRaw(t, ts.addr, 10000)
	// With READ but not ADMIN, getACL hides the digest's hash.
	var gr wire.GetACLResponse
	anon.mustCall(wire.OpGetACL, &wire.GetACLRequest{Path: "/m"}, &gr)
	if len(gr.ACL) != 2 || gr.ACL[0].ID.ID != "bob:x" {
		t.Errorf("getACL without ADMIN: %+v", gr.ACL)
	}
	owner.mustCall(wire.OpGetACL, &wire.GetACLRequest{Path: "/m"}, &gr)
	if gr.ACL[0].ID.ID != tree.DigestID("bob:secret") {
		t.Errorf("getACL with ADMIN: %+v", gr.ACL)
	}
	if _, err := anon.call(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/m/k"}, nil); wire.CodeOf(err) != tree.CodeNoAuth {
		t.Errorf("getAllChildrenNumber without READ: %v", err)
	}
	var mr wire.MultiResponse
	anon.mustCall(wire.OpMultiRead, &wire.MultiReadRequest{Ops: []wire.MultiOp{
		{Op: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/m/k"}},
		{Op: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/m"}},
	}}, &mr)
	if mr.Results[0].Err != tree.CodeNoAuth || mr.Results[1].Op != wire.OpGetChildren {
		t.Errorf("multiRead with one denied read: %+v", mr.Results)
	}
	// A denied getData sets no watch.
	anon.call(wire.OpGetData, &wire.GetDataRequest{Path: "/m/k", Watch: true}, nil)
	if _, err := anon.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/m/k", Type: wire.WatcherData}, nil); wire.CodeOf(err) != tree.CodeNoWatcher {
		t.Errorf("watch set by a denied read: %v", err)
	}
	// Nor does a denied exists; its stat stays hidden.
	if _, err := anon.call(wire.OpExists, &wire.ExistsRequest{Path: "/m/k", Watch: true}, nil); wire.CodeOf(err) != tree.CodeNoAuth {
		t.Errorf("exists without READ: %v", err)
	}
	if _, err := anon.call(wire.OpCheckWatches, &wire.CheckWatchesRequest{Path: "/m/k", Type: wire.WatcherData}, nil); wire.CodeOf(err) != tree.CodeNoWatcher {
		t.Errorf("watch set by a denied exists: %v", err)
	}
}

func TestAuthSchemes(t *testing.T) {
	sum := sha1.Sum([]byte("root:rootpw"))
	super := "root:" + base64.StdEncoding.EncodeToString(sum[:])
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.SuperDigest = super })

	owner := dialRaw(t, ts.addr, 10000)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/lan", ACL: []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "ip", ID: "127.0.0.0/8"}}}}, nil)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/far", ACL: []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "ip", ID: "10.1.2.3"}}}}, nil)
	owner.mustCall(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("ann:pw")}, nil)
	owner.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/ann", ACL: []wire.ACL{{Perms: permAll, ID: wire.ID{Scheme: "auth"}}}}, nil)

	c := dialRaw(t, ts.addr, 10000)
	if _, err := c.call(wire.OpGetData, &wire.GetDataRequest{Path: "/lan"}, nil); err != nil {
		t.Errorf("ip ACL matching the client: %v", err)
	}
	if _, err := c.call(wire.OpGetData, &wire.GetDataRequest{Path: "/far"}, nil); wire.CodeOf(err) != tree.CodeNoAuth {
		t.Errorf("ip ACL for another address: %v", err)
	}
	// The superuser may do anything.
	h := c.mustCall(wire.OpAuth, &wire.AuthPacket{Scheme: "digest", Auth: []byte("root:rootpw")}, nil)
	if h.Xid != wire.XidAuth || h.Zxid != 0 {
		t.Errorf("auth reply header %+v", h)
	}
	c.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/far"}, nil)
	c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/ann", Data: []byte("mine"), Version: -1}, nil)
	var who wire.WhoAmIResponse
	c.mustCall(wire.OpWhoAmI, &wire.WhoAmIRequest{}, &who)
	want := []wire.ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "super"}, {AuthScheme: "digest", User: "root"}}
	if !slices.Equal(who.ClientInfo, want) {
		t.Errorf("whoAmI = %+v, want %+v", who.ClientInfo, want)
	}

	// An unknown scheme fails the auth and closes the connection.
	bad := dialRaw(t, ts.addr, 10000)
	h, err := bad.call(wire.OpAuth, &wire.AuthPacket{Scheme: "kerberos", Auth: []byte("x")}, nil)
	if wire.CodeOf(err) != tree.CodeAuthFailed || h.Xid != wire.XidAuth {
		t.Errorf("unknown scheme: %+v, %v", h, err)
	}
	if err := bad.expectClosed(); err != nil {
		t.Errorf("after a failed auth: %v", err)
	}
}

// TestAuthFailedGoZookeeper: go-zookeeper reports a failed addauth.
func TestAuthFailedGoZookeeper(t *testing.T) {
	ts := startTestServer(t, nil)
	c, _ := zkConnect(t, ts.addr, 10*time.Second)
	if err := c.AddAuth("nosuch", []byte("x")); err == nil {
		t.Error("addauth with an unknown scheme succeeded")
	}
}

func second[T any](_ T, err error) error { return err }

func third[T, U any](_ T, _ U, err error) error { return err }
