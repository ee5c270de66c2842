package fusefs

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
	"zkfs/xattr"
)

// Dir is a directory-kind znode, and the mount's root. Its children are the
// znode's children, plus @data (its own data) and @watch (its events).
type Dir struct {
	node
}

// self reads the directory's own znode and checks that the inode still
// stands for it.
func (d *Dir) self(t *tree.Tree) (string, info, syscall.Errno) {
	p := d.zpath()
	in, err := d.m.readInfo(t, p, false)
	if err != nil {
		return p, in, toErrno(err)
	}
	if !d.IsRoot() {
		if errno := d.checkSame(in, tree.KindDir); errno != 0 {
			return p, in, errno
		}
	}
	return p, in, 0
}

func (d *Dir) dataHidden(p string, in info) bool {
	return d.m.dataHidden(p, in)
}

func (d *Dir) setHideData(p string, v bool) {
	d.m.setDataHidden(p, d.czxid.Load(), v)
}

var _ = (fs.NodeGetattrer)((*Dir)(nil))

// Getattr reports the directory's stat.
func (d *Dir) Getattr(ctx context.Context, f fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var in info
	var errno syscall.Errno
	d.m.rep.Read(func(t *tree.Tree) {
		var p string
		p, in, errno = d.self(t)
		if errno == 0 {
			in, _ = d.m.readInfo(t, p, true)
		}
	})
	if errno != 0 {
		return errno
	}
	d.m.fillAttr(&out.Attr, in, true, 0)
	return 0
}

var _ = (fs.NodeSetattrer)((*Dir)(nil))

// Setattr accepts only what changes nothing: the current mode and owner,
// and times, which come from the stat and cannot be set.
func (d *Dir) Setattr(ctx context.Context, f fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := d.Getattr(ctx, f, out); errno != 0 {
		return errno
	}
	if _, ok := in.GetSize(); ok {
		return syscall.EISDIR
	}
	return d.m.chmodChownAllowed(in, out.Attr.Mode)
}

var _ = (fs.NodeAccesser)((*Dir)(nil))

// Access answers access(2) from the mode the mount shows, which follows
// the ACL.
func (d *Dir) Access(ctx context.Context, mask uint32) syscall.Errno {
	var out fuse.AttrOut
	if errno := d.Getattr(ctx, nil, &out); errno != 0 {
		return errno
	}
	if mask&2 != 0 && out.Attr.Mode&0o200 == 0 {
		return syscall.EACCES
	}
	return 0
}

var _ = (fs.NodeLookuper)((*Dir)(nil))

// Lookup finds a child znode, @data or @watch.
func (d *Dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	m := d.m
	var p string
	var self, child info
	var errno syscall.Errno
	var childErr error
	read := func(t *tree.Tree) {
		p, self, errno = d.self(t)
		if errno != 0 || reserved(name) {
			return
		}
		cp := childPath(p, name)
		if tree.ValidatePath(cp) != nil {
			childErr = tree.ErrNoNode
			return
		}
		child, childErr = m.readInfo(t, cp, true)
	}
	m.rep.Read(read)
	confirmed := true
	if errno == 0 && errors.Is(childErr, tree.ErrNoNode) && m.pendingFile(childPath(p, name)) == nil {
		if confirmed = m.confirmMissing(ctx); confirmed {
			m.rep.Read(read)
		}
	}
	if errno != 0 {
		return nil, errno
	}
	switch name {
	case dataName:
		if d.dataHidden(p, self) {
			// Not cached as missing: the next write makes it appear.
			out.SetEntryTimeout(time.Nanosecond)
			return nil, syscall.ENOENT
		}
		m.entryOut(out, self, false, uint64(self.stat.DataLength))
		return d.NewInode(ctx, newData(m, self.stat.Czxid), fs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(self.stat.Czxid, p, roleData)}), 0
	case watchName:
		self.writable = false
		m.entryOut(out, self, false, 0)
		w := &Watch{}
		w.m = m
		w.czxid.Store(self.stat.Czxid)
		return d.NewInode(ctx, w, fs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(self.stat.Czxid, p, roleWatch)}), 0
	}
	cp := childPath(p, name)
	if childErr != nil {
		if errors.Is(childErr, tree.ErrNoNode) {
			if f := m.pendingFile(cp); f != nil {
				f.pendingAttr(&out.Attr)
				return &f.Inode, 0
			}
			if !confirmed || !m.rememberMissing(cp) {
				out.SetEntryTimeout(time.Nanosecond)
			}
		}
		return nil, toErrno(childErr)
	}
	size := uint64(child.stat.DataLength)
	if child.kind == tree.KindDir {
		size = 0
	}
	m.entryOut(out, child, child.kind == tree.KindDir, size)
	if f, ok := fileOf(d.GetChild(name)); ok && child.kind != tree.KindDir && f.servesOpen(child.stat.Czxid) {
		return &f.Inode, 0
	}
	return m.newChild(ctx, d.EmbeddedInode(), cp, child), 0
}

