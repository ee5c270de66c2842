package fusefs

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/replication"
	"zkfs/tree"
)

// maxWatchBacklog bounds the unread lines a watcher keeps; a reader that
// falls further behind loses the newest lines, and the log says so.
const maxWatchBacklog = 16 << 20

// Watch is the @watch file of a directory: reading it streams the events
// of the directory and of its direct children, one line each.
type Watch struct {
	node
}

func (w *Watch) dirPath() string {
	dir, _ := tree.Split(w.zpath())
	return dir
}

var _ = (fs.NodeGetattrer)((*Watch)(nil))

// Getattr describes a read-only, empty-looking stream.
func (w *Watch) Getattr(ctx context.Context, fh fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	var in info
	var err error
	p := w.dirPath()
	w.m.rep.Read(func(t *tree.Tree) { in, err = w.m.readInfo(t, p, false) })
	if err != nil {
		return toErrno(err)
	}
	in.writable = false
	w.m.fillAttr(&out.Attr, in, false, 0)
	return 0
}

var _ = (fs.NodeOpener)((*Watch)(nil))

// Open registers the watch at once, so that no event between open and the
// first read is lost. Opening it for writing is EINVAL, as creating a
// reserved name is.
func (w *Watch) Open(ctx context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&syscall.O_ACCMODE != syscall.O_RDONLY {
		return nil, 0, syscall.EINVAL
	}
	p := w.dirPath()
	id := w.m.callerIdentity(ctx)
	var err error
	w.m.rep.Read(func(t *tree.Tree) {
		var st tree.Stat
		st, err = t.Stat(p)
		if err == nil && p != "/" && st.Czxid != w.czxid.Load() {
			err = tree.ErrNoNode
		}
		if err == nil {
			err = t.CheckPerm(p, tree.PermRead, id)
		}
	})
	if err != nil {
		return nil, 0, toErrno(err)
	}
	wr := w.m.openWatcher(p, id)
	// Seekable, and a seek back replays (see watcher.replay): bash's read
	// builtin and head -n1 read a buffer and seek back to the end of
	// their line.
	return wr, fuse.FOPEN_DIRECT_IO, 0
}

// watcher is one open @watch file. It holds a children watch on its
// directory in the replica's fan-out (replication.Watches), which hands it
// the events of the directory and of its direct children, a snapshot
// restore's included, and leaves out those of nodes the opener may not
// read.
type watcher struct {
	m     *Mount
	dir   string
	ready chan struct{}
	// identity is the opener's: a stranger on an --allow-other mount
	// must not see events of nodes only the owner may read.
	identity tree.Identity

	mu     sync.Mutex
	buf    []byte
	lost   bool
	closed bool
	// pos is the stream offset after the last byte delivered, and last
	// the bytes of the last read, from offset pos-len(last). bash's read
	// builtin reads a regular file a buffer at a time and seeks back to
	// the end of the line it used; without a replay of what lies after
	// that offset, a "while read" loop that falls behind loses events
	// (one saw 13 of 200).
	pos  int64
	last []byte
	// zxid is the newest event queued. A reader that hears of a change
	// and looks at it through this mount must not find the kernel's
	// caches still holding what came before, so a read returns only
	// once the notifier has dealt with it.
	zxid int64
}

// openWatcher registers the watch of an @watch file opened on dir. On a
// mount that is unmounting, the watcher is closed from the start.
func (m *Mount) openWatcher(dir string, id tree.Identity) *watcher {
	w := &watcher{m: m, dir: dir, ready: make(chan struct{}, 1), identity: id}
	if line := m.watchOpened(w); line != nil {
		w.queue(line)
	}
	ws := m.rep.Watches()
	// Both tables, so that NodeChildrenChanged reaches it too.
	if !ws.Add(w, dir, replication.DataWatches, replication.WatchChildren) ||
		!ws.Add(w, dir, replication.ChildWatches, replication.WatchChildren) {
		ws.RemoveAll(w)
		w.close()
	}
	return w
}

