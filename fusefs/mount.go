package fusefs

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/replication"
	"zkfs/tree"
)

// cacheTimeout is how long the kernel may keep entries, attributes and
// missing names. It is long because every change invalidates what it
// touches; the timeout only bounds the cost of a missed invalidation.
const cacheTimeout = time.Hour

// sessionTimeout is the mount's session timeout; the mount touches the
// session far more often.
const sessionTimeout = 30 * time.Second

// sessionStartWait bounds how long a new mount tries to open its session.
const sessionStartWait = time.Minute

// Options configure a mount.
type Options struct {
	// Dir is the mount point; it is created if missing.
	Dir string
	// Replica serves the reads and takes the writes.
	Replica *replication.Replica
	// UID and GID own every file; -1 means the mounting user's.
	UID, GID int
	// AllowOther lets other users than the mounting one use the mount,
	// with the kernel checking the modes shown (default_permissions).
	AllowOther bool
	// WriteTimeout bounds every write; 0 means 10 s.
	WriteTimeout time.Duration
	// Identity is who the mount's session acts as; see ParseAuth.
	Identity tree.Identity
	// MaxDataSize is the tree's size limit, for EFBIG at write time; 0
	// means tree.DefaultMaxDataSize.
	MaxDataSize int
	// DataDir is the replica's data directory, whose file system statfs
	// describes; empty means sizes of zero.
	DataDir string
	// Logger receives the mount's logs; nil means slog.Default().
	Logger *slog.Logger
	// Guard, when set, is the command of the mount's guard process
	// (guard.go), which New starts as soon as the mount exists: before
	// go-fuse's first request, since even the open that go-fuse makes on
	// the new mount can wedge a server killed meanwhile.
	Guard []string
	// Debug logs every FUSE request.
	Debug bool
}

