package fusefs

import (
	"context"
	"errors"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"

	"zkfs/tree"
)

// renameFlags from renameat2(2).
const (
	renameNoReplace = 1
	renameExchange  = 2
)

// contentRef is one side of a rename: a file znode, or a directory's data
// when the name is @data.
type contentRef struct {
	path   string // the znode whose data moves
	isData bool   // the name is @data: path is the directory
	exists bool
	kind   tree.Kind
	stat   tree.Stat
	data   []byte
	acl    []tree.ACL
	// ttl and container describe the node's lifetime, with
	// stat.EphemeralOwner for ephemeral nodes.
	ttl       int64
	container bool
	readErr   error
}

func readRef(t *tree.Tree, dir, name string) contentRef {
	r := contentRef{path: childPath(dir, name)}
	if name == dataName {
		r.path, r.isData = dir, true
	}
	st, err := t.Stat(r.path)
	if err != nil {
		if !errors.Is(err, tree.ErrNoNode) {
			r.readErr = err
		}
		return r
	}
	r.exists = true
	r.stat = st
	r.kind, _ = t.Kind(r.path)
	d, _, _ := t.Get(r.path)
	r.data = append([]byte(nil), d...)
	acl, _, _ := t.GetACL(r.path)
	r.acl = append([]tree.ACL(nil), acl...)
	r.ttl, _ = t.TTL(r.path)
	r.container = t.IsContainer(r.path)
	return r
}

// sameLifetime reports whether two nodes end the same way: both
// persistent, both ephemeral of one session, both TTL nodes of one TTL, or
// both containers.
func sameLifetime(a, b contentRef) bool {
	return a.stat.EphemeralOwner == b.stat.EphemeralOwner && a.ttl == b.ttl && a.container == b.container
}

// createMode is how a rename recreates src at a new name so that it keeps
// its lifetime: an ephemeral node stays an ephemeral of the mount's own
// session (a node of another session cannot be moved, EPERM), a TTL node
// keeps its TTL, a container stays a container. Sequential nodes are
// plain nodes under their new name: the sequence number is only a name.
func (m *Mount) createMode(src contentRef) (tree.Mode, int64, syscall.Errno) {
	switch {
	case src.stat.EphemeralOwner != 0:
		if src.stat.EphemeralOwner != m.session.Load() {
			return 0, 0, syscall.EPERM
		}
		return tree.ModeEphemeral, 0, 0
	case src.ttl > 0:
		return tree.ModePersistentWithTTL, src.ttl, 0
	case src.container:
		return tree.ModeContainer, 0, 0
	}
	return tree.ModePersistent, 0, 0
}

var _ = (fs.NodeRenamer)((*Dir)(nil))

