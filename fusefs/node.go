package fusefs

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
)

// The reserved names. Every directory has them; a real child with one of
// these names shows under an escaped name (see escapeName).
const (
	dataName  = "@data"
	watchName = "@watch"
)

func reserved(name string) bool { return name == dataName || name == watchName }

// escapeName gives the name under which the mount shows a child znode. A
// child whose name is a reserved name with one or more extra @ in front
// ("@data", "@@watch", ...) shows with one more @ ("@@data", "@@@watch"):
// the real child @data is reachable as @@data, and every other name shows
// as it is. unescapeName is the inverse, for names the kernel sends; it
// leaves the reserved names themselves alone.
func escapeName(child string) string {
	if atReserved(child) >= 1 {
		return "@" + child
	}
	return child
}

func unescapeName(name string) string {
	if atReserved(name) >= 2 {
		return name[1:]
	}
	return name
}

// atReserved returns k if name is k @ followed by "data" or "watch", 0
// otherwise.
func atReserved(name string) int {
	k := 0
	for k < len(name) && name[k] == '@' {
		k++
	}
	if k == 0 || (name[k:] != "data" && name[k:] != "watch") {
		return 0
	}
	return k
}

// childPath is the znode path of the child the kernel calls name.
func childPath(dir, name string) string { return tree.Join(dir, unescapeName(name)) }

// Roles mixed into inode numbers, so that a node's directory, its @data and
// its @watch, and the node before and after a kind change, never share one:
// the kernel never changes the file type of an inode.
const (
	roleFile    byte = 'f'
	roleDir     byte = 'd'
	roleData    byte = 'D'
	roleWatch   byte = 'w'
	rolePending byte = 'p'
)

// inoOf derives a stable inode number from what identifies a znode for its
// whole life: the zxid that created it and its path (a multi creates several
// nodes at one zxid, and the system nodes all have czxid 0).
func inoOf(czxid int64, path string, role byte) uint64 {
	h := fnv.New64a()
	var b [9]byte
	binary.LittleEndian.PutUint64(b[:8], uint64(czxid))
	b[8] = role
	h.Write(b[:])
	h.Write([]byte(path))
	v := h.Sum64()
	// 1 is the root's, ^0 is reserved by go-fuse, 0 means "pick one".
	if v <= 1 || v == ^uint64(0) {
		v = 2
	}
	return v
}

// node is what every node kind shares: the mount, and the czxid of the
// znode the inode stands for. go-fuse keeps the inode's place in the tree,
// so the znode's path is always computed from it: a rename moves inodes
// between names.
type node struct {
	fs.Inode
	m *Mount
	// czxid identifies the znode. An inode whose path now holds a different
	// znode (deleted and created again elsewhere) is stale and reports
	// ENOENT; a rename through the mount moves it to the target's czxid.
	czxid atomic.Int64
	// replaced is set on an inode whose name a rename through the mount
	// gave to another inode: it has no place in the tree any more, but it
	// still stands for the znode at that name, which the rename kept. A
	// process that looked the name up just before the rename reaches this
	// inode, and must see that znode rather than ENOENT.
	replaced atomic.Pointer[string]
}

// zpath returns the znode path of the inode's current place in the tree.
// It walks the parents itself rather than check for a parent and then ask
// go-fuse for the path: go-fuse detaches a replaced inode right after the
// rename's reply, and between the two calls a reader's open would get
// go-fuse's placeholder for a detached inode, and ENOENT. Rename stores
// replaced before it replies, so a walk that finds the inode detached sees
// it.
func (n *node) zpath() string {
	root := n.m.root.EmbeddedInode()
	var segs []string
	for cur := n.EmbeddedInode(); cur != root; {
		name, parent := cur.Parent()
		if parent == nil {
			if p := n.replaced.Load(); p != nil && cur == n.EmbeddedInode() {
				return *p
			}
			// Deleted: go-fuse's placeholder path finds nothing.
			return "/" + n.Path(root)
		}
		segs = append(segs, unescapeName(name))
		cur = parent
	}
	slices.Reverse(segs)
	return "/" + strings.Join(segs, "/")
}

