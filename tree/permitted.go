package tree

import "strings"

// This file holds the read rules that every interface applies the same way:
// the client port (wire) for its requests, the mount (fusefs) for the
// attributes, listings and xattrs that show the same facts.

// Permitted reports whether id may perform perm on a node whose ACL is acl.
// The wire layer needs it for watch notifications: a NodeDeleted event
// still carries the ACL of a node that is gone, so CheckPerm cannot be used,
// and ZooKeeper 3.8.4 withholds events from watchers without READ.
func Permitted(acl []ACL, perm int32, id Identity) bool {
	return permitted(acl, perm, id)
}

// StatAs returns a node's stat as ZooKeeper 3.8.4 and later answer exists
// (ZOOKEEPER-2590): an existing node's stat needs READ, because it tells
// who owns an ephemeral node, how large the data is and when it changed.
// A missing node is ErrNoNode whoever asks.
func (t *Tree) StatAs(path string, id Identity) (Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return Stat{}, err
	}
	if !permitted(n.acl.list, PermRead, id) {
		return Stat{}, ErrNoAuth
	}
	return n.stat(), nil
}

// Rights returns the permission bits that id holds on the node at path,
// each bit checked as the request needing it would check it. The mount
// turns them into the mode bits the kernel enforces.
func (t *Tree) Rights(path string, id Identity) (int32, error) {
	n, err := t.lookup(path)
	if err != nil {
		return 0, err
	}
	return Rights(n.acl.list, id), nil
}

// Rights returns the permission bits that id holds under acl.
func Rights(acl []ACL, id Identity) int32 {
	var r int32
	for _, p := range []int32{PermRead, PermWrite, PermCreate, PermDelete, PermAdmin} {
		if permitted(acl, p, id) {
			r |= p
		}
	}
	return r
}

// RedactACL returns acl as ZooKeeper's getACL shows it to a caller without
// ADMIN: every digest id keeps its user name and loses its password hash,
// which is an unsalted SHA-1 that can be brute-forced offline. The input is
// not modified.
func RedactACL(acl []ACL) []ACL {
	out := make([]ACL, len(acl))
	for i, a := range acl {
		if a.ID.Scheme == "digest" {
			// Java's replaceAll(":.*", ":x"): from the first colon on.
			if j := strings.IndexByte(a.ID.ID, ':'); j >= 0 {
				a.ID.ID = a.ID.ID[:j] + ":x"
			}
		}
		out[i] = a
	}
	return out
}
