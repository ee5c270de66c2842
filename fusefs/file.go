package fusefs

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
	"zkfs/xattr"
)

// File is a file-kind znode: its content is the znode's data. An inode
// created by Create without O_EXCL stands for a znode that does not exist
// yet; its first flush creates it.
type File struct {
	node

	mu sync.Mutex
	// writers are the open writable handles, whose unflushed size
	// Getattr reports.
	writers map[*handle]struct{}
	// pending is the handle whose flush will create the znode
	// (pending.go).
	pending *handle
	// lastOpen is, by thread, the writable handle the thread opened
	// last and has not used yet (see openTruncHandle).
	lastOpen map[uint32]*handle
	// handles are the open handles, readers and writers.
	handles map[*handle]struct{}
	// opens counts the open handles; closed those of them whose
	// descriptor was closed, which the kernel has yet to release. See
	// servesOpen.
	opens, closed int
}

func newFile(m *Mount, czxid int64) *File {
	f := &File{writers: map[*handle]struct{}{}}
	f.m = m
	f.czxid.Store(czxid)
	return f
}

// targetPath returns the znode whose data the inode shows, and that znode's
// kind: a directory for @data, the file itself otherwise. It follows the
// inode's current name, because a rename through the mount may move a file
// onto @data or @data onto a file name.
func (f *File) targetPath() (string, tree.Kind) {
	p := f.zpath()
	if f.onDataName(p) {
		dir, _ := tree.Split(p)
		return dir, tree.KindDir
	}
	return p, tree.KindFile
}

// onDataName reports whether the inode's name is @data, the directory's
// own data, rather than a real child shown under an escaped name (@@data
// stands for the child @data, whose path p also ends in /@data). It goes
// by the name in the kernel's tree; a detached inode, by its path.
func (f *File) onDataName(p string) bool {
	if name, parent := f.Parent(); parent != nil {
		return name == dataName
	}
	_, name := tree.Split(p)
	return name == dataName
}

// target reads the znode the inode shows and checks it is still the same.
func (f *File) target(t *tree.Tree) (string, info, syscall.Errno) {
	p, kind := f.targetPath()
	in, err := f.m.readInfo(t, p, false)
	if err != nil {
		return p, in, toErrno(err)
	}
	if p == "/" {
		return p, in, 0
	}
	return p, in, f.checkSame(in, kind)
}

func (f *File) addWriter(h *handle) {
	f.mu.Lock()
	f.writers[h] = struct{}{}
	f.mu.Unlock()
}

func (f *File) removeWriter(h *handle) {
	f.mu.Lock()
	delete(f.writers, h)
	if f.lastOpen[h.tid] == h {
		delete(f.lastOpen, h.tid)
	}
	if f.pending == h {
		f.pending = nil
	}
	f.mu.Unlock()
}

// unflushedSize returns the size a writer has buffered but not committed,
// for a file that exists only on this mount so far.
func (f *File) unflushedSize() (int64, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for h := range f.writers {
		if s := h.size.Load(); s >= 0 {
			return s, true
		}
	}
	return 0, false
}

var _ = (fs.NodeGetattrer)((*File)(nil))

// Getattr reports the znode's stat, or for a file whose create is still
// buffered, the size its writer buffered.
func (f *File) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	if f.pendingHandle() != nil {
		f.pendingAttr(&out.Attr)
		return 0
	}
	if h, ok := fh.(*handle); ok && h.isFrozen() && h.heldAttr(&out.Attr) {
		return 0
	}
	var in info
	var errno syscall.Errno
	f.m.rep.Read(func(t *tree.Tree) { _, in, errno = f.target(t) })
	if errno == syscall.ENOENT {
		// fstat of a descriptor whose file was deleted: it still holds
		// the file, as on a local file system.
		if h, ok := fh.(*handle); ok && h.heldAttr(&out.Attr) {
			return 0
		}
	}
	if errno != 0 {
		return errno
	}
	// The committed size, not a writer's buffered one: other readers on
	// this mount must not see a truncation or a half-written file that
	// no other client can see.
	f.m.fillAttr(&out.Attr, in, false, uint64(in.stat.DataLength))
	return 0
}

var _ = (fs.NodeSetattrer)((*File)(nil))

// Setattr truncates (buffered in the handle for ftruncate, at once for
// truncate), and accepts mode, owner and times only when they change
// nothing.
func (f *File) Setattr(ctx context.Context, fh fs.FileHandle, in *fuse.SetAttrIn, out *fuse.AttrOut) syscall.Errno {
	if errno := f.Getattr(ctx, fh, out); errno != 0 {
		return errno
	}
	if errno := f.m.chmodChownAllowed(in, out.Attr.Mode); errno != 0 {
		return errno
	}
	size, ok := in.GetSize()
	if !ok {
		return 0
	}
	h, _ := fh.(*handle)
	if h == nil || !h.write {
		h = f.pendingHandle()
	}
	if h == nil && size == 0 {
		h = f.openTruncHandle(callerTid(ctx))
	}
	var errno syscall.Errno
	if h != nil {
		errno = h.truncate(int64(size))
	} else {
		errno = f.truncateNow(int64(size))
	}
	if errno != 0 {
		return errno
	}
	return f.Getattr(ctx, fh, out)
}

