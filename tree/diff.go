package tree

import "sort"

// Diff returns the events that turning before into after implies for the
// nodes at paths: what a watcher of each path would have been told had the
// writes between the two trees been applied one by one, with repeats of a
// kind merged. A replica that installs a snapshot gets the new tree without
// the writes that led to it; its watchers are owed these events and no
// others (a spurious one would tell a client that data changed when it did
// not). Per path the order is NodeDeleted, NodeCreated, NodeDataChanged,
// NodeChildrenChanged; a node deleted and created again shows as both. The
// events carry after's last zxid.
func Diff(before, after *Tree, paths []string) []Event {
	zxid := after.LastZxid()
	var out []Event
	for _, p := range paths {
		b, errB := before.Stat(p)
		a, errA := after.Stat(p)
		had, has := errB == nil, errA == nil
		switch {
		case !had && !has:
		case had && (!has || b.Czxid != a.Czxid):
			acl, _, _ := before.GetACL(p)
			out = append(out, Event{Type: EventNodeDeleted, Path: p, Zxid: zxid, ACL: acl})
			if has {
				acl, _, _ := after.GetACL(p)
				out = append(out, Event{Type: EventNodeCreated, Path: p, Zxid: zxid, ACL: acl})
			}
		case !had:
			acl, _, _ := after.GetACL(p)
			out = append(out, Event{Type: EventNodeCreated, Path: p, Zxid: zxid, ACL: acl})
		default:
			acl, _, _ := after.GetACL(p)
			if a.Mzxid != b.Mzxid {
				out = append(out, Event{Type: EventNodeDataChanged, Path: p, Zxid: zxid, ACL: acl})
			}
			if a.Pzxid != b.Pzxid {
				out = append(out, Event{Type: EventNodeChildrenChanged, Path: p, Zxid: zxid, ACL: acl})
			}
		}
	}
	return out
}

// Scope is the set of nodes that a group of watchers covers, for
// DiffScope. Children and Subtrees are looked up in both trees, so that a
// node that only one of them has is covered too.
type Scope struct {
	Nodes    []string // the nodes themselves
	Children []string // the children of these nodes
	Subtrees []string // every node below these (not the nodes themselves)
}

// DiffScope is Diff over the nodes in s, each once, in path order: the
// events a snapshot restore owes the watchers that cover s. It returns
// nothing if either tree is missing.
func DiffScope(before, after *Tree, s Scope) []Event {
	if before == nil || after == nil {
		return nil
	}
	paths := map[string]struct{}{}
	for _, p := range s.Nodes {
		paths[p] = struct{}{}
	}
	for _, t := range []*Tree{before, after} {
		for _, p := range s.Children {
			kids, _, _ := t.Children(p)
			for _, k := range kids {
				paths[Join(p, k)] = struct{}{}
			}
		}
		for _, p := range s.Subtrees {
			addSubtree(t, p, paths)
		}
	}
	list := make([]string, 0, len(paths))
	for p := range paths {
		list = append(list, p)
	}
	sort.Strings(list)
	return Diff(before, after, list)
}

// addSubtree adds the paths of the nodes below p in t to paths.
func addSubtree(t *Tree, p string, paths map[string]struct{}) {
	kids, _, err := t.Children(p)
	if err != nil {
		return
	}
	for _, k := range kids {
		c := Join(p, k)
		paths[c] = struct{}{}
		addSubtree(t, c, paths)
	}
}
