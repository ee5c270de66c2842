package fusefs

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
)

// maxAttempts bounds the retries of a write that loses a version race.
const maxAttempts = 50

// editKind says what an edit does.
type editKind uint8

const (
	// editWrite writes data at off, zero-filling a gap past the end.
	editWrite editKind = iota
	// editAppend writes data at the end, wherever the end is by then.
	editAppend
	// editTruncate resizes to off, zero-filling when it grows.
	editTruncate
)

// edit is one change a writer made through its handle. Handles keep their
// edits so that, when another writer got in first, the same edits can be
// replayed on the newer data: that is what makes >> append atomically.
type edit struct {
	kind editKind
	off  int64
	data []byte
}

func (e edit) apply(b []byte) []byte {
	switch e.kind {
	case editAppend:
		return append(b, e.data...)
	case editTruncate:
		return resize(b, e.off)
	}
	end := e.off + int64(len(e.data))
	if end > int64(len(b)) {
		b = resize(b, end)
	}
	copy(b[e.off:], e.data)
	return b
}

func resize(b []byte, size int64) []byte {
	if size <= int64(len(b)) {
		return b[:size]
	}
	return append(b, make([]byte, size-int64(len(b)))...)
}

// handle is an open file. Readers read the tree; writers buffer the whole
// new content and commit it as one setData (or one create) on flush and
// fsync, so that `echo x > f` is a single version and a single event.
type handle struct {
	file   *File
	write  bool
	append bool
	tid    uint32    // the thread that opened it (see File.openTruncHandle)
	opened time.Time // when, to bound the waits of settle

	// size is the buffered size while there are uncommitted edits, -1
	// otherwise; Getattr reads it without the lock.
	size atomic.Int64

	mu sync.Mutex
	// state is where the buffered content stands (writestate.go); err
	// is the error of stateFailed.
	state writeState
	err   syscall.Errno
	// create is set while the znode is still to be created by the first
	// commit (pending.go).
	create      *pendingCreate
	loaded      bool   // view and baseVersion are set
	view        []byte // the content as this handle sees it
	baseVersion int32  // the version view's base data had
	edits       []edit // edits since the base, for replay
	closed      bool   // close(2) flushed it; counted in File.closed, under File.mu

	// The version a read is served from (see Read): its content and stat,
	// under mu. A handle whose znode is deleted, or whose inode a rename
	// through this mount replaced, keeps serving the last one it had.
	cur     []byte
	curStat tree.Stat
	// next and lastN describe the last read: where it ended and how many
	// bytes it returned. A read at next after one that returned data
	// continues the same version.
	next  int64
	lastN int
	// frozen is set when a rename through this mount replaced the inode:
	// the descriptor holds the old file, which no longer has a name.
	frozen bool
}

// newHandle makes a handle whose reads start from the version cur (nil
// for a writer that may not read).
func newHandle(f *File, write, appendMode bool, tid uint32, cur []byte, curStat tree.Stat) *handle {
	h := &handle{file: f, write: write, append: appendMode, tid: tid, opened: time.Now(), cur: cur, curStat: curStat}
	h.size.Store(-1)
	f.opened(h) // every handle made here is given to the kernel, which releases it
	return h
}

// openContent opens a File or Data inode. Create passes the path, because
// the inode it just made is not linked into go-fuse's tree yet; Open passes
// "" and the path comes from the inode.
func openContent(ctx context.Context, f *File, flags uint32, path string) (fs.FileHandle, uint32, syscall.Errno) {
	m := f.m
	if errno := f.settle(); errno != 0 {
		return nil, 0, errno
	}
	acc := flags & syscall.O_ACCMODE
	var in info
	var errno syscall.Errno
	var canRead bool
	var content []byte
	var contentStat tree.Stat
	m.rep.Read(func(t *tree.Tree) {
		p := path
		if p == "" {
			p, in, errno = f.target(t)
		} else {
			var err error
			in, err = m.readInfo(t, p, false)
			errno = toErrno(err)
		}
		if errno == 0 {
			canRead = t.CheckPerm(p, tree.PermRead, m.identity) == nil
		}
		if errno == 0 && canRead && acc != syscall.O_WRONLY {
			d, st, _ := t.Get(p)
			content = append([]byte{}, d...)
			contentStat = st
		}
	})
	if errno != 0 {
		return nil, 0, errno
	}
	if acc != syscall.O_WRONLY && !canRead {
		return nil, 0, syscall.EACCES
	}
	if acc == syscall.O_RDONLY {
		// Readers use direct I/O: every read reaches the mount, which
		// serves it from one whole version (see the package doc for why
		// not the page cache).
		h := newHandle(f, false, false, callerTid(ctx), content, contentStat)
		flags := uint32(fuse.FOPEN_DIRECT_IO)
		if f.stableIno() {
			// A reader's flush does nothing: let the kernel skip that
			// round trip at close. An inode created through the mount
			// keeps it, for servesOpen counts closed descriptors.
			flags |= fuse.FOPEN_NOFLUSH
		}
		return h, flags, 0
	}
	if !in.writable {
		return nil, 0, syscall.EACCES
	}
	if errno := m.awaitQuorum(); errno != 0 {
		return nil, 0, errno
	}
	h := newHandle(f, true, flags&syscall.O_APPEND != 0, callerTid(ctx), content, contentStat)
	f.markOpened(h.tid, h)
	if flags&syscall.O_TRUNC != 0 {
		h.loaded = true
		h.baseVersion = in.stat.Version
		h.edits = []edit{{kind: editTruncate}}
		h.state = stateUnwritten
		h.size.Store(0)
	}
	f.addWriter(h)
	// Direct I/O keeps uncommitted bytes out of the page cache, where a
	// failed commit would leave them for readers to see.
	return h, fuse.FOPEN_DIRECT_IO, 0
}

