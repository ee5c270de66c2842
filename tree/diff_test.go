package tree

import (
	"reflect"
	"testing"
)

func TestDiff(t *testing.T) {
	// Both trees start from the same writes; after has more.
	common := []Op{
		Create{Path: "/a", Data: []byte("1"), ACL: OpenACL},
		Create{Path: "/a/x", ACL: OpenACL},
		Create{Path: "/b", ACL: OpenACL},
		Create{Path: "/c", ACL: OpenACL},
		Create{Path: "/quiet", ACL: OpenACL},
	}
	later := []Op{
		SetData{Path: "/a", Data: []byte("2"), Version: -1},
		Delete{Path: "/a/x", Version: -1},
		Create{Path: "/a/y", ACL: OpenACL},
		Delete{Path: "/b", Version: -1},
		Create{Path: "/new", ACL: OpenACL},
		Delete{Path: "/c", Version: -1},
		Create{Path: "/c", ACL: OpenACL},
		SetACL{Path: "/quiet", ACL: OpenACL, Version: -1},
	}
	before, after := New(Config{}), New(Config{})
	zxid := int64(0)
	for _, op := range common {
		zxid++
		mustApply(t, before, hdr(zxid), op)
		mustApply(t, after, hdr(zxid), op)
	}
	for _, op := range later {
		zxid++
		mustApply(t, after, hdr(zxid), op)
	}
	type ev struct {
		typ  EventType
		path string
	}
	tests := []struct {
		path string
		want []ev
	}{
		{"/a", []ev{{EventNodeDataChanged, "/a"}, {EventNodeChildrenChanged, "/a"}}},
		{"/a/x", []ev{{EventNodeDeleted, "/a/x"}}},
		{"/a/y", []ev{{EventNodeCreated, "/a/y"}}},
		{"/b", []ev{{EventNodeDeleted, "/b"}}},
		{"/new", []ev{{EventNodeCreated, "/new"}}},
		{"/c", []ev{{EventNodeDeleted, "/c"}, {EventNodeCreated, "/c"}}},
		{"/quiet", nil}, // an ACL change has no event in ZooKeeper
		{"/never", nil},
		{"/", []ev{{EventNodeChildrenChanged, "/"}}},
	}
	for _, tt := range tests {
		var got []ev
		for _, e := range Diff(before, after, []string{tt.path}) {
			if e.Zxid != zxid {
				t.Errorf("%s: event zxid %d, want after's last zxid %d", tt.path, e.Zxid, zxid)
			}
			got = append(got, ev{e.Type, e.Path})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Diff(%s) = %v, want %v", tt.path, got, tt.want)
		}
	}
	// Nothing changed, nothing to tell.
	if got := Diff(before, before, []string{"/", "/a", "/a/x", "/b"}); len(got) != 0 {
		t.Errorf("Diff of a tree with itself = %v, want none", got)
	}
	// A scope covers each node once, in path order: /a's children come
	// from both trees (/a/x only before, /a/y only after), and a subtree
	// from / reaches every node either tree has.
	scopeTests := []struct {
		scope Scope
		want  []ev
	}{
		{Scope{Nodes: []string{"/a"}, Children: []string{"/a"}}, []ev{
			{EventNodeDataChanged, "/a"}, {EventNodeChildrenChanged, "/a"},
			{EventNodeDeleted, "/a/x"}, {EventNodeCreated, "/a/y"},
		}},
		{Scope{Nodes: []string{"/b", "/b"}, Subtrees: []string{"/a"}}, []ev{
			{EventNodeDeleted, "/a/x"}, {EventNodeCreated, "/a/y"}, {EventNodeDeleted, "/b"},
		}},
		{Scope{Subtrees: []string{"/"}}, []ev{
			{EventNodeDataChanged, "/a"}, {EventNodeChildrenChanged, "/a"},
			{EventNodeDeleted, "/a/x"}, {EventNodeCreated, "/a/y"}, {EventNodeDeleted, "/b"},
			{EventNodeDeleted, "/c"}, {EventNodeCreated, "/c"}, {EventNodeCreated, "/new"},
		}},
	}
	for _, tt := range scopeTests {
		var got []ev
		for _, e := range DiffScope(before, after, tt.scope) {
			got = append(got, ev{e.Type, e.Path})
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("DiffScope(%+v) = %v, want %v", tt.scope, got, tt.want)
		}
	}
	if got := DiffScope(nil, after, Scope{Nodes: []string{"/a"}}); got != nil {
		t.Errorf("DiffScope without a before tree = %v, want none", got)
	}
}
