package fusefs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"

	"zkfs/replication"
	"zkfs/tree"
)

// maxWait bounds how long a handler waits for the notifier. The wait only
// orders invalidations before replies; should the notifier be stuck behind
// a kernel lock that the waiting request's process holds, the bound turns
// a deadlock into a delay.
const maxWait = 2 * time.Second

// missTimeout bounds how long a lookup waits to confirm a missing name
// with the leader.
const missTimeout = 2 * time.Second

// missRetry spaces the attempts to confirm a missing name across a leader
// change.
const missRetry = 20 * time.Millisecond

// maxMissing bounds the names remembered as cached-missing; lookups beyond
// it are not cached by the kernel at all.
const maxMissing = 1 << 16

// notifier sends the kernel cache invalidations for every applied change,
// from its own goroutine: the replica's listener runs under the apply lock
// and FUSE handlers run while the kernel holds inode locks, and a
// notification from either could deadlock.
type notifier struct {
	m    *Mount
	wake chan struct{}

	mu        sync.Mutex
	queue     []notice
	processed uint64
	progress  chan struct{} // closed when processed advances
}

// notice is one unit of work: an applied batch, or a kind change the mount
// made itself (SetKind emits no event, and the kernel must still learn that
// the inode's type changed).
type notice struct {
	applied  replication.Applied
	kindPath string
	done     chan struct{}
}

func newNotifier(m *Mount) *notifier {
	return &notifier{m: m, wake: make(chan struct{}, 1), progress: make(chan struct{})}
}