var _ = (fs.NodeReaddirer)((*Dir)(nil))

// Readdir lists @data and the children; @watch is reachable but not listed,
// so that find, tar and cp -r never open it and block.
func (d *Dir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	m := d.m
	var entries []fuse.DirEntry
	var hiddenKids []string
	var errno syscall.Errno
	m.rep.Read(func(t *tree.Tree) {
		var p string
		var self info
		p, self, errno = d.self(t)
		if errno != 0 {
			return
		}
		if err := t.CheckPerm(p, tree.PermRead, m.identity); err != nil {
			errno = toErrno(err)
			return
		}
		// . and .., which ls -a lists and some tools expect first.
		parentIno := d.StableAttr().Ino
		if _, parent := d.Parent(); parent != nil {
			parentIno = parent.StableAttr().Ino
		}
		entries = append(entries,
			fuse.DirEntry{Name: ".", Mode: syscall.S_IFDIR, Ino: d.StableAttr().Ino},
			fuse.DirEntry{Name: "..", Mode: syscall.S_IFDIR, Ino: parentIno})
		if !d.dataHidden(p, self) {
			entries = append(entries, fuse.DirEntry{Name: dataName, Mode: syscall.S_IFREG, Ino: inoOf(self.stat.Czxid, p, roleData)})
		}
		kids, _, _ := t.ChildList(p)
		for _, k := range kids {
			cp := tree.Join(p, k.Name)
			name := escapeName(k.Name)
			if len(name) > fuseNameMax {
				hiddenKids = append(hiddenKids, cp)
				continue
			}
			e := fuse.DirEntry{Name: name, Mode: syscall.S_IFREG, Ino: inoOf(k.Stat.Czxid, cp, roleFile)}
			if k.Kind == tree.KindDir {
				e.Mode = syscall.S_IFDIR
				e.Ino = inoOf(k.Stat.Czxid, cp, roleDir)
			}
			entries = append(entries, e)
		}
	})
	if errno != 0 {
		return nil, errno
	}
	for _, p := range hiddenKids {
		m.logHidden(p)
	}
	return fs.NewListDirStream(entries), 0
}

// fuseNameMax is the longest name the kernel takes in a FUSE directory
// listing (FUSE_NAME_MAX); one longer name, which the client port allows,
// made it fail the whole listing with EIO.
const fuseNameMax = 1024

// childName validates a name for a new child: reserved names are refused
// with EINVAL, as are names ZooKeeper would reject; names the mount could
// not list with ENAMETOOLONG.
func childName(dir, name string) (string, syscall.Errno) {
	if reserved(name) {
		return "", syscall.EINVAL
	}
	if len(name) > fuseNameMax {
		return "", syscall.ENAMETOOLONG // it could not be listed
	}
	p := childPath(dir, name)
	if err := tree.ValidatePath(p); err != nil {
		return "", syscall.EINVAL
	}
	return p, 0
}

var _ = (fs.NodeMkdirer)((*Dir)(nil))

