package fusefs

// Cluster-wide locks: flock(2) and fcntl(2) locks on the mount are
// ZooKeeper locks, taken with kazoo's recipe (package recipe), so that they
// exclude processes on every replica, and kazoo's Lock on the same path.
//
// Where the contenders live:
//   - a directory's @data: in the directory itself, with kazoo's names, so
//     that flock on /mnt/zk/locks/job/@data and kazoo's Lock("/locks/job")
//     are one lock (the kernel keeps locks on directories themselves to
//     itself: FUSE forwards only those on files);
//   - a file: a file znode cannot have children (a child turns it into a
//     directory), so its contenders live in /zkfs/flock followed by the
//     file's path (for /locks/job, /zkfs/flock/locks/job), container nodes
//     that the server removes once empty. kazoo's Lock on that path takes
//     the same lock.
//
// A contender is an ephemeral sequential node of the mount's session.
// Waiting never polls: a waiter wakes on the deletion of its predecessor
// (or of its own node), which the replica's applied events report. The
// kernel sends the lock's owner with every request: for flock the open
// file, for fcntl the process. A lock is released on unlock, at the last
// close of a flock'ed open file (RELEASE), at any close by the process of
// a file it holds an fcntl lock on (FLUSH), and so when its process dies;
// and by ZooKeeper when the mount's session expires (its replica died).
//
// fcntl byte ranges are not kept: any fcntl lock locks the whole file, so
// two processes locking disjoint ranges exclude each other, which is safe
// but stricter than a local file system. flock and fcntl locks on the same
// file are one lock, as on NFS.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/recipe"
	"zkfs/replication"
	"zkfs/tree"
)

// fileLockRoot is where the contenders for file locks live.
const fileLockRoot = "/zkfs/flock"

// heldLock is a contender of this mount that holds its lock.
type heldLock struct {
	dir     string // the lock node
	node    string // the contender's name
	shared  bool
	owner   uint64
	ino     uint64 // the inode it was taken on, for fcntl's release at close
	flock   bool
	session int64
}

// lockTable is the mount's locks and waiters.
type lockTable struct {
	m *Mount

	mu   sync.Mutex
	held map[uint64][]*heldLock // by owner
	byFh map[uint64][]fhNote    // fcntl locks by the open file they came through

	// wmu guards waiters only; it is taken by the replica's listener,
	// under the tree's lock, so nothing that reads the tree or proposes
	// may run while it is held.
	wmu     sync.Mutex
	waiters map[string][]chan struct{} // znode path to wake on deletion
}

func newLockTable(m *Mount) *lockTable {
	return &lockTable{m: m, held: map[uint64][]*heldLock{}, byFh: map[uint64][]fhNote{}, waiters: map[string][]chan struct{}{}}
}

// applied wakes the waiters of deleted nodes. It runs in the replica's
// listener.
func (lt *lockTable) applied(a replication.Applied) {
	lt.wmu.Lock()
	defer lt.wmu.Unlock()
	if len(lt.waiters) == 0 {
		return
	}
	if a.Reset {
		for p, chs := range lt.waiters {
			for _, ch := range chs {
				close(ch)
			}
			delete(lt.waiters, p)
		}
		return
	}
	for _, ev := range a.Events {
		if ev.Type != tree.EventNodeDeleted {
			continue
		}
		if chs, ok := lt.waiters[ev.Path]; ok {
			for _, ch := range chs {
				close(ch)
			}
			delete(lt.waiters, ev.Path)
		}
	}
}

// subscribe returns a channel closed when path is deleted, and a function
// that withdraws it.
func (lt *lockTable) subscribe(path string) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	lt.wmu.Lock()
	lt.waiters[path] = append(lt.waiters[path], ch)
	lt.wmu.Unlock()
	return ch, func() {
		lt.wmu.Lock()
		defer lt.wmu.Unlock()
		chs := lt.waiters[path]
		for i, c := range chs {
			if c == ch {
				chs = append(chs[:i], chs[i+1:]...)
				break
			}
		}
		if len(chs) == 0 {
			delete(lt.waiters, path)
		} else {
			lt.waiters[path] = chs
		}
	}
}

