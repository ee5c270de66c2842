package zkserver

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

func TestServerNodeOps(t *testing.T) {
	ts := startTestServer(t, nil)
	c, _ := zkConnect(t, ts.addr, 10*time.Second)
	acl := zk.WorldACL(zk.PermAll)

	if p, err := c.Create("/a", []byte("one"), 0, acl); err != nil || p != "/a" {
		t.Fatalf("create /a = %q, %v", p, err)
	}
	if _, err := c.Create("/a", nil, 0, acl); !errors.Is(err, zk.ErrNodeExists) {
		t.Errorf("create /a again: %v, want NodeExists", err)
	}
	if _, err := c.Create("/missing/child", nil, 0, acl); !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("create under a missing parent: %v, want NoNode", err)
	}
	data, st, err := c.Get("/a")
	if err != nil || string(data) != "one" || st.Version != 0 || st.DataLength != 3 {
		t.Fatalf("get /a = %q, %+v, %v", data, st, err)
	}
	st2, err := c.Set("/a", []byte("two"), 0)
	if err != nil || st2.Version != 1 || st2.Mzxid <= st.Mzxid {
		t.Fatalf("set /a = %+v, %v", st2, err)
	}
	if _, err := c.Set("/a", []byte("three"), 0); !errors.Is(err, zk.ErrBadVersion) {
		t.Errorf("set with a stale version: %v, want BadVersion", err)
	}
	ok, st3, err := c.Exists("/a")
	if err != nil || !ok || st3.Version != 1 {
		t.Errorf("exists /a = %v, %+v, %v", ok, st3, err)
	}
	if ok, _, err := c.Exists("/nope"); err != nil || ok {
		t.Errorf("exists /nope = %v, %v", ok, err)
	}

	// Sequential nodes get increasing ten-digit suffixes from the parent's
	// cversion.
	var seqs []string
	for i := 0; i < 3; i++ {
		p, err := c.Create("/a/s-", nil, zk.FlagSequence, acl)
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, p)
	}
	if want := []string{"/a/s-0000000000", "/a/s-0000000001", "/a/s-0000000002"}; !slices.Equal(seqs, want) {
		t.Errorf("sequential paths %q, want %q", seqs, want)
	}
	kids, cst, err := c.Children("/a")
	if err != nil || len(kids) != 3 || cst.NumChildren != 3 {
		t.Errorf("children /a = %q, %+v, %v", kids, cst, err)
	}
	if err := c.Delete("/a", -1); !errors.Is(err, zk.ErrNotEmpty) {
		t.Errorf("delete a parent: %v, want NotEmpty", err)
	}
	if err := c.Delete("/a/s-0000000000", 5); !errors.Is(err, zk.ErrBadVersion) {
		t.Errorf("delete with a wrong version: %v, want BadVersion", err)
	}
	for _, p := range seqs {
		if err := c.Delete(p, 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Delete("/a", -1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/a"); !errors.Is(err, zk.ErrNoNode) {
		t.Errorf("get a deleted node: %v", err)
	}

	// Containers, TTL nodes, ACLs and sync.
	if _, err := c.CreateContainer("/box", nil, zk.FlagContainer, acl); err != nil {
		t.Errorf("create container: %v", err)
	}
	if _, err := c.CreateTTL("/ttl", nil, zk.FlagTTL, acl, time.Hour); err != nil {
		t.Errorf("create TTL node: %v", err)
	}
	if _, err := c.SetACL("/box", zk.WorldACL(zk.PermRead|zk.PermAdmin|zk.PermCreate), -1); err != nil {
		t.Errorf("setACL: %v", err)
	}
	got, _, err := c.GetACL("/box")
	if err != nil || len(got) != 1 || got[0].Perms != zk.PermRead|zk.PermAdmin|zk.PermCreate {
		t.Errorf("getACL = %+v, %v", got, err)
	}
	if p, err := c.Sync("/box"); err != nil || p != "/box" {
		t.Errorf("sync = %q, %v", p, err)
	}
}

func TestServerEphemeralAndCloseSession(t *testing.T) {
	ts := startTestServer(t, nil)
	c1, _ := zkConnect(t, ts.addr, 10*time.Second)
	c2, _ := zkConnect(t, ts.addr, 10*time.Second)
	if _, err := c1.Create("/e", []byte("x"), zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := c1.Create("/e/child", nil, 0, zk.WorldACL(zk.PermAll)); !errors.Is(err, zk.ErrNoChildrenForEphemerals) {
		t.Errorf("child of an ephemeral: %v", err)
	}
	_, st, err := c2.Get("/e")
	if err != nil || st.EphemeralOwner != c1.SessionID() {
		t.Fatalf("ephemeral owner = %x, %v; want %x", st.EphemeralOwner, err, c1.SessionID())
	}
	c1.Close() // closeSession: the node goes in the same command
	ok, _, err := c2.Exists("/e")
	if err != nil || ok {
		t.Errorf("after closeSession, exists /e = %v, %v", ok, err)
	}
}

func TestServerMulti(t *testing.T) {
	ts := startTestServer(t, nil)
	c, _ := zkConnect(t, ts.addr, 10*time.Second)
	acl := zk.WorldACL(zk.PermAll)
	res, err := c.Multi(
		&zk.CreateRequest{Path: "/m", Data: []byte("d"), Acl: acl},
		&zk.CreateRequest{Path: "/m/s-", Acl: acl, Flags: zk.FlagSequence},
		&zk.SetDataRequest{Path: "/m", Data: []byte("e"), Version: 0},
		&zk.CheckVersionRequest{Path: "/m", Version: 1},
		&zk.DeleteRequest{Path: "/m/s-0000000000", Version: -1},
	)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 5 || res[0].String != "/m" || res[1].String != "/m/s-0000000000" || res[2].Stat == nil || res[2].Stat.Version != 1 {
		t.Errorf("multi results %+v", res)
	}
	for i, r := range res {
		if r.Error != nil {
			t.Errorf("op %d: %v", i, r.Error)
		}
	}

	// A failing multi changes nothing and reports each operation.
	res, err = c.Multi(
		&zk.CreateRequest{Path: "/m2", Acl: acl},
		&zk.SetDataRequest{Path: "/m", Data: []byte("f"), Version: 7},
		&zk.DeleteRequest{Path: "/m", Version: -1},
	)
	// go-zookeeper reports the first failed operation as Multi's error,
	// taken from the results: the header itself says OK.
	if !errors.Is(err, zk.ErrBadVersion) {
		t.Fatalf("failed multi: %v, want BadVersion", err)
	}
	// go-zookeeper has no error value for RuntimeInconsistency (-2).
	if len(res) != 3 || res[0].Error != nil || !errors.Is(res[1].Error, zk.ErrBadVersion) ||
		res[2].Error == nil || !strings.Contains(res[2].Error.Error(), "-2") {
		t.Errorf("failed multi results %+v, want ok, BadVersion, RuntimeInconsistency", res)
	}
	if ok, _, _ := c.Exists("/m2"); ok {
		t.Error("the failed multi's create was applied")
	}
	if d, _, _ := c.Get("/m"); string(d) != "e" {
		t.Errorf("/m = %q after the failed multi", d)
	}
}

// TestServerReplyZxids checks the reply headers: a write carries the zxid
// of its own log entry, a read the last applied one, and an error reply
// no body.
func TestServerReplyZxids(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	var cr wire.Create2Response
	h := c.mustCall(wire.OpCreate2, &wire.CreateRequest{Path: "/z", Data: []byte("1"), ACL: openACL()}, &cr)
	if h.Zxid != cr.Stat.Czxid || h.Zxid != cr.Stat.Mzxid || h.Zxid <= 0 {
		t.Errorf("create2 reply zxid %d, stat %+v", h.Zxid, cr.Stat)
	}
	var sr wire.SetDataResponse
	h2 := c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/z", Data: []byte("2"), Version: -1}, &sr)
	if h2.Zxid != sr.Stat.Mzxid || h2.Zxid <= h.Zxid {
		t.Errorf("setData reply zxid %d, stat %+v", h2.Zxid, sr.Stat)
	}
	var gr wire.GetDataResponse
	h3 := c.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/z"}, &gr)
	if h3.Zxid != ts.rep.LastZxid() || h3.Zxid < h2.Zxid || string(gr.Data) != "2" {
		t.Errorf("getData reply zxid %d (last %d), data %q", h3.Zxid, ts.rep.LastZxid(), gr.Data)
	}
	// A failed write still has its own log entry, as ZooKeeper's error
	// transactions do.
	h4, err := c.call(wire.OpDelete, &wire.DeleteRequest{Path: "/nope", Version: -1}, nil)
	if wire.CodeOf(err) != tree.CodeNoNode || h4.Zxid <= h3.Zxid {
		t.Errorf("delete /nope: %+v, %v", h4, err)
	}
	hp := c.mustCall(wire.OpPing, &wire.PingRequest{}, nil)
	if hp.Xid != wire.XidPing || hp.Zxid != ts.rep.LastZxid() {
		t.Errorf("ping reply %+v", hp)
	}
}

func TestServerRawOnlyOps(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	for _, p := range []string{"/r", "/r/a", "/r/a/b", "/r/c"} {
		c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: p, ACL: openACL()}, nil)
	}
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/r/e1", ACL: openACL(), Mode: tree.ModeEphemeral}, nil)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/x-e2", ACL: openACL(), Mode: tree.ModeEphemeral}, nil)

	var n wire.GetAllChildrenNumberResponse
	c.mustCall(wire.OpGetAllChildrenNumber, &wire.GetAllChildrenNumberRequest{Path: "/r"}, &n)
	if n.TotalNumber != 4 {
		t.Errorf("getAllChildrenNumber /r = %d, want 4", n.TotalNumber)
	}
	var e wire.GetEphemeralsResponse
	c.mustCall(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/"}, &e)
	if !slices.Equal(e.Ephemerals, []string{"/r/e1", "/x-e2"}) {
		t.Errorf("getEphemerals / = %q", e.Ephemerals)
	}
	c.mustCall(wire.OpGetEphemerals, &wire.GetEphemeralsRequest{PrefixPath: "/r"}, &e)
	if !slices.Equal(e.Ephemerals, []string{"/r/e1"}) {
		t.Errorf("getEphemerals /r = %q", e.Ephemerals)
	}
	var who wire.WhoAmIResponse
	c.mustCall(wire.OpWhoAmI, &wire.WhoAmIRequest{}, &who)
	if len(who.ClientInfo) != 1 || who.ClientInfo[0] != (wire.ClientInfo{AuthScheme: "ip", User: "127.0.0.1"}) {
		t.Errorf("whoAmI = %+v", who.ClientInfo)
	}
	var mr wire.MultiResponse
	c.mustCall(wire.OpMultiRead, &wire.MultiReadRequest{Ops: []wire.MultiOp{
		{Op: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/r/a"}},
		{Op: wire.OpGetChildren, Req: &wire.GetChildrenRequest{Path: "/r"}},
		{Op: wire.OpGetData, Req: &wire.GetDataRequest{Path: "/missing"}},
	}}, &mr)
	if len(mr.Results) != 3 || mr.Results[0].Op != wire.OpGetData || mr.Results[1].Op != wire.OpGetChildren ||
		strings.Join(mr.Results[1].Children, ",") != "a,c,e1" || mr.Results[2].Op != wire.OpError || mr.Results[2].Err != tree.CodeNoNode {
		t.Errorf("multiRead = %+v", mr.Results)
	}
	// A lone check answers like setData, as ZooKeeper's server does.
	if _, err := c.call(wire.OpCheck, &wire.CheckVersionRequest{Path: "/r", Version: 3}, nil); wire.CodeOf(err) != tree.CodeBadVersion {
		t.Errorf("check with a wrong version: %v", err)
	}
	// Requests zkfs does not serve are answered, and the connection lives.
	if h, err := c.call(wire.OpSASL, &wire.GetSASLRequest{Token: []byte("x")}, nil); wire.CodeOf(err) != tree.CodeUnimplemented {
		t.Errorf("sasl: %+v, %v", h, err)
	}
	if _, err := c.call(wire.OpReconfig, &wire.ReconfigRequest{}, nil); wire.CodeOf(err) != tree.CodeReconfigDisabled {
		t.Errorf("reconfig: %v", err)
	}
	if h, err := c.call(wire.OpCode(77), &wire.PingRequest{}, nil); wire.CodeOf(err) != tree.CodeUnimplemented || h.Zxid != -1 {
		t.Errorf("unknown opcode: %+v, %v", h, err)
	}
	c.mustCall(wire.OpExists, &wire.ExistsRequest{Path: "/r"}, nil)
}