// load reads the current content as the base of the handle's edits.
func (h *handle) load() syscall.Errno {
	var data []byte
	var in info
	var errno syscall.Errno
	h.file.m.rep.Read(func(t *tree.Tree) {
		var p string
		p, in, errno = h.file.target(t)
		if errno == 0 {
			d, _, _ := t.Get(p)
			data = append([]byte(nil), d...)
		}
	})
	if errno != 0 {
		return errno
	}
	for _, e := range h.edits {
		data = e.apply(data)
	}
	h.view = data
	h.baseVersion = in.stat.Version
	h.loaded = true
	return 0
}

var _ = (fs.FileReader)((*handle)(nil))

// Read serves a writer's buffered view, or one whole version of the znode:
// a read that continues the previous one (at the offset where it ended,
// after it returned data) is served from the same version, so that a read
// the kernel splits in several requests, and a whole-file read by cat or
// a language's read-all, never mixes two versions; any other read (from
// offset 0, after a seek, or after a read that found the end, as tail -f
// does) is served from the newest version applied on the replica.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if h.write {
		h.file.unmarkOpened(h)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.write && h.loaded {
		return fuse.ReadResultData(slice(h.view, off, len(dest))), 0
	}
	if !(off == h.next && h.lastN > 0) {
		h.refresh()
	}
	out := slice(h.cur, off, len(dest))
	h.next, h.lastN = off+int64(len(out)), len(out)
	return fuse.ReadResultData(out), 0
}

// refresh moves the handle to the newest version of its znode. A handle
// whose znode is gone, or whose inode was replaced, keeps its version: an
// unlinked file stays readable through the descriptors that hold it.
// Called with h.mu held.
func (h *handle) refresh() {
	if h.frozen {
		return
	}
	var data []byte
	var st tree.Stat
	changed := false
	h.file.m.rep.Read(func(t *tree.Tree) {
		p, in, errno := h.file.target(t)
		if errno != 0 || in.stat.Mzxid == h.curStat.Mzxid && in.stat.Czxid == h.curStat.Czxid {
			return
		}
		d, s, err := t.Get(p)
		if err != nil {
			return
		}
		data, st, changed = append([]byte(nil), d...), s, true
	})
	if changed {
		h.cur, h.curStat = data, st
	}
}

// heldAttr describes the file a descriptor holds when its znode is gone
// or its inode was replaced: the last version it served, with no links.
func (h *handle) heldAttr(out *fuse.Attr) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.write && h.loaded || h.curStat.Czxid == 0 && h.cur == nil {
		return false
	}
	h.file.m.fillAttr(out, info{stat: h.curStat, writable: h.write}, false, uint64(len(h.cur)))
	out.Nlink = 0
	return true
}

// freeze keeps the handle on the content it holds now: a rename through
// this mount gave its name to another file. A writer's edits then go
// nowhere, as writes to an unlinked file do.
func (h *handle) freeze(data []byte, st tree.Stat, renamed int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.curStat.Mzxid >= renamed {
		return
	}
	h.frozen = true
	h.cur, h.curStat = data, st
	h.lastN = 0
}

func slice(b []byte, off int64, n int) []byte {
	if off >= int64(len(b)) {
		return nil
	}
	end := off + int64(n)
	if end > int64(len(b)) {
		end = int64(len(b))
	}
	return b[off:end]
}

var _ = (fs.FileWriter)((*handle)(nil))