// lockDir returns the lock node for a node of the mount: the znode path
// its contenders live under.
func lockDir(path string, kind tree.Kind) string {
	if kind == tree.KindDir {
		return path
	}
	return fileLockRoot + path
}

// take removes and returns the owner's lock on dir, if it holds one.
func (lt *lockTable) take(owner uint64, dir string) *heldLock {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	locks := lt.held[owner]
	for i, l := range locks {
		if l.dir == dir {
			lt.removeLocked(owner, i)
			return l
		}
	}
	return nil
}

func (lt *lockTable) removeLocked(owner uint64, i int) {
	locks := lt.held[owner]
	locks = append(locks[:i], locks[i+1:]...)
	if len(locks) == 0 {
		delete(lt.held, owner)
	} else {
		lt.held[owner] = locks
	}
}

// release deletes a held lock's contender. A contender already gone (its
// session expired) is no error. A delete that fails (no quorum, a leader
// change, the write timeout) is tried again in the background until it is
// done: the contender would otherwise hold the lock against every other
// process for as long as the mount's session lives, while the kernel
// already counts it released.
func (lt *lockTable) release(l *heldLock) {
	if lt.releaseOnce(l) {
		return
	}
	go func() {
		for wait := 100 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
			select {
			case <-lt.m.stop:
				return
			case <-time.After(wait):
			}
			if lt.releaseOnce(l) {
				return
			}
		}
	}()
}

// abandon cleans up after a contender's create that failed: if its
// outcome was unknown (a timeout, a leader change), the contender may be
// in the tree, or get there later, and would hold the lock for as long as
// the mount's session lives. Its name starts with prefix, unique to the
// attempt (as kazoo finds its node after a lost connection), so it is
// looked for, and deleted, for a minute in the background.
func (lt *lockTable) abandon(dir, prefix string, session int64) {
	go func() {
		end := time.Now().Add(time.Minute)
		for wait := 100 * time.Millisecond; time.Now().Before(end); wait = min(2*wait, 2*time.Second) {
			select {
			case <-lt.m.stop:
				return
			case <-time.After(wait):
			}
			var node string
			lt.m.rep.Read(func(t *tree.Tree) {
				kids, _, err := t.Children(dir)
				if err != nil {
					return
				}
				for _, k := range kids {
					if strings.HasPrefix(k, prefix) {
						node = k
					}
				}
			})
			if node != "" {
				lt.release(&heldLock{dir: dir, node: node, session: session})
				return
			}
		}
	}()
}

// releaseOnce tries to delete the contender once, and reports whether it
// is gone.
func (lt *lockTable) releaseOnce(l *heldLock) bool {
	if l.session != lt.m.session.Load() {
		return true // gone with its session
	}
	_, err := lt.m.propose(tree.Delete{Path: tree.Join(l.dir, l.node), Version: -1})
	if err != nil && !errors.Is(err, tree.ErrNoNode) {
		lt.m.log.Warn("releasing a lock; trying again", "lock", l.dir, "err", err)
		return false
	}
	return true
}

// sessionExpired says which locks the expiry of the mount's session took:
// their holders are not told (flock has no way to), so the log does.
func (lt *lockTable) sessionExpired(session int64) {
	var lost []string
	lt.mu.Lock()
	for _, locks := range lt.held {
		for _, l := range locks {
			if l.session == session {
				lost = append(lost, l.dir)
			}
		}
	}
	lt.mu.Unlock()
	if len(lost) > 0 {
		lt.m.log.Warn("locks lost with the mount's expired session; ZooKeeper has freed them while their holders still hold them here", "locks", lost)
	}
}

// releaseFlock releases the flock locks of an open file, whose owner the
// kernel sends with the file's last close.
func (lt *lockTable) releaseFlock(owner uint64) {
	var out []*heldLock
	lt.mu.Lock()
	locks := lt.held[owner]
	for i := len(locks) - 1; i >= 0; i-- {
		if l := locks[i]; l.flock {
			out = append(out, l)
			lt.removeLocked(owner, i)
			locks = lt.held[owner]
		}
	}
	lt.mu.Unlock()
	for _, l := range out {
		lt.release(l)
	}
}