// enqueue is called from the replica's listener; it only queues.
func (n *notifier) enqueue(x notice) {
	n.mu.Lock()
	n.queue = append(n.queue, x)
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// start sets the index the notifier is known to have caught up with.
func (n *notifier) start(idx uint64) {
	n.mu.Lock()
	if idx > n.processed {
		n.processed = idx
	}
	n.mu.Unlock()
}

// waitFor waits, for at most maxWait, until every change up to idx has
// been sent to the kernel.
func (n *notifier) waitFor(idx uint64) {
	deadline := time.NewTimer(maxWait)
	defer deadline.Stop()
	for {
		n.mu.Lock()
		if n.processed >= idx {
			n.mu.Unlock()
			return
		}
		ch := n.progress
		n.mu.Unlock()
		select {
		case <-ch:
		case <-deadline.C:
			n.m.log.Warn("kernel cache invalidation is lagging", "want", idx)
			return
		case <-n.m.stop:
			return
		}
	}
}

func (n *notifier) run() {
	defer n.m.wg.Done()
	for {
		select {
		case <-n.m.stop:
			return
		case <-n.wake:
		}
		for {
			n.mu.Lock()
			batch := n.queue
			n.queue = nil
			n.mu.Unlock()
			if len(batch) == 0 {
				break
			}
			for _, x := range batch {
				n.handle(x)
				n.mu.Lock()
				if x.applied.Index > n.processed {
					n.processed = x.applied.Index
					close(n.progress)
					n.progress = make(chan struct{})
				}
				n.mu.Unlock()
				if x.done != nil {
					close(x.done)
				}
			}
		}
	}
}

func (n *notifier) handle(x notice) {
	m := n.m
	switch {
	case x.kindPath != "":
		m.invalidateEntry(x.kindPath)
	case x.applied.Reset:
		m.invalidateAll()
	default:
		for _, ev := range x.applied.Events {
			m.invalidate(ev)
		}
		for _, p := range x.applied.Kinds {
			m.invalidateEntry(p)
		}
		for _, p := range x.applied.ACLs {
			m.invalidateACL(p)
		}
	}
}

// inodeAt finds the inode the kernel knows for a path, if any. A path with
// no inode has nothing cached below it either.
func (m *Mount) inodeAt(path string) *fs.Inode {
	in := m.root.EmbeddedInode()
	if path == "/" {
		return in
	}
	for _, seg := range strings.Split(path[1:], "/") {
		in = in.GetChild(escapeName(seg))
		if in == nil {
			return nil
		}
	}
	return in
}

// invalidate tells the kernel what one event made stale.
func (m *Mount) invalidate(ev tree.Event) {
	dir, name := tree.Split(ev.Path)
	name = escapeName(name) // the name the kernel knows
	parent := m.inodeAt(dir)
	var self *fs.Inode
	if ev.Path == "/" {
		self = m.root.EmbeddedInode()
	} else if parent != nil {
		self = parent.GetChild(name)
	}
	switch ev.Type {
	case tree.EventNodeCreated:
		m.forgetMissing(ev.Path)
		if parent != nil {
			parent.NotifyEntry(name)
		}
		return
	case tree.EventNodeDeleted:
		if self != nil && m.standsForLiveNode(ev.Path, self) {
			// The event is older than the inode now at the name: a
			// create buffered on this mount, or a node made again since
			// (a write-and-rename loop does that). Telling the kernel the
			// inode was deleted would unlink a live file.
			return
		}
		if self != nil {
			parent.NotifyDelete(name, self)
		} else if parent != nil {
			parent.NotifyEntry(name)
		}
		return
	}
	if self == nil {
		return
	}
	// A change of kind (a file given a child through the client port)
	// needs a new inode: drop the name so that the next lookup makes one.
	var kind tree.Kind
	var err error
	m.rep.Read(func(t *tree.Tree) { kind, err = t.Kind(ev.Path) })
	if err == nil && (kind == tree.KindDir) != self.IsDir() && parent != nil {
		parent.NotifyEntry(name)
		return
	}
	self.NotifyContent(0, 0)
	if self.IsDir() {
		if d := self.GetChild(dataName); d != nil {
			d.NotifyContent(0, 0)
		}
	}
}

// invalidateEntry drops the kernel's entry for a path, so that the next
// lookup builds a fresh inode.
func (m *Mount) invalidateEntry(path string) {
	dir, name := tree.Split(path)
	name = escapeName(name)
	if parent := m.inodeAt(dir); parent != nil {
		parent.NotifyEntry(name)
	}
}

// invalidateAll follows a snapshot restore, after which any cached entry
// may be wrong: every known inode, entry and cached-missing name.
func (m *Mount) invalidateAll() {
	var walk func(in *fs.Inode)
	walk = func(in *fs.Inode) {
		in.NotifyContent(0, 0)
		for name, c := range in.Children() {
			walk(c)
			in.NotifyEntry(name)
		}
	}
	walk(m.root.EmbeddedInode())
	m.missingMu.Lock()
	missing := m.missing
	m.missing = map[string]struct{}{}
	m.missingMu.Unlock()
	for p := range missing {
		m.invalidateEntry(p)
	}
}

// confirmMissing brings this replica up to every write committed when a
// lookup found nothing, so that the lookup can be answered again, and
// linearizably. A name created through another replica a moment ago may
// not have reached this one yet (a follower learns of a commit with the
// leader's next message), and a script that made it there and uses it
// here must find it. Misses are few, since the kernel caches the answer
// until the name is created, so the round trip to the leader is paid about
// once per name. A leader change on the way is waited out, as a write
// waits for the next leader. It reports false when the leader could not be
// asked (the replica is cut off): the answer is then only this replica's
// view, which the kernel must not cache.
//
// An interrupt of the lookup does not cut the wait short: the kernel sends
// one whenever a signal with a handler reaches the waiting thread (a Go
// program's runtime gets SIGURG and SIGCHLD all the time), and the caller
// still waits for, and uses, the answer. Cut short, it was ENOENT for a
// directory made on the leader a moment before.
func (m *Mount) confirmMissing(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), missTimeout)
	defer cancel()
	var retry *time.Timer
	for {
		err := m.rep.Sync(ctx)
		if err == nil {
			return true
		}
		if errors.Is(err, replication.ErrReadOnly) || errors.Is(err, replication.ErrClosed) || ctx.Err() != nil {
			m.log.Debug("a missing name is answered from this replica's view alone", "err", err)
			return false
		}
		if retry == nil {
			retry = time.NewTimer(missRetry)
			defer retry.Stop()
		} else {
			retry.Reset(missRetry)
		}
		select {
		case <-retry.C:
		case <-ctx.Done():
			m.log.Debug("a missing name is answered from this replica's view alone", "err", err)
			return false
		}
	}
}

// rememberMissing records a name that a lookup reported missing, so that a
// snapshot restore can invalidate it; it reports false when the set is full
// and the answer must not be cached.
func (m *Mount) rememberMissing(path string) bool {
	m.missingMu.Lock()
	defer m.missingMu.Unlock()
	if _, ok := m.missing[path]; ok {
		return true
	}
	if len(m.missing) >= maxMissing {
		return false
	}
	m.missing[path] = struct{}{}
	return true
}

func (m *Mount) forgetMissing(path string) {
	m.missingMu.Lock()
	delete(m.missing, path)
	m.missingMu.Unlock()
}

// standsForLiveNode reports whether the inode at path is a file whose
// create is still buffered, or stands for the znode now at path.
func (m *Mount) standsForLiveNode(path string, in *fs.Inode) bool {
	var czxid int64
	switch n := in.Operations().(type) {
	case *File:
		if n.pendingHandle() != nil {
			return true
		}
		czxid = n.czxid.Load()
	case interface{ base() *node }:
		czxid = n.base().czxid.Load()
	default:
		return false
	}
	var st tree.Stat
	var err error
	m.rep.Read(func(t *tree.Tree) { st, err = t.Stat(path) })
	return err == nil && st.Czxid == czxid
}