// Write buffers. Content over the size limit fails here, with EFBIG, rather
// than at close where most programs would not look.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !h.write {
		return 0, syscall.EBADF
	}
	h.file.unmarkOpened(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateFailed {
		return 0, h.err
	}
	if !h.loaded {
		if errno := h.load(); errno != 0 {
			return 0, h.fail(errno)
		}
	}
	e := edit{kind: editWrite, off: off, data: append([]byte(nil), data...)}
	size := off + int64(len(data))
	if h.append {
		// The kernel's offset comes from its idea of the size, which
		// another writer may have changed: appends go to the end.
		e.kind = editAppend
		size = int64(len(h.view)) + int64(len(data))
	}
	if size < int64(len(h.view)) {
		size = int64(len(h.view))
	}
	if size > int64(h.file.m.maxData) {
		return 0, h.fail(syscall.EFBIG)
	}
	h.view = e.apply(h.view)
	h.edits = append(h.edits, e)
	h.state = h.state.edited(false)
	h.size.Store(int64(len(h.view)))
	return uint32(len(data)), 0
}

// truncate buffers an ftruncate.
func (h *handle) truncate(size int64) syscall.Errno {
	h.file.unmarkOpened(h)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateFailed {
		return h.err
	}
	if size > int64(h.file.m.maxData) {
		return h.fail(syscall.EFBIG)
	}
	if !h.loaded {
		if errno := h.load(); errno != 0 {
			return h.fail(errno)
		}
	}
	e := edit{kind: editTruncate, off: size}
	// Without atomic O_TRUNC the kernel truncates a file opened with
	// O_TRUNC through this call; it counts as the open's truncation.
	openTrunc := size == 0 && len(h.edits) == 0
	h.view = e.apply(h.view)
	h.edits = append(h.edits, e)
	h.state = h.state.edited(openTrunc)
	h.size.Store(size)
	return 0
}

var _ = (fs.FileFlusher)((*handle)(nil))

// Flush commits on close, so that close reports a failed write.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	h.file.unmarkOpened(h)
	h.file.closedBy(h)
	return h.flush(true, false)
}

var _ = (fs.FileFsyncer)((*handle)(nil))

// Fsync commits.
func (h *handle) Fsync(ctx context.Context, flags uint32) syscall.Errno {
	h.file.unmarkOpened(h)
	return h.flush(true, true)
}

var _ = (fs.FileReleaser)((*handle)(nil))

// Release commits what flush deferred, and forgets the handle. The kernel
// ignores its result, so a failure can only be logged.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	defer h.file.released(h)
	if !h.write {
		return 0
	}
	reported := h.poisoned()
	if errno := h.flush(false, true); errno != 0 && !reported {
		h.file.m.log.Warn("a write deferred to the last close failed", "path", h.file.zpath(), "errno", errno.Error())
	}
	h.file.removeWriter(h)
	h.releaseCreate()
	return 0
}

// flush commits the buffered content, if its state says so (writeState's
// flushing). With wait it also waits until the kernel's caches have been
// told about the change, so that a read right after close sees it; only
// handlers that hold no kernel locks may wait. Without final, a handle
// that nothing was written through yet is left for later (stateUnwritten).
func (h *handle) flush(wait, final bool) syscall.Errno {
	if !h.write {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state == stateFailed {
		return h.err
	}
	if h.create.dropped() || h.frozen {
		return 0
	}
	next, commit := h.state.flushing(final)
	h.state = next
	if !commit {
		return 0
	}
	m := h.file.m
	var res tree.Result
	for attempt := 0; ; attempt++ {
		if h.create != nil {
			var created bool
			var errno syscall.Errno
			if res, created, errno = h.commitCreate(); errno != 0 {
				return h.fail(errno)
			}
			if created {
				break
			}
			continue // it exists already: write over it
		}
		p, _ := h.file.targetPath()
		var err error
		res, err = m.propose(tree.SetData{Path: p, Data: h.view, Version: h.baseVersion})
		if err == nil {
			break
		}
		if !retryable(err, attempt) {
			return h.fail(toErrno(err))
		}
		h.view = nil
		if errno := h.load(); errno != 0 {
			return h.fail(errno)
		}
	}
	// A copied ACL set before the content lands now (aclcopy.go).
	if p, _ := h.file.targetPath(); p != "" {
		m.applyDeferredACL(p)
	}
	h.baseVersion = res.Stat.Version
	h.edits = nil
	h.state = h.state.committed()
	h.size.Store(-1)
	if wait {
		m.notifier.waitFor(uint64(res.Stat.Mzxid))
	}
	return 0
}

// retryable reports whether a write that lost a version race should try
// again, after a short random pause so that racing replicas spread out.
func retryable(err error, attempt int) bool {
	if !errors.Is(err, tree.ErrBadVersion) || attempt+1 >= maxAttempts {
		return false
	}
	time.Sleep(time.Duration(rand.IntN(1+attempt*2)) * time.Millisecond)
	return true
}

func (h *handle) isFrozen() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.frozen
}