// fhNote is an fcntl lock's owner and inode, noted on the open file it
// was taken through.
type fhNote struct{ owner, ino uint64 }

func (lt *lockTable) noteFh(fh, owner, ino uint64) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, n := range lt.byFh[fh] {
		if n.owner == owner && n.ino == ino {
			return
		}
	}
	lt.byFh[fh] = append(lt.byFh[fh], fhNote{owner: owner, ino: ino})
}

func (lt *lockTable) takeFh(fh uint64) []fhNote {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	n := lt.byFh[fh]
	delete(lt.byFh, fh)
	return n
}

// hasFcntl reports whether owner holds fcntl locks.
func (lt *lockTable) hasFcntl(owner uint64) bool {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	for _, l := range lt.held[owner] {
		if !l.flock {
			return true
		}
	}
	return false
}

// releaseFcntl releases the fcntl locks owner holds on inode ino (any
// inode if ino is 0): POSIX drops them at any close of the file by the
// process.
func (lt *lockTable) releaseFcntl(owner, ino uint64) {
	var out []*heldLock
	lt.mu.Lock()
	locks := lt.held[owner]
	for i := len(locks) - 1; i >= 0; i-- {
		if l := locks[i]; !l.flock && (ino == 0 || l.ino == ino) {
			out = append(out, l)
			lt.removeLocked(owner, i)
			locks = lt.held[owner]
		}
	}
	lt.mu.Unlock()
	for _, l := range out {
		lt.release(l)
	}
}

// contenderData is what a contender node holds: who took it, as kazoo's
// identifier.
func contenderData(ctx context.Context, how string) []byte {
	host, _ := os.Hostname()
	pid := uint32(0)
	if c, ok := ctx.(*fuse.Context); ok {
		pid = c.Caller.Pid
	}
	return []byte(fmt.Sprintf("%s %s pid %d", host, how, pid))
}

// ensureDir creates a file lock's node and its missing ancestors as
// containers. A directory lock's node is the directory, which exists.
func (lt *lockTable) ensureDir(dir string) error {
	// The deepest ancestor that exists here; only what is below it is
	// proposed (someone else may create it meanwhile, which is fine).
	start := len(dir)
	lt.m.rep.Read(func(t *tree.Tree) {
		for start > 0 {
			if _, err := t.Stat(dir[:start]); err == nil {
				return
			}
			start = strings.LastIndexByte(dir[:start], '/')
		}
	})
	for i := start + 1; i <= len(dir); i++ {
		if i < len(dir) && dir[i] != '/' {
			continue
		}
		p := dir[:i]
		_, err := lt.m.propose(tree.Create{Path: p, ACL: tree.OpenACL, Mode: tree.ModeContainer, Kind: tree.KindDir})
		if err != nil && !errors.Is(err, tree.ErrNodeExists) {
			return err
		}
	}
	return nil
}

// lock takes the lock dir for owner, waiting for it if wait is set.
func (lt *lockTable) lock(ctx context.Context, dir string, owner, ino uint64, shared, flock, wait bool) syscall.Errno {
	if old := lt.take(owner, dir); old != nil {
		if old.shared == shared && old.session == lt.m.session.Load() {
			lt.mu.Lock()
			lt.held[owner] = append(lt.held[owner], old)
			lt.mu.Unlock()
			return 0
		}
		// A conversion is an unlock and a new lock, as flock(2)'s is.
		lt.release(old)
	}
	how := "fcntl"
	if flock {
		how = "flock"
	}
	data := contenderData(ctx, how)
	prefix := recipe.Prefix(shared)
	for attempt := 0; ; attempt++ {
		if err := lt.ensureDir(dir); err != nil {
			return toErrno(err)
		}
		session := lt.m.session.Load()
		res, err := lt.m.propose(tree.Create{Path: tree.Join(dir, prefix), Data: data, ACL: tree.OpenACL, Mode: tree.ModeEphemeralSequential})
		if errors.Is(err, tree.ErrNoNode) && attempt < 10 {
			continue // the container was reaped meanwhile
		}
		if err != nil {
			lt.abandon(dir, prefix, session)
			return toErrno(err)
		}
		_, node := tree.Split(res.Path)
		l := &heldLock{dir: dir, node: node, shared: shared, owner: owner, ino: ino, flock: flock, session: session}
		errno, again := lt.await(ctx, l, wait)
		if again {
			continue // the session changed under the waiter: contend again
		}
		if errno != 0 {
			lt.release(l)
			return errno
		}
		lt.mu.Lock()
		lt.held[owner] = append(lt.held[owner], l)
		lt.mu.Unlock()
		return 0
	}
}

