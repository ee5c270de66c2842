package fusefs

import (
	"errors"
	"strings"
	"syscall"
	"time"

	"zkfs/tree"
	"zkfs/xattr"
)

// readXattrNode reads what the attributes describe, checking that the
// inode still stands for the znode at p.
func (m *Mount) readXattrNode(n *node, p string, kind tree.Kind, skipCheck bool) (xattr.Node, syscall.Errno) {
	var xn xattr.Node
	var err error
	m.rep.Read(func(t *tree.Tree) {
		xn.Stat, err = t.Stat(p)
		if err != nil {
			return
		}
		xn.Kind, _ = t.Kind(p)
		xn.ACL, _, _ = t.GetACL(p)
		xn.ACL = append([]tree.ACL(nil), xn.ACL...)
	})
	if err != nil {
		return xn, toErrno(err)
	}
	if !skipCheck && (xn.Stat.Czxid != n.czxid.Load() || xn.Kind != kind) {
		return xn, syscall.ENOENT
	}
	return xn, 0
}

func (m *Mount) getxattr(n *node, p string, kind tree.Kind, skipCheck bool, attr string, dest []byte) (uint32, syscall.Errno) {
	if !strings.HasPrefix(attr, xattr.Prefix) {
		return 0, syscall.ENODATA
	}
	xn, errno := m.readXattrNode(n, p, kind, skipCheck)
	if errno != 0 {
		return 0, errno
	}
	v, err := xattr.Get(attr, xn)
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
func (m *Mount) setxattr(n *node, p string, kind tree.Kind, skipCheck bool, attr string, data []byte) syscall.Errno {
	if !strings.HasPrefix(attr, xattr.Prefix) {
		return syscall.ENOTSUP
	}
	xn, errno := m.readXattrNode(n, p, kind, skipCheck)
	if errno != 0 {
		return errno
	}
	ch, err := xattr.Set(attr, data, xn)
	if errors.Is(err, xattr.ErrNoAttr) {
		return syscall.ENOTSUP // as for any name the mount does not keep
	}
	if err != nil {
		return toErrno(err)
	}
	switch {
	case ch.ACL != nil:
		_, err = m.propose(tree.SetACL{Path: p, ACL: ch.ACL, Version: -1})
	case ch.Kind != nil:
		_, err = m.propose(tree.SetKind{Path: p, Kind: *ch.Kind})
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