// truncateNow is truncate(2) without an open handle: one setData, retried
// on a version conflict so that concurrent writers are not overwritten with
// stale data.
func (f *File) truncateNow(size int64) syscall.Errno {
	m := f.m
	if size > int64(m.maxData) {
		return syscall.EFBIG
	}
	for attempt := 0; ; attempt++ {
		var p string
		var data []byte
		var in info
		var errno syscall.Errno
		m.rep.Read(func(t *tree.Tree) {
			p, in, errno = f.target(t)
			if errno == 0 {
				d, _, _ := t.Get(p)
				data = resize(append([]byte(nil), d...), size)
			}
		})
		if errno != 0 {
			return errno
		}
		_, err := m.propose(tree.SetData{Path: p, Data: data, Version: in.stat.Version})
		if err == nil || !retryable(err, attempt) {
			return toErrno(err)
		}
	}
}

var _ = (fs.NodeAccesser)((*File)(nil))

// Access answers access(2) from the mode the mount shows.
func (f *File) Access(ctx context.Context, mask uint32) syscall.Errno {
	var out fuse.AttrOut
	if errno := f.Getattr(ctx, nil, &out); errno != 0 {
		return errno
	}
	if mask&1 != 0 {
		return syscall.EACCES
	}
	if mask&2 != 0 && out.Attr.Mode&0o200 == 0 {
		return syscall.EACCES
	}
	return 0
}

var _ = (fs.NodeOpener)((*File)(nil))

// Open opens the content. Readers read the version of their open; writers
// buffer (see handle).
func (f *File) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	h, fl, errno := openContent(ctx, f, flags, "")
	if errno == syscall.ENOENT {
		// The kernel's entry is stale: drop it, so that the caller's
		// retry, or an O_CREAT open, looks the name up again.
		f.m.notifier.enqueue(notice{kindPath: f.zpath()})
	}
	return h, fl, errno
}

var _ = (fs.NodeGetxattrer)((*File)(nil))

// Getxattr reads one user.zk.* attribute of the znode.
func (f *File) Getxattr(ctx context.Context, attr string, dest []byte) (uint32, syscall.Errno) {
	if errno := f.settle(); errno != 0 {
		return 0, errno
	}
	p, kind := f.targetPath()
	return f.m.getxattr(ctx, &f.node, p, kind, p == "/", attr, dest)
}

var _ = (fs.NodeListxattrer)((*File)(nil))

// Listxattr lists the user.zk.* attributes.
func (f *File) Listxattr(ctx context.Context, dest []byte) (uint32, syscall.Errno) {
	return listxattr(dest)
}

var _ = (fs.NodeSetxattrer)((*File)(nil))

// Setxattr changes the ACL or the kind, or accepts an unchanged value.
func (f *File) Setxattr(ctx context.Context, attr string, data []byte, flags uint32) syscall.Errno {
	if errno := f.commitPending(); errno != 0 {
		return errno
	}
	// A copy (cp -a, mv, rsync -X, tar --xattrs) writes the content and
	// then sets the attributes through the descriptor it still holds; its
	// content must be committed first, or a restrictive ACL copied from
	// the source would refuse the commit at close. SETXATTR carries no
	// file handle: the writers are those the same thread opened.
	if attr == xattr.ACL && f.deferACL(ctx, data) {
		return 0
	}
	tid := callerTid(ctx)
	for _, h := range f.openHandles() {
		if h.write && h.tid == tid {
			if errno := h.flush(false, true); errno != 0 {
				return errno
			}
		}
	}
	p, kind := f.targetPath()
	return f.m.setxattr(ctx, &f.node, p, kind, p == "/", attr, data)
}

var _ = (fs.NodeRemovexattrer)((*File)(nil))

// Removexattr is refused: every attribute is part of the stat.
func (f *File) Removexattr(ctx context.Context, attr string) syscall.Errno {
	if attr == xattr.ACL {
		if errno := f.settle(); errno != 0 {
			return errno
		}
		p, _ := f.targetPath()
		return f.m.removeACL(ctx, p)
	}
	return removexattr(attr)
}

// openTruncHandle finds the handle that a truncate to zero without a
// handle belongs to. Without atomic O_TRUNC, open(O_TRUNC) reaches the
// mount as an OPEN and then a SETATTR of the size that carries no handle,
// both sent by the opening thread within its one open(2) call: the
// truncation belongs to the last handle that thread opened on this inode,
// and to no other descriptor the process holds. The mark is consumed by
// the truncation and by any use of the handle, so a later truncate(2) of
// the path by the same thread commits at once.
func (f *File) openTruncHandle(tid uint32) *handle {
	f.mu.Lock()
	h := f.lastOpen[tid]
	delete(f.lastOpen, tid)
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	h.mu.Lock()
	// Only a handle nothing was done through yet: the mark is consumed
	// by every use, and an O_TRUNC open's handle (stateUnwritten) has
	// its truncation already.
	fresh := h.state == stateUntouched && len(h.edits) == 0
	h.mu.Unlock()
	if !fresh {
		return nil
	}
	return h
}

