package tree

import (
	"errors"
	"reflect"
	"testing"
)

// open is an identity with no credentials beyond world:anyone.
var open = Identity{}

func hdr(zxid int64) Header { return Header{Zxid: zxid, Time: 1000 * zxid} }

func mustApply(t *testing.T, tr *Tree, h Header, op Op) Result {
	t.Helper()
	r, _ := tr.Apply(h, op)
	if r.Err != nil {
		t.Fatalf("apply %#v: %v", op, r.Err)
	}
	return r
}

func TestNewMatchesFreshZooKeeper(t *testing.T) {
	// Observed on ZooKeeper 3.8.0 standalone (Debian 3.8.0-11+deb12u2),
	// `get -s` and `getAcl` on a fresh data directory, 2026-11-22.
	tests := []struct {
		path string
		want Stat
		acl  []ACL
		kids []string
	}{
		{"/", Stat{Cversion: -1, NumChildren: 1}, OpenACL, []string{"zookeeper"}},
		{"/zookeeper", Stat{Cversion: -2, NumChildren: 2}, OpenACL, []string{"config", "quota"}},
		{"/zookeeper/quota", Stat{}, OpenACL, []string{}},
		{"/zookeeper/config", Stat{Aversion: -1}, []ACL{{Perms: PermRead, ID: ID{"world", "anyone"}}}, []string{}},
	}
	tr := New(Config{})
	for _, tt := range tests {
		kids, got, err := tr.Children(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if got != tt.want {
			t.Errorf("%s: stat %+v, want %+v", tt.path, got, tt.want)
		}
		if !reflect.DeepEqual(kids, tt.kids) {
			t.Errorf("%s: children %q, want %q", tt.path, kids, tt.kids)
		}
		acl, _, _ := tr.GetACL(tt.path)
		if !reflect.DeepEqual(acl, tt.acl) {
			t.Errorf("%s: acl %v, want %v", tt.path, acl, tt.acl)
		}
	}
	if got, want := tr.NodeCount(), 4; got != want {
		t.Errorf("NodeCount() = %d, want %d", got, want)
	}
}

func TestCreateBasics(t *testing.T) {
	tr := New(Config{})
	r := mustApply(t, tr, hdr(5), Create{Path: "/a", Data: []byte("x"), ACL: OpenACL})
	if got, want := r.Path, "/a"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	want := Stat{Czxid: 5, Mzxid: 5, Pzxid: 5, Ctime: 5000, Mtime: 5000, DataLength: 1}
	if r.Stat != want {
		t.Errorf("stat %+v, want %+v", r.Stat, want)
	}
	root, _ := tr.Stat("/")
	if root.Cversion != 0 || root.Pzxid != 5 || root.NumChildren != 2 {
		t.Errorf("root stat %+v", root)
	}
	r, _ = tr.Apply(hdr(6), Create{Path: "/a", ACL: OpenACL})
	if !errors.Is(r.Err, ErrNodeExists) {
		t.Errorf("second create: %v", r.Err)
	}
	if tr.LastZxid() != 6 {
		t.Errorf("LastZxid %d", tr.LastZxid())
	}
}