// await waits until the contender l holds its lock. again reports that the
// contender vanished (its session expired) and must be made anew.
func (lt *lockTable) await(ctx context.Context, l *heldLock, wait bool) (errno syscall.Errno, again bool) {
	self := tree.Join(l.dir, l.node)
	for {
		// Subscribe before reading, so that no deletion falls between.
		selfGone, unsubSelf := lt.subscribe(self)
		var (
			pred  string
			found bool
		)
		lt.m.rep.Read(func(t *tree.Tree) {
			kids, _, err := t.Children(l.dir)
			if err == nil {
				pred, found = recipe.Predecessor(kids, l.node)
			}
		})
		if !found {
			unsubSelf()
			return 0, true
		}
		if pred == "" {
			unsubSelf()
			return 0, false
		}
		if !wait {
			unsubSelf()
			return syscall.EAGAIN, false
		}
		predPath := tree.Join(l.dir, pred)
		predGone, unsubPred := lt.subscribe(predPath)
		var predExists bool
		lt.m.rep.Read(func(t *tree.Tree) { _, err := t.Stat(predPath); predExists = err == nil })
		if predExists {
			select {
			case <-predGone:
			case <-selfGone:
			case <-ctx.Done():
				unsubPred()
				unsubSelf()
				return syscall.EINTR, false
			case <-lt.m.stop:
				unsubPred()
				unsubSelf()
				return syscall.EINTR, false
			}
		}
		unsubPred()
		unsubSelf()
	}
}

// getlk reports a lock that would conflict with lk: one held by another
// owner, anywhere in the ensemble.
func (lt *lockTable) getlk(dir string, owner uint64, lk *fuse.FileLock, out *fuse.FileLock) syscall.Errno {
	*out = fuse.FileLock{Typ: syscall.F_UNLCK}
	if lk.Typ == syscall.F_UNLCK {
		return 0
	}
	mine := map[string]bool{}
	lt.mu.Lock()
	for _, l := range lt.held[owner] {
		if l.dir == dir {
			mine[l.node] = true
		}
	}
	lt.mu.Unlock()
	var holders []recipe.Contender
	lt.m.rep.Read(func(t *tree.Tree) {
		kids, _, err := t.Children(dir)
		if err == nil {
			holders = recipe.Holders(kids)
		}
	})
	for _, h := range holders {
		if mine[h.Name] || (h.Shared && lk.Typ == syscall.F_RDLCK) {
			continue
		}
		out.Typ = syscall.F_WRLCK
		if h.Shared {
			out.Typ = syscall.F_RDLCK
		}
		out.Start, out.End = 0, 1<<63-1
		return 0
	}
	return 0
}

// setlk is Setlk and Setlkw for a node whose lock node is dir.
func (lt *lockTable) setlk(ctx context.Context, dir string, ino, owner uint64, lk *fuse.FileLock, flags uint32, wait bool) syscall.Errno {
	flock := flags&fuse.FUSE_LK_FLOCK != 0
	switch lk.Typ {
	case syscall.F_UNLCK:
		if l := lt.take(owner, dir); l != nil {
			lt.release(l)
		}
		return 0
	case syscall.F_RDLCK, syscall.F_WRLCK:
		return lt.lock(ctx, dir, owner, ino, lk.Typ == syscall.F_RDLCK, flock, wait)
	}
	return syscall.EINVAL
}