// markOpened records h as the last handle thread tid opened for writing
// (see openTruncHandle).
func (f *File) markOpened(tid uint32, h *handle) {
	f.mu.Lock()
	if f.lastOpen == nil {
		f.lastOpen = map[uint32]*handle{}
	}
	f.lastOpen[tid] = h
	f.mu.Unlock()
}

// unmarkOpened drops h's mark once it is used (see openTruncHandle).
func (f *File) unmarkOpened(h *handle) {
	f.mu.Lock()
	if f.lastOpen[h.tid] == h {
		delete(f.lastOpen, h.tid)
	}
	f.mu.Unlock()
}

// callerTid returns the thread that made the request: FUSE's header
// carries the caller's thread id, not its process id.
func callerTid(ctx context.Context) uint32 {
	if c, ok := fuse.FromContext(ctx); ok {
		return c.Pid
	}
	return 0
}

// settleWait bounds how long an open waits for a writer whose commit is
// deferred (see stateUnwritten).
const settleWait = 100 * time.Millisecond

// settle runs before an open or a getxattr. A writer that opened with
// O_TRUNC or created the file, and closed one descriptor without writing,
// usually writes or releases within microseconds (the shell's dup2 dance,
// or the release the kernel sends after close): waiting for that shows the
// reader the writer's whole content rather than the old one. The wait is
// bounded from the moment the writer deferred, so a descriptor held open
// for long (exec 3>f) delays only the opens of its first moments. A file
// whose create is still buffered after that is created now, so that the
// open finds a znode.
func (f *File) settle() syscall.Errno {
	for {
		until, ok := f.deferredUntil()
		if !ok || !time.Now().Before(until) {
			break
		}
		time.Sleep(time.Millisecond)
	}
	return f.createNow()
}

// deferredUntil returns how long to wait for the writers whose commit waits
// for their next flush or their release.
func (f *File) deferredUntil() (time.Time, bool) {
	f.mu.Lock()
	pending := f.pending
	all := make([]*handle, 0, len(f.writers))
	for h := range f.writers {
		all = append(all, h)
	}
	f.mu.Unlock()
	// Handles are checked outside f.mu: flush takes h.mu, then f.mu.
	var until time.Time
	found := false
	for _, h := range all {
		h.mu.Lock()
		if h.state == stateDeferred || (h == pending && h.state == stateUnwritten) {
			found = true
			if t := h.opened.Add(settleWait); t.After(until) {
				until = t
			}
		}
		h.mu.Unlock()
	}
	return until, found
}

// servesOpen reports whether the inode should keep standing for the
// znode at its name, created with czxid, because a process still has it
// open. A file created through the mount first has an inode of its own,
// and the next lookup after the create gives the znode's stable inode
// number; a process that holds the first inode would then see another
// file than the next opener, and their flock(2) locks, which the kernel
// keeps per inode, would not exclude each other. Descriptors already
// closed do not count: `echo x > f; stat f` still shows the stable number.
func (f *File) servesOpen(czxid int64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.opens-f.closed > 0 && (f.pending != nil || f.czxid.Load() == czxid)
}

func (f *File) opened(h *handle) {
	f.mu.Lock()
	f.opens++
	if f.handles == nil {
		f.handles = map[*handle]struct{}{}
	}
	f.handles[h] = struct{}{}
	f.mu.Unlock()
}

// openHandles returns the handles open on the inode.
func (f *File) openHandles() []*handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	hs := make([]*handle, 0, len(f.handles))
	for h := range f.handles {
		hs = append(hs, h)
	}
	return hs
}

// closedBy counts a handle's first flush from close(2).
func (f *File) closedBy(h *handle) {
	f.mu.Lock()
	if !h.closed {
		h.closed = true
		f.closed++
	}
	f.mu.Unlock()
}

func (f *File) released(h *handle) {
	f.mu.Lock()
	f.opens--
	delete(f.handles, h)
	if h.closed {
		f.closed--
	}
	f.mu.Unlock()
}

// fileOf returns the File an inode stands for, if it is one.
func fileOf(in *fs.Inode) (*File, bool) {
	if in == nil {
		return nil, false
	}
	f, ok := in.Operations().(*File)
	return f, ok
}

// stableIno reports whether the inode has the number derived from its
// znode, the one every lookup of the name gives.
func (f *File) stableIno() bool {
	p := f.zpath()
	dir, _ := tree.Split(p)
	want := inoOf(f.czxid.Load(), p, roleFile)
	if f.onDataName(p) {
		want = inoOf(f.czxid.Load(), dir, roleData)
	}
	return f.StableAttr().Ino == want
}

// fileNode gives access to the File of a File or Data inode.
func (f *File) fileNode() *File { return f }