// closeWatchers wakes every reader of the mount's @watch files at unmount,
// and drops their watches.
func (m *Mount) closeWatchers() {
	gone := m.rep.Watches().RemoveWhere(func(rw replication.Watcher) bool {
		w, ok := rw.(*watcher)
		return ok && w.m == m
	})
	for _, rw := range gone {
		m.watchClosed(rw.(*watcher))
		rw.(*watcher).close()
	}
}

var _ replication.Watcher = (*watcher)(nil)

// WatchEvent queues the event's line. It runs on the replica's apply
// goroutine, under the tree's write lock, so that a reader of @watch never
// sees a change in the tree before its event is queued; it only appends to
// a buffer.
func (w *watcher) WatchEvent(ev tree.Event) {
	w.mu.Lock()
	w.zxid = max(w.zxid, ev.Zxid)
	w.mu.Unlock()
	w.queue(fmt.Appendf(nil, "0x%x %s %s\n", ev.Zxid, ev.Type, ev.Path))
}

// WatchIdentity is the opener's identity.
func (w *watcher) WatchIdentity() tree.Identity { return w.identity }

// WatchClosed reports that the mount is unmounting.
func (w *watcher) WatchClosed() bool { return w.m.closed.Load() }

// replay returns the delivered bytes from offset off, if a reader that
// sought back asks for them, and nil otherwise. Called with w.mu held.
func (w *watcher) replay(off int64, max int) []byte {
	start := w.pos - int64(len(w.last))
	if off >= w.pos || off < start {
		return nil
	}
	b := w.last[off-start:]
	if len(b) > max {
		if n := bytes.LastIndexByte(b[:max], '\n') + 1; n > 0 {
			max = n
		}
		b = b[:max]
	}
	return append([]byte(nil), b...)
}

// delivered records bytes handed to the reader. Called with w.mu held.
func (w *watcher) delivered(out []byte) {
	w.pos += int64(len(out))
	w.last = out
}

func (w *watcher) queue(line []byte) {
	w.mu.Lock()
	if len(w.buf)+len(line) > maxWatchBacklog {
		first := !w.lost
		w.lost = true
		w.mu.Unlock()
		if first {
			w.m.log.Warn("an @watch reader fell behind; events were dropped", "dir", w.dir)
		}
		return
	}
	w.buf = append(w.buf, line...)
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

// close wakes the reader for good: the mount is going.
func (w *watcher) close() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	select {
	case w.ready <- struct{}{}:
	default:
	}
}

var _ = (fs.FileReader)((*watcher)(nil))

// Read blocks until events are queued and returns whole lines. It never
// returns end of file: a stream of events has no end. A signal to the
// reader interrupts it with EINTR.
func (w *watcher) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	for {
		w.mu.Lock()
		if again := w.replay(off, len(dest)); again != nil {
			w.mu.Unlock()
			return fuse.ReadResultData(again), 0
		}
		if len(w.buf) > 0 {
			n := len(w.buf)
			if n > len(dest) {
				n = bytes.LastIndexByte(w.buf[:len(dest)], '\n') + 1
				if n == 0 {
					n = len(dest) // a single line longer than the read
				}
			}
			out := append([]byte(nil), w.buf[:n]...)
			w.delivered(out)
			w.buf = w.buf[n:]
			if len(w.buf) == 0 {
				w.buf = nil
				w.lost = false
			}
			zxid := w.zxid
			w.mu.Unlock()
			if zxid > 0 {
				w.m.notifier.waitFor(uint64(zxid))
			}
			return fuse.ReadResultData(out), 0
		}
		closed := w.closed
		w.mu.Unlock()
		if closed {
			return nil, syscall.EIO
		}
		select {
		case <-w.ready:
		case <-ctx.Done():
			return nil, syscall.EINTR
		}
	}
}

var _ = (fs.FileReleaser)((*watcher)(nil))

// Release drops the watch.
func (w *watcher) Release(ctx context.Context) syscall.Errno {
	w.m.rep.Watches().RemoveAll(w)
	w.m.watchClosed(w)
	return 0
}