// Mkdir creates a directory-kind znode with empty data.
func (d *Dir) Mkdir(ctx context.Context, name string, mode uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	m := d.m
	p := d.zpath()
	cp, errno := childName(p, name)
	if errno != 0 {
		return nil, errno
	}
	res, err := m.propose(tree.Create{Path: cp, ACL: tree.OpenACL, Mode: tree.ModePersistent, Kind: tree.KindDir})
	if err != nil {
		return nil, toErrno(err)
	}
	in := info{stat: res.Stat, kind: tree.KindDir, writable: true, strangerRights: openRights}
	m.entryOut(out, in, true, 0)
	m.setDataHidden(cp, res.Stat.Czxid, true)
	nd := &Dir{}
	nd.m = m
	nd.czxid.Store(res.Stat.Czxid)
	return d.NewInode(ctx, nd, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf(res.Stat.Czxid, cp, roleDir)}), 0
}

var _ = (fs.NodeCreater)((*Dir)(nil))

// Create opens a new file. With O_EXCL the znode is created at once, empty,
// so that noclobber's create-if-absent is atomic across replicas; otherwise
// the create waits for the first flush, so that other clients see the file
// appear once, with its whole content.
func (d *Dir) Create(ctx context.Context, name string, flags uint32, mode uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	m := d.m
	var p string
	var self, existing info
	var errno syscall.Errno
	var exErr error
	var mayCreate bool
	m.rep.Read(func(t *tree.Tree) {
		p, self, errno = d.self(t)
		if errno != 0 {
			return
		}
		mayCreate = t.CheckPerm(p, tree.PermCreate, m.identity) == nil
		if !reserved(name) {
			existing, exErr = m.readInfo(t, childPath(p, name), false)
		}
	})
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if name == dataName {
		// Only reached when @data was hidden: writing it brings it back.
		d.setHideData(p, false)
		m.entryOut(out, self, false, uint64(self.stat.DataLength))
		data := newData(m, self.stat.Czxid)
		ino := d.NewInode(ctx, data, fs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(self.stat.Czxid, p, roleData)})
		h, fl, errno := openContent(ctx, &data.File, flags&^syscall.O_EXCL, p)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		return ino, h, fl, 0
	}
	cp, errno := childName(p, name)
	if errno != 0 {
		return nil, nil, 0, errno
	}
	if exErr == nil {
		// Created elsewhere since the kernel looked.
		if flags&syscall.O_EXCL != 0 {
			return nil, nil, 0, syscall.EEXIST
		}
		if existing.kind == tree.KindDir {
			return nil, nil, 0, syscall.EISDIR
		}
		m.entryOut(out, existing, false, uint64(existing.stat.DataLength))
		ino := m.newChild(ctx, d.EmbeddedInode(), cp, existing)
		h, fl, errno := openContent(ctx, ino.Operations().(*File), flags, cp)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		return ino, h, fl, 0
	}
	if !errors.Is(exErr, tree.ErrNoNode) {
		return nil, nil, 0, toErrno(exErr)
	}
	if !mayCreate {
		return nil, nil, 0, syscall.EACCES
	}
	if flags&syscall.O_EXCL != 0 {
		res, err := m.propose(tree.Create{Path: cp, ACL: tree.OpenACL, Mode: tree.ModePersistent, Kind: tree.KindFile})
		if err != nil {
			return nil, nil, 0, toErrno(err)
		}
		in := info{stat: res.Stat, kind: tree.KindFile, writable: true, strangerRights: openRights}
		m.entryOut(out, in, false, 0)
		ino := m.newChild(ctx, d.EmbeddedInode(), cp, in)
		h, fl, errno := openContent(ctx, ino.Operations().(*File), flags, cp)
		if errno != 0 {
			return nil, nil, 0, errno
		}
		return ino, h, fl, 0
	}
	return m.createPending(ctx, d, cp, flags, out)
}

var _ = (fs.NodeUnlinker)((*Dir)(nil))

