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
	wr := w.m.watches.add(p, id)
	// Seekable, and a seek back replays (see watcher.replay): bash's read
	// builtin and head -n1 read a buffer and seek back to the end of
	// their line.
	return wr, fuse.FOPEN_DIRECT_IO, 0
}

// watchHub routes applied events to the open @watch files.
type watchHub struct {
	mu     sync.Mutex
	byDir  map[string]map[*watcher]struct{}
	closed bool
	onLoss func(dir string)
}

func newWatchHub(onLoss func(string)) *watchHub {
	return &watchHub{byDir: map[string]map[*watcher]struct{}{}, onLoss: onLoss}
}

// watcher is one open @watch file.
type watcher struct {
	hub   *watchHub
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
}

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

func (h *watchHub) add(dir string, id tree.Identity) *watcher {
	w := &watcher{hub: h, dir: dir, ready: make(chan struct{}, 1), identity: id}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		w.closed = true
		return w
	}
	set := h.byDir[dir]
	if set == nil {
		set = map[*watcher]struct{}{}
		h.byDir[dir] = set
	}
	set[w] = struct{}{}
	return w
}

func (h *watchHub) remove(w *watcher) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if set := h.byDir[w.dir]; set != nil {
		delete(set, w)
		if len(set) == 0 {
			delete(h.byDir, w.dir)
		}
	}
}

// deliver queues an applied batch's events. It runs in the replica's
// listener, under the apply lock, so that a reader of @watch never sees a
// change in the tree before its event is queued; it only appends to
// buffers.
func (h *watchHub) deliver(a replication.Applied) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.byDir) == 0 {
		return
	}
	events := a.Events
	if a.Reset {
		events = h.restoreEvents(a.Before, a.After)
	}
	for _, ev := range events {
		targets := []string{ev.Path}
		if ev.Path != "/" {
			dir, _ := tree.Split(ev.Path)
			targets = append(targets, dir)
		}
		var line []byte
		for _, dir := range targets {
			for w := range h.byDir[dir] {
				// ZooKeeper 3.8.4 withholds events from watchers
				// that may not read the node.
				if !tree.Permitted(ev.ACL, tree.PermRead, w.identity) {
					continue
				}
				if line == nil {
					line = fmt.Appendf(nil, "0x%x %s %s\n", ev.Zxid, ev.Type, ev.Path)
				}
				w.queue(line)
			}
		}
	}
}

// restoreEvents are the events that a snapshot restore, which replaces
// the tree without its writes, implies for the watched directories and
// their children: a reader of @watch learns of every change it would have
// seen, and of nothing that did not change. The caller holds h.mu.
func (h *watchHub) restoreEvents(before, after *tree.Tree) []tree.Event {
	dirs := make([]string, 0, len(h.byDir))
	for dir := range h.byDir {
		dirs = append(dirs, dir)
	}
	return tree.DiffScope(before, after, tree.Scope{Nodes: dirs, Children: dirs})
}

func (w *watcher) queue(line []byte) {
	w.mu.Lock()
	if len(w.buf)+len(line) > maxWatchBacklog {
		first := !w.lost
		w.lost = true
		w.mu.Unlock()
		if first && w.hub.onLoss != nil {
			w.hub.onLoss(w.dir)
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

// close wakes every reader at unmount.
func (h *watchHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, set := range h.byDir {
		for w := range set {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			select {
			case w.ready <- struct{}{}:
			default:
			}
		}
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
			w.mu.Unlock()
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
	w.hub.remove(w)
	return 0
}
