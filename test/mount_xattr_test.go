package test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountXattrs checks the stat as user.zk.* attributes, the ACL and
// kind attributes that can be set, and the read-only rest.
func TestMountXattrs(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir conf && echo hello > conf/app && echo d > conf/@data")
	_, st, err := zc.Get("/conf/app")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"user.zk.czxid":          fmt.Sprintf("0x%x", st.Czxid),
		"user.zk.mzxid":          fmt.Sprintf("0x%x", st.Mzxid),
		"user.zk.pzxid":          fmt.Sprintf("0x%x", st.Pzxid),
		"user.zk.ctime":          fmt.Sprint(st.Ctime),
		"user.zk.mtime":          fmt.Sprint(st.Mtime),
		"user.zk.version":        fmt.Sprint(st.Version),
		"user.zk.cversion":       fmt.Sprint(st.Cversion),
		"user.zk.aversion":       fmt.Sprint(st.Aversion),
		"user.zk.ephemeralOwner": "0x0",
		"user.zk.dataLength":     "6",
		"user.zk.numChildren":    "0",
		"user.zk.acl":            "world:anyone:cdrwa",
		"user.zk.kind":           "file",
	}
	// Each is read by name; plain getfattr -d lists only the ACL, the one
	// attribute a copy carries.
	for name, v := range want {
		if got := m.xattr(t, "conf/app", name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if dump := m.ok(t, "getfattr -d conf/app"); dump != "# file: conf/app\nuser.zk.acl=\"world:anyone:cdrwa\"\n\n" {
		t.Errorf("getfattr -d lists:\n%s", dump)
	}
	stat := m.xattr(t, "conf/app", "user.zk.stat")
	for _, line := range []string{
		fmt.Sprintf("cZxid = 0x%x\n", st.Czxid),
		fmt.Sprintf("dataVersion = %d\n", st.Version),
		"dataLength = 6\n", "numChildren = 0\n", "ephemeralOwner = 0x0\n",
	} {
		if !strings.Contains(stat, line) {
			t.Errorf("user.zk.stat lacks %q:\n%s", line, stat)
		}
	}
	// A directory and its @data show the directory's stat.
	if got := m.xattr(t, "conf", "user.zk.kind") + " " + m.xattr(t, "conf/@data", "user.zk.dataLength"); got != "dir 2" {
		t.Errorf("kind of conf and dataLength of conf/@data = %q", got)
	}

	// The ACL can be set, in zkCli.sh's syntax.
	m.ok(t, "setfattr -n user.zk.acl -v 'world:anyone:rwa,digest:bob:abc=:cd' conf/app")
	acl, _, err := zc.GetACL("/conf/app")
	if err != nil || len(acl) != 2 || acl[0].Perms != zk.PermRead|zk.PermWrite|zk.PermAdmin || acl[1].Scheme != "digest" || acl[1].ID != "bob:abc=" {
		t.Errorf("ACL after setfattr = %+v, %v", acl, err)
	}
	m.fails(t, "setfattr -n user.zk.acl -v 'world:anyone:xyz' conf/app", "Invalid argument")
	// Setting it needs ADMIN.
	m.ok(t, "setfattr -n user.zk.acl -v 'world:anyone:r' conf/app")
	m.fails(t, "setfattr -n user.zk.acl -v 'world:anyone:cdrwa' conf/app", "Permission denied")

	// Read-only attributes: EPERM, unless the value is the current one.
	m.fails(t, "setfattr -n user.zk.version -v 42 conf/@data", "Operation not permitted")
	m.ok(t, "setfattr -n user.zk.version -v \"$(getfattr --only-values -n user.zk.version conf/@data)\" conf/@data")
	m.fails(t, "setfattr -x user.zk.version conf/@data", "Operation not permitted")
	m.fails(t, "setfattr -n user.zk.nope -v 1 conf/@data", "Operation not supported")
	m.fails(t, "setfattr -n user.other -v 1 conf/@data", "Operation not supported")
	m.fails(t, "getfattr -n user.zk.nope conf/@data", "No such attribute")
	// cp -a copies the attributes it can, and the data.
	m.ok(t, "echo copy > src && cp -a src dst && cat dst")

	// Kind conversion: a file with data becomes a directory whose @data
	// holds that data, and back once it has no children.
	m.ok(t, "echo payload > node")
	m.ok(t, "setfattr -n user.zk.kind -v dir node")
	if got := m.ok(t, "stat -c %F node; cat node/@data; ls -A node"); got != "directory\npayload\n@data\n" {
		t.Errorf("after converting to dir: %q", got)
	}
	m.ok(t, "echo c > node/child")
	m.fails(t, "setfattr -n user.zk.kind -v file node", "Directory not empty")
	m.ok(t, "rm node/child && setfattr -n user.zk.kind -v file node")
	if got := m.ok(t, "stat -c %F node; cat node"); got != "regular file\npayload\n" {
		t.Errorf("after converting back to file: %q", got)
	}
	m.fails(t, "setfattr -n user.zk.kind -v socket node", "Invalid argument")
}