// info is one consistent read of a znode, with what the mount derives from
// it.
type info struct {
	stat     tree.Stat
	kind     tree.Kind
	writable bool   // the mount's identity has WRITE
	subdirs  uint32 // children of directory kind, for the link count
	// ownerDenied is what the ACL withholds from the mount's identity,
	// strangerRights what it grants a stranger (see access.go). Their
	// zero values fail closed for strangers: an info built without
	// reading the ACL shows them nothing, and the places that make a
	// node with an open ACL say so (openRights).
	ownerDenied, strangerRights int32
}

// readInfo reads a node's stat, kind and write permission under one read
// lock.
func (m *Mount) readInfo(t *tree.Tree, path string, countSubdirs bool) (info, error) {
	st, err := t.Stat(path)
	if err != nil {
		return info{}, err
	}
	k, _ := t.Kind(path)
	in := info{stat: st, kind: k}
	in.ownerDenied, in.strangerRights = m.rights(t, path)
	in.writable = in.ownerDenied&tree.PermWrite == 0
	if countSubdirs && st.NumChildren > 0 {
		kids, _, _ := t.Children(path)
		for _, c := range kids {
			if ck, err := t.Kind(tree.Join(path, c)); err == nil && ck == tree.KindDir {
				in.subdirs++
			}
		}
	}
	return in, nil
}

// fillAttr describes a node to the kernel. The permission bits come from
// the ACL (modeBits): the owner's from the mount identity's rights, the
// others' from a stranger's on a mount with --allow-other. A node the mount's identity may not READ
// shows no size, times or link count, as exists hides its stat.
func (m *Mount) fillAttr(out *fuse.Attr, in info, asDir bool, size uint64) {
	st := in.stat
	if asDir {
		out.Mode = syscall.S_IFDIR | modeBits(in.ownerDenied, tree.PermAll&^in.strangerRights, true, true, m.allowOther)
		out.Nlink = 2 + in.subdirs
	} else {
		out.Mode = syscall.S_IFREG | modeBits(in.ownerDenied, tree.PermAll&^in.strangerRights, false, in.writable, m.allowOther)
		out.Nlink = 1
	}
	if in.ownerDenied&tree.PermRead != 0 {
		size, st.Mtime, st.Ctime = 0, 0, 0
		if asDir {
			out.Nlink = 2
		}
	}
	out.Size = size
	out.Blocks = (size + 511) / 512
	out.Blksize = 4096
	out.Uid, out.Gid = m.uid, m.gid
	// ctime is the time of the last change, which for a znode is its
	// last data change (ZooKeeper keeps no time for an ACL change); the
	// stat's ctime is the creation time, in user.zk.ctime.
	mt := time.UnixMilli(st.Mtime)
	out.SetTimes(&mt, &mt, &mt)
}

// entryOut fills a lookup reply for a znode whose info was read.
func (m *Mount) entryOut(out *fuse.EntryOut, in info, asDir bool, size uint64) {
	m.fillAttr(&out.Attr, in, asDir, size)
}

// newChild builds the inode for a child znode of parent.
func (m *Mount) newChild(ctx context.Context, parent *fs.Inode, path string, in info) *fs.Inode {
	if in.kind == tree.KindDir {
		d := &Dir{}
		d.m = m
		d.czxid.Store(in.stat.Czxid)
		return parent.NewInode(ctx, d, fs.StableAttr{Mode: syscall.S_IFDIR, Ino: inoOf(in.stat.Czxid, path, roleDir)})
	}
	f := newFile(m, in.stat.Czxid)
	return parent.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(in.stat.Czxid, path, roleFile)})
}

// checkSame reports whether the znode read at a path is the one the inode
// stands for.
func (n *node) checkSame(in info, kind tree.Kind) syscall.Errno {
	if in.stat.Czxid != n.czxid.Load() || in.kind != kind {
		return syscall.ENOENT
	}
	return 0
}

// chmodChownAllowed answers a setattr that changes mode or owner. Modes
// and owners are not stored: the owner is --uid/--gid and the mode bits
// are derived from the node's ACL, which is what is enforced (access.go).
// As vfat's quiet option does, chmod and chown succeed and change nothing,
// so that install -m, cp -a, rsync -a and tar, which set them, complete;
// stat keeps showing what is enforced. user.zk.acl is how access changes.
func (m *Mount) chmodChownAllowed(in *fuse.SetAttrIn, cur uint32) syscall.Errno {
	return 0
}

// base gives access to the shared part of any node kind.
func (n *node) base() *node { return n }