// The node kinds that take locks: files and @data. The kernel keeps
// flock and fcntl locks on directories to itself (FUSE forwards only
// those on files), so a directory is locked through its @data.

var _ = (fs.NodeGetlker)((*File)(nil))

// Getlk reports a conflicting lock held anywhere in the ensemble.
func (f *File) Getlk(ctx context.Context, fh fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32, out *fuse.FileLock) syscall.Errno {
	return f.m.locks.getlk(lockDir(f.targetPath()), owner, lk, out)
}

var _ = (fs.NodeSetlker)((*File)(nil))

// Setlk takes or releases a cluster-wide lock without waiting.
func (f *File) Setlk(ctx context.Context, fh fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.m.locks.setlk(ctx, lockDir(f.targetPath()), f.StableAttr().Ino, owner, lk, flags, false)
}

var _ = (fs.NodeSetlkwer)((*File)(nil))

// Setlkw takes a cluster-wide lock, waiting for it.
func (f *File) Setlkw(ctx context.Context, fh fs.FileHandle, owner uint64, lk *fuse.FileLock, flags uint32) syscall.Errno {
	return f.m.locks.setlk(ctx, lockDir(f.targetPath()), f.StableAttr().Ino, owner, lk, flags, true)
}

// lockingFS sees what go-fuse's node API does not pass on: the flock
// owner in RELEASE, the process in FLUSH, and the open file an fcntl lock
// was taken through.
type lockingFS struct {
	fuse.RawFileSystem
	locks *lockTable
}

// ino returns the inode number of a request's node, 0 if unknown.
func (l lockingFS) ino(cancel <-chan struct{}, h fuse.InHeader) uint64 {
	var out fuse.AttrOut
	if l.RawFileSystem.GetAttr(cancel, &fuse.GetAttrIn{InHeader: h}, &out) != fuse.OK {
		return 0
	}
	return out.Ino
}

// SetLk notes the open file an fcntl lock was taken through.
func (l lockingFS) SetLk(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	st := l.RawFileSystem.SetLk(cancel, in)
	l.noteFcntl(cancel, in, st)
	return st
}

// SetLkw notes the open file an fcntl lock was taken through.
func (l lockingFS) SetLkw(cancel <-chan struct{}, in *fuse.LkIn) fuse.Status {
	st := l.RawFileSystem.SetLkw(cancel, in)
	l.noteFcntl(cancel, in, st)
	return st
}

// noteFcntl remembers which open file an fcntl lock came through: the
// kernel sends no FLUSH, and so no owner, at the close of a file opened
// read-only (FOPEN_NOFLUSH), so its RELEASE releases the lock instead.
func (l lockingFS) noteFcntl(cancel <-chan struct{}, in *fuse.LkIn, st fuse.Status) {
	if st != fuse.OK || in.LkFlags&fuse.FUSE_LK_FLOCK != 0 || in.Lk.Typ == syscall.F_UNLCK {
		return
	}
	l.locks.noteFh(in.Fh, in.Owner, l.ino(cancel, in.InHeader))
}

// Flush releases the process's fcntl locks on the file, as close(2) does.
func (l lockingFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	st := l.RawFileSystem.Flush(cancel, in)
	if l.locks.hasFcntl(in.LockOwner) {
		// An unknown inode (0) releases them all rather than keep one.
		l.locks.releaseFcntl(in.LockOwner, l.ino(cancel, in.InHeader))
	}
	return st
}

// Release releases the flock locks of the open file, and the fcntl locks
// taken through it.
func (l lockingFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	noted := l.locks.takeFh(in.Fh)
	l.RawFileSystem.Release(cancel, in)
	for _, n := range noted {
		l.locks.releaseFcntl(n.owner, n.ino)
	}
	if in.ReleaseFlags&fuse.FUSE_RELEASE_FLOCK_UNLOCK != 0 {
		l.locks.releaseFlock(in.LockOwner)
	}
}