// Unlink deletes a file znode. Removing @data empties the directory's data,
// which is what rm -r needs before rmdir.
func (d *Dir) Unlink(ctx context.Context, name string) syscall.Errno {
	m := d.m
	p := d.zpath()
	switch name {
	case watchName:
		return syscall.EPERM
	case dataName:
		var in info
		var errno syscall.Errno
		m.rep.Read(func(t *tree.Tree) { _, in, errno = d.self(t) })
		if errno != 0 {
			return errno
		}
		if in.stat.DataLength > 0 {
			if _, err := m.propose(tree.SetData{Path: p, Version: -1}); err != nil {
				return toErrno(err)
			}
		}
		d.setHideData(p, true)
		return 0
	}
	cp := childPath(p, name)
	if m.cancelPending(cp) {
		return 0
	}
	var kind tree.Kind
	var err error
	m.rep.Read(func(t *tree.Tree) { kind, err = t.Kind(cp) })
	if err != nil {
		return toErrno(err)
	}
	if kind == tree.KindDir {
		return syscall.EISDIR
	}
	_, err = m.propose(tree.Delete{Path: cp, Version: -1})
	return toErrno(err)
}

var _ = (fs.NodeRmdirer)((*Dir)(nil))

// Rmdir deletes a directory-kind znode without children; its data goes
// with it.
func (d *Dir) Rmdir(ctx context.Context, name string) syscall.Errno {
	m := d.m
	if reserved(name) {
		return syscall.ENOTDIR
	}
	cp := childPath(d.zpath(), name)
	var kind tree.Kind
	var err error
	m.rep.Read(func(t *tree.Tree) { kind, err = t.Kind(cp) })
	if err != nil {
		return toErrno(err)
	}
	if kind != tree.KindDir {
		return syscall.ENOTDIR
	}
	_, err = m.propose(tree.Delete{Path: cp, Version: -1})
	return toErrno(err)
}

var _ = (fs.NodeSymlinker)((*Dir)(nil))

// Symlink is not supported: znodes have no link type.
func (d *Dir) Symlink(ctx context.Context, target, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

var _ = (fs.NodeLinker)((*Dir)(nil))

// Link is not supported: a znode has exactly one path.
func (d *Dir) Link(ctx context.Context, target fs.InodeEmbedder, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return nil, syscall.EPERM
}

var _ = (fs.NodeMknoder)((*Dir)(nil))

// Mknod makes a regular file, empty, as an exclusive create does (tar
// --xattrs makes its files with mknodat before it opens them). There are
// no devices, fifos or sockets: EPERM.
func (d *Dir) Mknod(ctx context.Context, name string, mode uint32, dev uint32, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if mode&syscall.S_IFMT != syscall.S_IFREG {
		return nil, syscall.EPERM
	}
	m := d.m
	cp, errno := childName(d.zpath(), name)
	if errno != 0 {
		return nil, errno
	}
	res, err := m.propose(tree.Create{Path: cp, ACL: tree.OpenACL, Mode: tree.ModePersistent, Kind: tree.KindFile})
	if err != nil {
		return nil, toErrno(err)
	}
	in := info{stat: res.Stat, kind: tree.KindFile, writable: true, strangerRights: openRights}
	m.entryOut(out, in, false, 0)
	return m.newChild(ctx, d.EmbeddedInode(), cp, in), 0
}

var _ = (fs.NodeGetxattrer)((*Dir)(nil))

// Getxattr reads one user.zk.* attribute of the directory's znode.
func (d *Dir) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	return d.m.getxattr(ctx, &d.node, d.zpath(), tree.KindDir, d.IsRoot(), attr, dest)
}

var _ = (fs.NodeListxattrer)((*Dir)(nil))

// Listxattr lists the user.zk.* attributes.
func (d *Dir) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(dest)
}

var _ = (fs.NodeSetxattrer)((*Dir)(nil))

// Setxattr changes the ACL or the kind, or accepts an unchanged value.
func (d *Dir) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	return d.m.setxattr(ctx, &d.node, d.zpath(), tree.KindDir, d.IsRoot(), attr, data)
}

var _ = (fs.NodeRemovexattrer)((*Dir)(nil))

// Removexattr is refused: every attribute is part of the stat.
func (d *Dir) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if attr == xattr.ACL {
		return d.m.removeACL(ctx, d.zpath())
	}
	return removexattr(attr)
}
