package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

// badPaths are paths ZooKeeper refuses, and why.
var badPaths = []struct{ name, path string }{
	{"empty", ""},
	{"relative", "a"},
	{"empty component", "/bad//x"},
	{"trailing slash", "/bad/"},
	{"dot", "/bad/."},
	{"dot-dot", "/bad/../x"},
	{"dot in the middle", "/bad/./x"},
	{"NUL", "/bad/a\x00b"},
	{"control character", "/bad/a\x01b"},
	{"DEL", "/bad/a\x7fb"},
	{"C1 control", "/bad/a\u0085b"},
	{"private use", "/bad/a\ue000b"},
	{"noncharacter", "/bad/a\ufff5b"},
}

// TestBadPathsEverywhere sends bad paths through the client port, the
// mount and the command line: each is refused with BadArguments, EINVAL or
// a one-line message, and nothing changes. Very long names and very deep
// paths are legal in ZooKeeper and work where the kernel allows them.
func TestBadPathsEverywhere(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	// A directory through the mount, so that it stays one when empty.
	if err := os.Mkdir(m.path("bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, zc)
	raw := dialRawSession(t, m.Addr())
	open := []wire.ACL{{Perms: 31, ID: tree.ID{Scheme: "world", ID: "anyone"}}}

	// go-zookeeper checks paths before sending; the raw connection sends
	// them as a hostile or careless client would.
	for _, bp := range badPaths {
		// ZooKeeper 3.8 looks the parent up first: /p//x is NoNode there
		// (tree/testdata/paths.txt), and so it is here.
		code := raw.call(wire.OpCreate, &wire.CreateRequest{Path: bp.path, Data: []byte("x"), ACL: open})
		if code != tree.CodeBadArguments && code != tree.CodeNoNode {
			t.Errorf("client port, create %s path %q: code %d, want BadArguments or NoNode", bp.name, bp.path, code)
		} else {
			t.Logf("client port, create %s path %q: %s", bp.name, bp.path, wire.CodeMessage(code))
		}
		for op, body := range map[wire.OpCode]wire.Record{
			wire.OpSetData: &wire.SetDataRequest{Path: bp.path, Data: []byte("x"), Version: -1},
			wire.OpDelete:  &wire.DeleteRequest{Path: bp.path, Version: -1},
			wire.OpSetACL:  &wire.SetACLRequest{Path: bp.path, ACL: open, Version: -1},
		} {
			if code := raw.call(op, body); code != tree.CodeBadArguments && code != tree.CodeNoNode {
				t.Errorf("client port, %v of %s path %q: code %d", op, bp.name, bp.path, code)
			}
		}
		if bp.path != "" && !strings.ContainsRune(bp.path, 0) {
			cliRefuses(t, zkfsCLI(t, m.Addr(), "", "create", bp.path, "x"), "CLI create "+bp.name+" path", "")
		}
		unchanged(t, zc, before, bp.name+" path")
	}

	// Through the mount, names with characters ZooKeeper refuses are
	// EINVAL; the kernel itself handles ., .., empty components and
	// names over 255 bytes.
	for _, name := range []string{"a\x01b", "a\x7fb", "a\u0085b", "a\ue000b", "a\ufff5b"} {
		p := m.path("bad/" + name)
		wantErrno(t, fmt.Sprintf("mount mkdir %q", name), syscall.Mkdir(p, 0o755), syscall.EINVAL)
		_, err := os.Create(p)
		wantErrno(t, fmt.Sprintf("mount create %q", name), err, syscall.EINVAL)
	}
	wantErrno(t, "mount mkdir of a 1025-byte name", syscall.Mkdir(m.path("bad/"+strings.Repeat("n", 1025)), 0o755), syscall.ENAMETOOLONG)
	wantErrno(t, "mount mkdir of .", syscall.Mkdir(m.path("bad/."), 0o755), syscall.EEXIST)
	if err := syscall.Rmdir(m.path("bad/..")); err == nil {
		t.Error("mount rmdir of .. succeeded")
	} else {
		t.Logf("mount rmdir of bad/..: %v", err)
	}
	unchanged(t, zc, before, "bad names through the mount")

	// A 255-byte name is a legal name everywhere; names up to FUSE's 1024
	// bytes show in the mount; a longer one is legal on the client port,
	// and the mount, which cannot show it, leaves it out of listings.
	long := strings.Repeat("l", 255)
	if err := os.WriteFile(m.path("bad/"+long), []byte("long\n"), 0o644); err != nil {
		t.Errorf("a 255-byte name through the mount: %v", err)
	}
	if data, _, err := zc.Get("/bad/" + long); err != nil || string(data) != "long\n" {
		t.Errorf("the 255-byte name through the client port: %q %v", data, err)
	}
	huge := "/bad/" + strings.Repeat("h", 5000)
	if _, err := zc.Create(huge, []byte("h"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("client port, a 5000-byte name: %v", err)
	}
	entries, err := os.ReadDir(m.path("bad"))
	if err != nil {
		t.Errorf("listing a directory with a 5000-byte name through the mount: %v", err)
	}
	for _, e := range entries {
		if len(e.Name()) > 1024 {
			t.Errorf("the mount lists a %d-byte name", len(e.Name()))
		}
	}
	t.Logf("mount listing of a directory holding a 5000-byte name: %d entries, %v", len(entries), err)
	if r := zkfsCLI(t, m.Addr(), "", "get", huge); r.code != 0 || strings.TrimSpace(r.stdout) != "h" {
		t.Errorf("CLI get of a 5000-byte name: exit %d %q %q", r.code, r.stdout, r.stderr)
	}

	mid := strings.Repeat("k", 1000)
	if _, err := zc.Create("/bad/"+mid, []byte("k"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Errorf("client port, a 1000-byte name: %v", err)
	}
	if b, err := os.ReadFile(m.path("bad/" + mid)); err != nil || string(b) != "k" {
		t.Errorf("mount read of a 1000-byte name: %q %v", b, err)
	}

	// A path 1,000 levels deep: legal, readable through every interface
	// within the kernel's PATH_MAX.
	deep := ""
	for i := 0; i < 1000; i++ {
		deep += "/d"
		if _, err := zc.Create(deep, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatalf("client port, create at depth %d: %v", i+1, err)
		}
	}
	if _, err := zc.Set(deep, []byte("deep"), -1); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(m.Mnt, deep)); err != nil || string(b) != "deep" {
		t.Errorf("mount read at depth 1000: %q %v", b, err)
	}
	if r := zkfsCLI(t, m.Addr(), "", "get", deep); r.code != 0 || strings.TrimSpace(r.stdout) != "deep" {
		t.Errorf("CLI get at depth 1000: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	// Deeper than PATH_MAX allows a path through the mount: the kernel
	// refuses with ENAMETOOLONG, the server is not asked.
	tooDeep := filepath.Join(m.Mnt, strings.Repeat("/d", 2100))
	_, err = os.Stat(tooDeep)
	wantErrno(t, "mount stat beyond PATH_MAX", err, syscall.ENAMETOOLONG)
}

// TestDataOverTheLimit writes data one byte over --max-data-size through
// every interface: the client port answers an error, the mount EFBIG, the
// command line one line; the node keeps its data. Exactly the limit works.
func TestDataOverTheLimit(t *testing.T) {
	m := startMounted(t, "--max-data-size", "1024")
	zc := connect(t, m.Addr(), 10*time.Second)
	if _, err := zc.Create("/big", []byte("small"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	before := treeState(t, zc)
	over := strings.Repeat("o", 1025)

	_, err := zc.Set("/big", []byte(over), -1)
	if err == nil {
		t.Error("client port, setData over the limit succeeded")
	}
	t.Logf("client port, setData of 1025 bytes: %v", err)
	_, err = zc.Create("/big2", []byte(over), 0, zk.WorldACL(zk.PermAll))
	if err == nil {
		t.Error("client port, create over the limit succeeded")
	}
	t.Logf("client port, create with 1025 bytes: %v", err)
	_, err = zc.Multi(&zk.SetDataRequest{Path: "/big", Data: []byte("fits"), Version: -1}, &zk.CreateRequest{Path: "/big3", Data: []byte(over), Acl: zk.WorldACL(zk.PermAll)})
	if err == nil {
		t.Error("client port, multi with one create over the limit succeeded")
	}
	t.Logf("client port, multi whose second op is over the limit: %v", err)
	unchanged(t, zc, before, "client port data over the limit")

	wantErrno(t, "mount truncate over the limit", os.Truncate(m.path("big"), 2000), syscall.EFBIG)
	unchanged(t, zc, before, "mount truncate over the limit")
	// The write fails with EFBIG, and nothing of the descriptor is
	// committed, not even its open's O_TRUNC; O_CREAT without O_EXCL
	// creates nothing either.
	err = os.WriteFile(m.path("big"), []byte(over), 0o644)
	wantErrno(t, "mount write over the limit", err, syscall.EFBIG)
	err = os.WriteFile(m.path("big4"), []byte(over), 0o644)
	wantErrno(t, "mount create over the limit", err, syscall.EFBIG)
	unchanged(t, zc, before, "mount write over the limit")
	if _, err := zc.Set("/big", []byte("small"), -1); err != nil {
		t.Fatal(err)
	}
	zc.Delete("/big4", -1)
	before = treeState(t, zc)

	cliRefuses(t, zkfsCLI(t, m.Addr(), over, "set", "/big", "-"), "CLI set over the limit", "")
	cliRefuses(t, zkfsCLI(t, m.Addr(), over, "create", "/big5", "-"), "CLI create over the limit", "")
	unchanged(t, zc, before, "CLI data over the limit")

	// Over the packet limit (jute.maxbuffer) the server drops the
	// connection rather than read the request. go-zookeeper would not
	// send it; a raw connection does.
	raw := dialRawSession(t, m.Addr())
	raw.writeRefused(wire.AppendFrame(nil, &wire.RequestHeader{Xid: 1, Type: wire.OpSetData}, &wire.SetDataRequest{Path: "/big", Data: make([]byte, 2<<20), Version: -1}))
	if !raw.closedByServer() {
		t.Error("the server kept a connection that sent a 2 MiB packet")
	}
	unchanged(t, zc, before, "a packet over the limit")

	exact := strings.Repeat("e", 1024)
	if _, err := zc.Set("/big", []byte(exact), -1); err != nil {
		t.Errorf("client port, exactly the limit: %v", err)
	}
	if err := os.WriteFile(m.path("big"), []byte(exact), 0o644); err != nil {
		t.Errorf("mount, exactly the limit: %v", err)
	}
}