// Rename moves a file's data in one multi: the target is set (keeping its
// czxid, ACL and children) or created, and the source deleted, so watchers
// see one change on the target and editors' write-then-rename is atomic.
// Directories cannot move: EXDEV makes mv copy and delete instead.
func (d *Dir) Rename(ctx context.Context, name string, newParent fs.InodeEmbedder, newName string, flags uint32) syscall.Errno {
	m := d.m
	nd, ok := newParent.(*Dir)
	if !ok {
		return syscall.ENOTDIR
	}
	if name == watchName || newName == watchName {
		return syscall.EINVAL
	}
	srcDir, dstDir := d.zpath(), nd.zpath()
	if newName != dataName {
		if _, errno := childName(dstDir, newName); errno != 0 {
			return errno
		}
	}
	if errno := m.commitPendingAt(childPath(srcDir, name)); errno != 0 {
		return errno
	}
	for attempt := 0; ; attempt++ {
		var src, dst contentRef
		m.rep.Read(func(t *tree.Tree) {
			src = readRef(t, srcDir, name)
			dst = readRef(t, dstDir, newName)
		})
		if src.readErr != nil {
			return toErrno(src.readErr)
		}
		if dst.readErr != nil {
			return toErrno(dst.readErr)
		}
		if !src.exists {
			return syscall.ENOENT
		}
		if !src.isData && src.kind == tree.KindDir {
			return syscall.EXDEV
		}
		if src.path == dst.path && src.isData == dst.isData {
			return 0
		}
		if dst.exists && !dst.isData && dst.kind == tree.KindDir {
			return syscall.EISDIR
		}
		if dst.isData && !dst.exists {
			return syscall.ENOENT
		}
		// A hidden @data (see hidden.go) is absent to the caller, who
		// may have just looked and not found it.
		dstVisible := dst.exists && !(dst.isData && m.dataHidden(dst.path, info{stat: dst.stat}))
		if flags&renameNoReplace != 0 && dstVisible {
			return syscall.EEXIST
		}
		var ops []tree.Op
		switch {
		case flags&renameExchange != 0:
			if !dst.exists {
				return syscall.ENOENT
			}
			ops = []tree.Op{
				tree.SetData{Path: dst.path, Data: src.data, Version: dst.stat.Version},
				tree.SetData{Path: src.path, Data: dst.data, Version: src.stat.Version},
			}
		default:
			// The file keeps its lifetime: moved onto a node that ends
			// otherwise, an ephemeral's content would outlive its session
			// (or a persistent one would end with another's), so that is
			// refused. @data is its directory's data and follows the
			// directory's lifetime.
			if !src.isData && !dst.isData && dst.exists && !sameLifetime(src, dst) && !sameLifetime(src, contentRef{}) {
				return syscall.EPERM
			}
			if dst.exists {
				ops = append(ops, tree.SetData{Path: dst.path, Data: src.data, Version: dst.stat.Version})
			} else {
				mode, ttl, errno := tree.ModePersistent, int64(0), syscall.Errno(0)
				if !src.isData {
					if mode, ttl, errno = m.createMode(src); errno != 0 {
						return errno
					}
				}
				ops = append(ops, tree.Create{Path: dst.path, Data: src.data, ACL: src.acl, Mode: mode, TTL: ttl, Kind: tree.KindFile})
			}
			if src.isData {
				ops = append(ops, tree.SetData{Path: src.path, Version: src.stat.Version})
			} else {
				ops = append(ops, tree.Delete{Path: src.path, Version: src.stat.Version})
			}
		}
		res, err := m.propose(tree.Multi{Ops: ops})
		if err != nil {
			if retryable(err, attempt) {
				continue
			}
			return toErrno(err)
		}
		// go-fuse now moves the source inode to the new name; make it
		// stand for the target znode until the kernel looks it up again.
		srcIn := d.GetChild(name)
		if old := nd.GetChild(newName); old != nil && old != srcIn && flags&renameExchange == 0 {
			if f, ok := old.Operations().(interface{ base() *node }); ok {
				p := childPath(dstDir, newName)
				f.base().replaced.Store(&p)
			}
			// Descriptors open on the replaced file keep its content, as
			// on a local file system; opens from now on reach the new one.
			// A descriptor that already read the rename's version was
			// opened after it, through the old name's inode, and follows
			// the new file.
			if f, ok := old.Operations().(interface{ fileNode() *File }); ok {
				for _, h := range f.fileNode().openHandles() {
					h.freeze(dst.data, dst.stat, res.Multi[0].Stat.Mzxid)
				}
			}
		}
		if in := srcIn; in != nil {
			if f, ok := in.Operations().(interface{ base() *node }); ok {
				f.base().czxid.Store(res.Multi[0].Stat.Czxid)
			}
		}
		if flags&renameExchange != 0 {
			if in := nd.GetChild(newName); in != nil {
				if f, ok := in.Operations().(interface{ base() *node }); ok {
					f.base().czxid.Store(res.Multi[1].Stat.Czxid)
				}
			}
		}
		if dst.isData {
			nd.setHideData(dstDir, false)
		}
		if src.isData {
			d.setHideData(srcDir, true)
		}
		return 0
	}
}
