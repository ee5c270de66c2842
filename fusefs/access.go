package fusefs

import (
	"context"

	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
)

// Who acts through the mount. The mount's session carries one identity
// (--mount-auth), which belongs to the mount's owner (--uid). With
// --allow-other other local users get in too, and they must get no more
// than any local process gets from the client port without credentials:
// world:anyone and ip:127.0.0.1. Two mechanisms hold them to that:
//
//   - The mode bits (modeBits): the owner's bits are the mount identity's
//     rights on the node, the group's and others' bits a stranger's. With
//     --allow-other the mount runs with default_permissions, so the kernel
//     refuses what the bits refuse before the request reaches the mount;
//     the bits are conservative for strangers, so that whatever the kernel
//     lets a stranger do through the mount's session is something a
//     stranger may do anyway.
//   - The attributes that the bits cannot express (the ACL and its digest
//     hashes, the stat) are read and written with the caller's identity
//     (callerIdentity), under the same rules as the client port's getACL,
//     exists and setACL.

// strangerIdentity is what a local process gets on the client port without
// authenticating.
func strangerIdentity() tree.Identity {
	return tree.Identity{IDs: []tree.ID{{Scheme: "ip", ID: "127.0.0.1"}}}
}

// callerIdentity returns the identity a FUSE request acts with: the
// mount's for its owner, a stranger's for any other user. Without
// --allow-other the kernel lets only the mounting user in, and that user
// holds the mount's credentials anyway.
func (m *Mount) callerIdentity(ctx context.Context) tree.Identity {
	if !m.allowOther {
		return m.identity
	}
	if c, ok := fuse.FromContext(ctx); ok && c.Uid == m.uid {
		return m.identity
	}
	return m.stranger
}

// rights reads what the owner may not and a stranger may do on a node, for
// the mode bits (see info).
func (m *Mount) rights(t *tree.Tree, path string) (ownerDenied, strangerRights int32) {
	own, err := t.Rights(path, m.identity)
	if err != nil {
		return tree.PermAll, 0
	}
	other, _ := t.Rights(path, m.stranger)
	return tree.PermAll &^ own, other
}

// openRights is what anyone may do on a node the mount creates, whose ACL
// is tree.OpenACL.
const openRights = tree.PermAll

// modeBits turns rights into permission bits. Files: r is READ, w is WRITE.
// Directories: r is READ (getChildren), x is always set (ZooKeeper checks
// nothing on the way to a node), and w, which the kernel requires for
// creating, deleting and renaming entries, is CREATE or DELETE for the
// owner (the mount then acts with the owner's own identity, and the tree
// refuses the other) but CREATE and DELETE for a stranger (the mount acts
// with more than the stranger's rights, so the kernel's check must be the
// whole check). writable false drops every w bit (@watch).
//
// Without --allow-other (strangers false) the kernel lets nobody but the
// mounting user in, and the group and other bits only keep the usual look
// of a local file system: the owner's, without w.
func modeBits(ownerDenied, strangerDenied int32, asDir, writable, strangers bool) uint32 {
	class := func(denied int32, stranger bool) uint32 {
		has := func(p int32) bool { return denied&p == 0 }
		var b uint32
		if has(tree.PermRead) {
			b |= 4
		}
		if asDir {
			b |= 1
			w := has(tree.PermCreate) || has(tree.PermDelete)
			if stranger {
				w = has(tree.PermCreate) && has(tree.PermDelete)
			}
			if w && writable {
				b |= 2
			}
		} else if has(tree.PermWrite) && writable {
			b |= 2
		}
		return b
	}
	owner := class(ownerDenied, false)
	other := owner &^ 2
	if strangers {
		other = class(strangerDenied, true)
	}
	return owner<<6 | other<<3 | other
}

// invalidateACL tells the kernel that a node's ACL changed: its mode bits,
// and those of its @data and @watch, must be read again. setACL has no
// watch event, so the notifier learns of it from the applied batch.
func (m *Mount) invalidateACL(path string) {
	in := m.inodeAt(path)
	if in == nil {
		return
	}
	in.NotifyContent(-1, 0) // a negative offset: attributes only
	if in.IsDir() {
		for _, name := range []string{dataName, watchName} {
			if c := in.GetChild(name); c != nil {
				c.NotifyContent(-1, 0)
			}
		}
	}
}
