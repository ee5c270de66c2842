package test

import (
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

// TestBadACLsAndXattrs sends invalid ACLs through the client port and the
// command line, and invalid extended attributes through the mount: each
// is refused (InvalidACL, EINVAL, ENOTSUP, EPERM, a one-line message) and
// nothing changes.
func TestBadACLsAndXattrs(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	if _, err := zc.Create("/acl", []byte("keep"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, zc)
	raw := dialRawSession(t, m.Addr())

	bad := []struct {
		name string
		acl  []wire.ACL
	}{
		{"no entries", nil},
		{"unknown scheme", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "bogus", ID: "x"}}}},
		{"world with another id", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "world", ID: "someone"}}}},
		{"digest without a hash", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "digest", ID: "alice"}}}},
		{"ip that is no address", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "ip", ID: "999.1.1.1"}}}},
		{"ip with a bad mask", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "ip", ID: "10.0.0.0/99"}}}},
		{"auth with nobody authenticated", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "auth", ID: ""}}}},
		{"empty scheme", []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "", ID: "x"}}}},
	}
	for _, b := range bad {
		code := raw.call(wire.OpCreate, &wire.CreateRequest{Path: "/acl-new", Data: []byte("x"), ACL: b.acl})
		if code != tree.CodeInvalidACL {
			t.Errorf("client port, create with %s: code %d (%s), want InvalidACL", b.name, code, wire.CodeMessage(code))
		}
		code2 := raw.call(wire.OpSetACL, &wire.SetACLRequest{Path: "/acl", ACL: b.acl, Version: -1})
		if code2 != tree.CodeInvalidACL {
			t.Errorf("client port, setACL with %s: code %d (%s), want InvalidACL", b.name, code2, wire.CodeMessage(code2))
		}
		t.Logf("client port, create / setACL with %s: %s / %s", b.name, wire.CodeMessage(code), wire.CodeMessage(code2))
		unchanged(t, zc, before, "ACL with "+b.name)
	}

	for _, acl := range []string{"bogus:x:rw", "world:anyone:rwxq", "world:anyone", "digest:alice:cdrwa", "ip:999.1.1.1:r", "", ":::"} {
		cliRefuses(t, zkfsCLI(t, m.Addr(), "", "setAcl", "/acl", acl), "CLI setAcl "+acl, "")
		cliRefuses(t, zkfsCLI(t, m.Addr(), "", "create", "/acl-cli", "x", acl), "CLI create with ACL "+acl, "")
	}
	unchanged(t, zc, before, "CLI ACLs")

	for _, c := range []struct{ script, want string }{
		{"setfattr -n user.zk.acl -v 'bogus:x:rw' acl", "Invalid argument"},
		{"setfattr -n user.zk.acl -v 'world:anyone:rwxq' acl", "Invalid argument"},
		{"setfattr -n user.zk.acl -v '' acl", "Invalid argument"},
		{"setfattr -n user.zk.acl -v \"$(head -c 100000 /dev/zero | tr '\\0' x)\" acl", ""},
		{"setfattr -n user.zk.kind -v socket acl", "Invalid argument"},
		{"setfattr -n user.zk.version -v 99 acl", "Operation not permitted"},
		{"setfattr -n user.zk.mzxid -v -1 acl", "Operation not permitted"},
		{"setfattr -x user.zk.version acl", "Operation not permitted"},
		{"setfattr -n user.zk.nope -v 1 acl", "Operation not supported"},
		{"setfattr -n user.other -v 1 acl", "Operation not supported"},
		{"setfattr -n trusted.x -v 1 acl", ""},
		{"setfattr -n security.x -v 1 acl", ""},
		{"setfattr -n user.zk.acl -v 0sAAEC acl", "Invalid argument"},
		{"getfattr -n user.zk.nope acl", "No such attribute"},
	} {
		r := m.sh(t, c.script)
		if r.Code == 0 {
			t.Errorf("mount, %q succeeded", c.script)
		} else if c.want != "" && !contains(r.Stderr, c.want) {
			t.Errorf("mount, %q: %q, want %q", c.script, r.Stderr, c.want)
		} else {
			t.Logf("mount, %.60s: %s", c.script, firstLineOf(r.Stderr))
		}
		unchanged(t, zc, before, "mount "+c.script)
	}
}

func contains(s, sub string) bool {
	return strings.Contains(s, sub)
}

func firstLineOf(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
