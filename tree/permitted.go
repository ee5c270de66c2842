package tree

// Permitted reports whether id may perform perm on a node whose ACL is acl.
// The wire layer needs it for watch notifications: a NodeDeleted event
// still carries the ACL of a node that is gone, so CheckPerm cannot be used,
// and ZooKeeper 3.8.4 withholds events from watchers without READ.
func Permitted(acl []ACL, perm int32, id Identity) bool {
	return permitted(acl, perm, id)
}
