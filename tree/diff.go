package tree

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