// Mount is a mounted replica.
type Mount struct {
	rep      *replication.Replica
	log      *slog.Logger
	dir      string
	uid, gid uint32
	identity tree.Identity
	// stranger is the identity of a local user other than the owner, on
	// a mount with --allow-other; see access.go.
	stranger   tree.Identity
	allowOther bool
	maxData    int
	// aclWait holds copied ACLs waiting for their files' content
	// (aclcopy.go).
	aclWait deferredACLs
	timeout time.Duration
	dataDir string

	server *fuse.Server
	dev    uint64 // the mount's device number, which names its connection
	guard  *guard // guard.go; nil unless StartGuard
	// serveDone is closed when the serve loop ends.
	serveDone chan struct{}
	metrics   *opMetrics
	root      *Dir
	notifier  *notifier
	// removeFence ends the client port's wait for the notifier.
	removeFence func()
	locks       *lockTable
	session     atomic.Int64

	pending pendingCreates

	missingMu sync.Mutex
	missing   map[string]struct{}

	hiddenMu sync.Mutex
	hidden   map[string]bool

	hiddenDataMu sync.Mutex
	hiddenData   map[string]int64 // directory path to its czxid

	// modes tells @watch readers when the replica is cut off and back.
	modes modeNotices

	closed    atomic.Bool
	stop      chan struct{}
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New mounts the replica's tree at o.Dir. It first unmounts a stale mount
// left there by a replica that crashed, and refuses a live one.
func New(o Options) (*Mount, error) {
	if o.Replica == nil || o.Dir == "" {
		return nil, errors.New("fusefs: a replica and a directory are required")
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.MaxDataSize <= 0 {
		o.MaxDataSize = tree.DefaultMaxDataSize
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if len(o.Identity.IDs) == 0 && !o.Identity.Super {
		o.Identity, _ = ParseAuth("")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	m := &Mount{
		rep:        o.Replica,
		metrics:    newOpMetrics(),
		log:        o.Logger.With("mount", dir),
		dir:        dir,
		uid:        uint32(os.Geteuid()),
		gid:        uint32(os.Getegid()),
		identity:   o.Identity,
		stranger:   strangerIdentity(),
		allowOther: o.AllowOther,
		maxData:    o.MaxDataSize,
		dataDir:    o.DataDir,
		timeout:    o.WriteTimeout,
		missing:    map[string]struct{}{},
		hidden:     map[string]bool{},

		hiddenData: map[string]int64{},
		stop:       make(chan struct{}),
	}
	if o.UID >= 0 {
		m.uid = uint32(o.UID)
	}
	if o.GID >= 0 {
		m.gid = uint32(o.GID)
	}
	if err := m.prepareDir(); err != nil {
		return nil, err
	}

	// The replica served a moment ago, but the leader may be changing (a
	// restart in a busy ensemble); keep trying for a while rather than
	// give up the whole server on one failed forward.
	var id int64
	for deadline := time.Now().Add(sessionStartWait); ; {
		ctx, cancel := context.WithTimeout(context.Background(), o.WriteTimeout)
		id, _, err = m.rep.CreateSession(ctx, sessionTimeout)
		cancel()
		if err == nil || time.Now().After(deadline) {
			break
		}
		m.log.Warn("creating the mount's session; trying again", "err", err)
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("fusefs: creating the mount's session: %w", err)
	}
	m.session.Store(id)

	m.notifier = newNotifier(m)
	m.locks = newLockTable(m)
	m.rep.Listen(m.listen)
	m.notifier.start(m.rep.AppliedIndex())

	m.root = &Dir{}
	m.root.m = m
	var mountOpts []string
	if o.AllowOther {
		// Other users must get no more than a stranger's rights: the
		// kernel holds them to the modes shown, which the ACLs decide
		// (see access.go).
		mountOpts = append(mountOpts, "default_permissions")
	}
	timeout := cacheTimeout
	opts := &fs.Options{
		MountOptions: fuse.MountOptions{
			FsName:            "zkfs",
			Name:              "zkfs",
			AllowOther:        o.AllowOther,
			Options:           mountOpts,
			DirectMountStrict: os.Geteuid() == 0,
			// No CAP_ATOMIC_O_TRUNC: with it the kernel sets its own
			// idea of the size to zero when a writer opens with
			// O_TRUNC, and a reader on this mount can see an empty
			// file before the writer's one setData. The truncation
			// comes as a separate setattr instead, which
			// File.Setattr buffers in the opener's handle.
			IgnoreSecurityLabels: true,
			// Plain READDIR: with READDIRPLUS the kernel asked for every
			// entry's attributes at every listing, and go-fuse looked up
			// and built an inode per child (a listing of 10,000 children
			// took ~60 ms instead of ~1 ms). ls -l and stat look names up
			// one by one instead.
			DisableReadDirPlus: true,
			// mmap of a direct-I/O file: without this the kernel
			// refuses MAP_SHARED with ENODEV. The mapped pages are read
			// through the mount, and every change invalidates them.
			ExtraCapabilities: fuse.CAP_DIRECT_IO_ALLOW_MMAP,
			// flock and fcntl locks are the ensemble's (lock.go).
			EnableLocks: true,
			Debug:       o.Debug,
		},
		EntryTimeout:    &timeout,
		AttrTimeout:     &timeout,
		NegativeTimeout: &timeout,
		UID:             m.uid,
		GID:             m.gid,
		// A node nobody may read or write shows mode 000, which
		// go-fuse would otherwise turn into 0644.
		NullPermissions: true,
	}
	m.wg.Add(2)
	go m.keepSession()
	go m.followMode()
	m.serveDone = make(chan struct{})
	mounted := func() {
		if e, ok := mountEntryAt(dir); ok {
			m.dev = e.dev
		}
		if len(o.Guard) == 0 {
			return
		}
		if err := m.startGuard(o.Guard); err != nil {
			m.log.Warn("no guard for the mount: a kill that catches the server inside the kernel may leave it wedged until zkfs umount --force", "err", err)
		}
	}
	server, err := mountCounted(dir, m.root, opts, m.metrics, m.locks, m.serveDone, mounted)
	if err != nil {
		if m.guard != nil {
			m.guard.stopGuard()
		}
		m.shutdown()
		return nil, fmt.Errorf("fusefs: mount %s: %w", dir, err)
	}
	// The notifier walks the inode tree, which go-fuse builds in
	// mountCounted; changes applied meanwhile wait in its queue.
	m.wg.Add(1)
	go m.notifier.run()
	// A write acknowledged on the client port waits for its
	// invalidations here, as a commit through the mount does.
	m.removeFence = m.rep.AddFence(m.notifier.waitFor)
	m.server = server
	m.log.Info("mounted", "uid", m.uid, "gid", m.gid, "session", fmt.Sprintf("0x%x", id))
	return m, nil
}

// Dir returns the mount point.
func (m *Mount) Dir() string { return m.dir }

// listen is the replica's listener: it runs under the apply lock and only
// queues.
func (m *Mount) listen(a replication.Applied) {
	if m.closed.Load() {
		return
	}
	m.locks.applied(a)
	// The notifier works later, when the trees may have moved on.
	a.Before, a.After = nil, nil
	m.notifier.enqueue(notice{applied: a})
}

// propose makes one write on behalf of the mount's session. Writes are
// not tied to the FUSE request: a signal to the writer must not leave a
// write half-known, so they run to completion or to the write timeout.
func (m *Mount) propose(op tree.Op) (tree.Result, error) {
	return m.proposeAs(m.identity, op)
}

// proposeAs is propose with the identity of the caller, for the changes
// whose rights the mode bits cannot express (setfattr of the ACL).
func (m *Mount) proposeAs(ident tree.Identity, op tree.Op) (tree.Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
	defer cancel()
	id := m.session.Load()
	m.rep.TouchSession(id)
	res, err := m.rep.Propose(ctx, id, ident, op)
	if err != nil {
		return res, err
	}
	return res, res.Err
}

// awaitQuorum runs when a file is opened for writing, whose commit comes
// only at close. A shell builtin such as `echo x > f` never sees an error
// from that close (bash restores its stdout with dup2, which discards it),
// so a replica in read-only mode fails the open instead, at once.
func (m *Mount) awaitQuorum() syscall.Errno {
	if m.rep.HasQuorum() {
		return 0
	}
	// HasQuorum is false only in read-only mode, which a write cannot wait out.
	return toErrno(replication.ErrReadOnly)
}

// keepSession keeps the mount's session alive, and opens a new one if the
// old one expired (for example while the replica had no quorum).
func (m *Mount) keepSession() {
	defer m.wg.Done()
	t := time.NewTicker(sessionTimeout / 10)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		id := m.session.Load()
		m.rep.TouchSession(id)
		var alive bool
		m.rep.Read(func(t *tree.Tree) { _, alive = t.Session(id) })
		if alive {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), m.timeout)
		nid, _, err := m.rep.CreateSession(ctx, sessionTimeout)
		cancel()
		if err != nil {
			m.log.Warn("renewing the mount's session", "err", err)
			continue
		}
		m.session.Store(nid)
		m.log.Info("the mount's session expired; opened a new one", "session", fmt.Sprintf("0x%x", nid))
		m.locks.sessionExpired(id)
	}
}

// logHidden says once per path that a real child is hidden by a name too
// long to list.
func (m *Mount) logHidden(path string) {
	m.hiddenMu.Lock()
	seen := m.hidden[path]
	m.hidden[path] = true
	m.hiddenMu.Unlock()
	if !seen {
		m.log.Warn("znode hidden from the mount: its name is over 1024 bytes; use the client port or the command line", "path", path)
	}
}

// Unmount unmounts and closes the mount's session. A mount still in use
// (an open file, a blocked @watch reader, a shell inside it) is detached
// lazily, so that shutdown never hangs.
func (m *Mount) Unmount() error {
	var err error
	m.closeOnce.Do(func() {
		m.closed.Store(true)
		m.closeWatchers()
		if m.server != nil && m.aborted() {
			// The connection was aborted (zkfs umount --force, or a new
			// server at the same mount point): unmounting the path now
			// would take down whatever is mounted there since.
			m.log.Warn("the mount was aborted or replaced; leaving the mount point alone")
		} else if m.server != nil {
			if uerr := m.server.Unmount(); uerr != nil {
				m.log.Warn("mount busy; detaching it", "err", uerr)
				err = detach(m.dir)
			}
		}
		if m.guard != nil {
			m.guard.stopGuard()
		}
		m.shutdown()
		// Briefly: without a quorum the session expires on its own.
		ctx, cancel := context.WithTimeout(context.Background(), min(m.timeout, 2*time.Second))
		if cerr := m.rep.CloseSession(ctx, m.session.Load()); cerr != nil {
			m.log.Warn("closing the mount's session", "err", cerr)
		}
		cancel()
		m.log.Info("unmounted")
	})
	return err
}

func (m *Mount) shutdown() {
	m.closed.Store(true)
	if m.removeFence != nil {
		m.removeFence()
	}
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.wg.Wait()
}

// prepareDir makes sure the mount point exists and nothing live is mounted
// there. A stale FUSE mount, whose server died, answers ENOTCONN: it is
// detached so that the new mount can take its place.
func (m *Mount) prepareDir() error {
	// statfs, unlike stat, always reaches the file system: the kernel
	// answers stat from its attribute cache even for a mount whose server
	// died, and the dead mount then looked like a live one.
	answered, err := probe(m.dir)
	if !answered {
		// A mount whose server neither answers nor is gone: abort it
		// (see abort.go).
		m.log.Warn("the mount at the mount point does not answer; aborting its FUSE connection")
		if aerr := AbortConnection(m.dir); aerr != nil {
			return aerr
		}
		err = nil
	}
	if err == nil || !errors.Is(err, syscall.ENOTCONN) {
		_, err = os.Stat(m.dir)
	}
	if errors.Is(err, syscall.ENOTCONN) {
		m.log.Warn("detaching a stale mount left by a previous server")
		if err := detach(m.dir); err != nil {
			return fmt.Errorf("fusefs: detaching the stale mount at %s: %w", m.dir, err)
		}
		_, err = os.Stat(m.dir)
	}
	if errors.Is(err, os.ErrNotExist) {
		return os.MkdirAll(m.dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("fusefs: mount point: %w", err)
	}
	if mounted(m.dir) {
		return fmt.Errorf("fusefs: %s is already a mount point", m.dir)
	}
	return nil
}

// mounted reports whether dir is a mount point, from /proc/self/mountinfo.
func mounted(dir string) bool {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && unescapeMountPath(fields[4]) == dir {
			return true
		}
	}
	return false
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var c byte
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &c); err == nil {
				b.WriteByte(c)
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// detach unmounts lazily: the mount point is free at once, and the kernel
// drops the old connection when its last user goes.
func detach(dir string) error {
	if os.Geteuid() == 0 {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err == nil {
			return nil
		}
	}
	out, err := exec.Command("fusermount3", "-u", "-z", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("fusermount3 -u -z: %v: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// aborted reports whether the mount's connection is gone without an
// unmount of ours: a different mount (or none) is at the mount point, or
// the serve loop ended, as it does when the kernel aborts the connection.
// The device number alone does not tell: a new mount may reuse it.
func (m *Mount) aborted() bool {
	if e, ok := mountEntryAt(m.dir); !ok || e.dev != m.dev {
		return true
	}
	select {
	case <-m.serveDone:
		return true
	case <-time.After(100 * time.Millisecond):
		// A continued server notices an abort at once; a live one
		// never ends its loop before the unmount.
		return false
	}
}

// mountCounted is fs.Mount with every operation measured on its way in;
// mounted runs once the mount exists, before any request is served.
func mountCounted(dir string, root fs.InodeEmbedder, opts *fs.Options, m *opMetrics, locks *lockTable, done chan struct{}, mounted func()) (*fuse.Server, error) {
	raw := countingFS{RawFileSystem: lockingFS{RawFileSystem: fs.NewNodeFS(root, opts), locks: locks}, m: m}
	server, err := fuse.NewServer(raw, dir, &opts.MountOptions)
	if err != nil {
		return nil, err
	}
	mounted()
	go func() {
		server.Serve()
		close(done)
	}()
	if err := server.WaitMount(); err != nil {
		return nil, err // as fs.Mount: a loop whose mount failed ends by itself
	}
	return server, nil
}
