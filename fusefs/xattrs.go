package fusefs

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"time"

	"zkfs/tree"
	"zkfs/xattr"
)

// xattrView is what one caller may learn of a znode through its
// attributes: the stat under exists's rule, the ACL under getACL's (digest
// hashes redacted without ADMIN), each with the error the client port would
// answer instead.
type xattrView struct {
	xattr.Node
	statErr, aclErr error
}

// readXattrNode reads what the attributes describe, for the caller's
// identity, checking that the inode still stands for the znode at p.
func (m *Mount) readXattrNode(n *node, p string, kind tree.Kind, skipCheck bool, id tree.Identity) (xattrView, syscall.Errno) {
	var v xattrView
	var err error
	var czxid int64
	m.rep.Read(func(t *tree.Tree) {
		var st tree.Stat
		st, err = t.Stat(p)
		if err != nil {
			return
		}
		czxid = st.Czxid
		v.Kind, _ = t.Kind(p)
		v.Stat, v.statErr = t.StatAs(p, id)
		var acl []tree.ACL
		acl, _, v.aclErr = t.GetACLAs(p, id)
		v.ACL = append([]tree.ACL(nil), acl...)
	})
	if err != nil {
		return v, toErrno(err)
	}
	v.Mode = m.rep.Mode()
	if !skipCheck && (czxid != n.czxid.Load() || v.Kind != kind) {
		return v, syscall.ENOENT
	}
	return v, 0
}

// denied returns the error the client port would answer for the request
// that shows the same fact as attr: getACL for the ACL, exists for the
// stat. The kind is the mount's own and as visible as the file type, and
// the mode is the replica's, which srvr tells anyone.
func (v xattrView) denied(attr string) error {
	switch attr {
	case xattr.ACL:
		return v.aclErr
	case xattr.Kind, xattr.Mode:
		return nil
	}
	return v.statErr
}

func (m *Mount) getxattr(ctx context.Context, n *node, p string, kind tree.Kind, skipCheck bool, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, xattr.Prefix) {
		return 0, syscall.ENODATA
	}
	xv, errno := m.readXattrNode(n, p, kind, skipCheck, m.callerIdentity(ctx))
	if errno != 0 {
		return 0, errno
	}
	if err := xv.denied(attr); err != nil {
		return 0, toErrno(err)
	}
	v, err := xattr.Get(attr, xv.Node)
	if err != nil {
		return 0, toErrno(err)
	}
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

func listxattr(dest []byte) (uint32, syscall.Errno) {
	v := xattr.List()
	if len(dest) < len(v) {
		return uint32(len(v)), syscall.ERANGE
	}
	return uint32(copy(dest, v)), 0
}

// removexattr refuses: the attributes are the stat, which always exists.
func removexattr(attr string) syscall.Errno {
	if strings.HasPrefix(attr, xattr.Prefix) {
		return syscall.EPERM
	}
	return syscall.ENODATA
}

// setxattr applies what xattr.Set asks for. Names outside user.zk. are not
// supported, which cp -a and rsync -X take as "this file system keeps no
// such attributes".
//
// The change is made with the caller's identity: the mode bits cannot tell
// who holds ADMIN. A value compared with one the caller may not read
// counts as a change, which the tree then refuses.
func (m *Mount) setxattr(ctx context.Context, n *node, p string, kind tree.Kind, skipCheck bool, attr string, data []byte) syscall.Errno {
	if !strings.HasPrefix(attr, xattr.Prefix) {
		return syscall.ENOTSUP
	}
	id := m.callerIdentity(ctx)
	xv, errno := m.readXattrNode(n, p, kind, skipCheck, id)
	if errno != 0 {
		return errno
	}
	if err := xv.denied(attr); err != nil {
		if attr != xattr.ACL {
			return toErrno(err)
		}
		xv.ACL = nil
	}
	ch, err := xattr.Set(attr, data, xv.Node)
	if errors.Is(err, xattr.ErrNoAttr) {
		return syscall.ENOTSUP // as for any name the mount does not keep
	}
	if err != nil {
		return toErrno(err)
	}
	switch {
	case ch.ACL != nil:
		_, err = m.proposeAs(id, tree.SetACL{Path: p, ACL: ch.ACL, Version: -1})
	case ch.Kind != nil:
		_, err = m.proposeAs(id, tree.SetKind{Path: p, Kind: *ch.Kind})
		if err == nil {
			// The inode's type is now wrong; SetKind emits no event,
			// so the mount tells the kernel itself, and waits briefly
			// so that the next path lookup sees the new type.
			done := make(chan struct{})
			m.notifier.enqueue(notice{kindPath: p, done: done})
			select {
			case <-done:
			case <-time.After(maxWait):
			}
		}
	}
	return toErrno(err)
}
