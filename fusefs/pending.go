package fusefs

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
)

// A pending create is a file opened with O_CREAT and without O_EXCL whose
// znode does not exist yet. Creating it at open would publish an empty
// version and then a second one at close; instead the open makes an inode
// of its own, and the handle's first commit (at close, fsync, or when
// something else needs the znode) creates the znode with the whole
// content. Meanwhile the mount keeps the file under its path, so that
// lookups and stats through this mount find it, and rm of it cancels the
// create. Everything about that lifetime is in this file; its callers
// are Dir.Create and Lookup, File's settle, Getattr and Setxattr, Rename,
// Unlink, and the handle's flush and release.

// pendingCreate is the create a handle owes while its znode does not
// exist: handle.create, nil once the znode exists.
type pendingCreate struct {
	// path is the znode's path, under which the mount keeps the file.
	path string
	// discarded is set when the file was removed before it was created:
	// the create must then never happen. Under the handle's lock.
	discarded bool
}

// dropped reports whether c was cancelled by a remove; false for nil.
func (c *pendingCreate) dropped() bool {
	return c != nil && c.discarded
}

// pendingCreates are the mount's files whose create is still buffered, by
// path.
type pendingCreates struct {
	mu    sync.Mutex
	files map[string]*File
	// seq numbers the inodes of pending files: they have no czxid yet.
	seq atomic.Int64
}

// createPending makes the inode and the handle for a file opened with
// O_CREAT and without O_EXCL at path cp, which does not exist.
func (m *Mount) createPending(ctx context.Context, d *Dir, cp string, flags uint32, out *fuse.EntryOut) (*fs.Inode, fs.FileHandle, uint32, syscall.Errno) {
	f := newFile(m, 0)
	h := newHandle(f, true, flags&syscall.O_APPEND != 0, callerTid(ctx), nil, tree.Stat{})
	h.loaded = true
	h.create = &pendingCreate{path: cp}
	h.state = stateUnwritten
	if flags&syscall.O_TRUNC != 0 {
		h.edits = []edit{{kind: editTruncate}}
	}
	h.size.Store(0)
	f.mu.Lock()
	f.pending = h
	f.writers[h] = struct{}{}
	f.mu.Unlock()
	m.pending.mu.Lock()
	if m.pending.files == nil {
		m.pending.files = map[string]*File{}
	}
	m.pending.files[cp] = f
	m.pending.mu.Unlock()
	f.pendingAttr(&out.Attr)
	ino := d.NewInode(ctx, f, fs.StableAttr{Mode: syscall.S_IFREG, Ino: inoOf(m.pending.seq.Add(1), cp, rolePending)})
	// Direct I/O, as for every writer (openContent).
	return ino, h, fuse.FOPEN_DIRECT_IO, 0
}

// pendingFile returns the file whose create is buffered at path, if any.
func (m *Mount) pendingFile(path string) *File {
	m.pending.mu.Lock()
	defer m.pending.mu.Unlock()
	return m.pending.files[path]
}

func (m *Mount) dropPending(path string, f *File) {
	m.pending.mu.Lock()
	if m.pending.files[path] == f {
		delete(m.pending.files, path)
	}
	m.pending.mu.Unlock()
}

// cancelPending handles rm of a file whose create has not been flushed:
// the create must then never happen. It reports whether there was such a
// create, which makes the remove done.
func (m *Mount) cancelPending(path string) bool {
	f := m.pendingFile(path)
	if f == nil {
		return false
	}
	h := f.pendingHandle()
	m.dropPending(path, f)
	if h == nil {
		return false
	}
	h.mu.Lock()
	cancelled := h.create != nil
	if cancelled {
		h.create.discarded = true
	}
	h.mu.Unlock()
	f.removePending(h)
	return cancelled
}

// commitPendingAt creates the pending file at path now, if there is one:
// a rename moves the znode, so it must exist.
func (m *Mount) commitPendingAt(path string) syscall.Errno {
	if f := m.pendingFile(path); f != nil {
		return f.commitPending()
	}
	return 0
}

// pendingHandle returns the handle whose commit creates the file's znode,
// or nil when the znode exists (or never will).
func (f *File) pendingHandle() *handle {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pending
}

func (f *File) removePending(h *handle) {
	f.mu.Lock()
	if f.pending == h {
		f.pending = nil
	}
	f.mu.Unlock()
}

// commitPending creates the file's znode now, if its create is buffered:
// an attribute set on it needs the znode.
func (f *File) commitPending() syscall.Errno {
	if h := f.pendingHandle(); h != nil {
		return h.flush(false, true)
	}
	return 0
}

// createNow is settle's end: an open or getxattr that still finds the
// create buffered after the settle wait creates the znode, so that it
// finds one.
func (f *File) createNow() syscall.Errno {
	h := f.pendingHandle()
	if h == nil {
		return 0
	}
	if h.poisoned() {
		// Its writer was told its write failed: the file will never be
		// created.
		return syscall.ENOENT
	}
	return h.flush(true, true)
}

// pendingAttr describes an inode whose znode is not created yet.
func (f *File) pendingAttr(out *fuse.Attr) {
	size, _ := f.unflushedSize()
	now := time.Now()
	in := info{writable: true, strangerRights: openRights}
	f.m.fillAttr(out, in, false, uint64(size))
	out.SetTimes(&now, &now, &now)
}

// commitCreate is a commit's create: it creates the znode with the
// handle's content and reports created. If another client created it
// first, O_CREAT without O_EXCL opens what is there: the handle's edits are
// loaded onto the existing content, created is false, and the commit goes
// on as a setData. Either way the create is no longer pending. Called with
// h.mu held.
func (h *handle) commitCreate() (res tree.Result, created bool, errno syscall.Errno) {
	m := h.file.m
	p := h.file.zpath()
	res, err := m.propose(tree.Create{Path: p, Data: h.view, ACL: tree.OpenACL, Mode: tree.ModePersistent, Kind: tree.KindFile})
	if err == nil {
		h.file.czxid.Store(res.Stat.Czxid)
		h.created()
		return res, true, 0
	}
	if !errors.Is(err, tree.ErrNodeExists) {
		return res, false, toErrno(err)
	}
	var st tree.Stat
	m.rep.Read(func(t *tree.Tree) { st, err = t.Stat(p) })
	if err != nil {
		return res, false, toErrno(err)
	}
	h.file.czxid.Store(st.Czxid)
	h.created()
	return res, false, h.load()
}

// created forgets the create once the znode exists. Called with h.mu held.
func (h *handle) created() {
	c := h.create
	h.create = nil
	h.file.removePending(h)
	h.file.m.dropPending(c.path, h.file)
}

// releaseCreate runs at the release of a handle whose create never
// happened: it failed, or its outcome is unknown, or a remove cancelled
// it.
func (h *handle) releaseCreate() {
	h.mu.Lock()
	c := h.create
	discarded := c.dropped()
	h.mu.Unlock()
	if c == nil {
		return
	}
	h.file.m.dropPending(c.path, h.file)
	if !discarded {
		// The kernel's entry for the name leads to this inode, which no
		// znode backs; an O_CREAT open would reach it and fail with
		// ENOENT until the entry expired, an hour later. Should the
		// create land after all, its event drops the entry again.
		h.file.m.notifier.enqueue(notice{kindPath: c.path})
	}
}
