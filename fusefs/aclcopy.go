package fusefs

import (
	"context"
	"strings"
	"sync"
	"syscall"
	"time"

	"zkfs/tree"
)

// A copy that carries a restrictive user.zk.acl must end with both the
// content and the ACL. cp -a, mv and rsync -X set attributes after the
// content, through the descriptor they hold (File.Setxattr commits that
// descriptor's content first). tar --xattrs sets them before: it makes the
// file with mknod, sets the attributes, and only then opens it and writes.
// An ACL that would refuse the mount's writes, set on a file never
// written (version 0, empty), therefore waits for the file's first commit
// and is applied right after it, before that close returns; if no writer
// has the file open, it is applied after aclDeferWait. Until then getfattr
// shows the old ACL.

// aclDeferWait is how long a deferred ACL waits for a writer to open the
// file; it waits as long as one has it open.
const aclDeferWait = time.Second

// deferredACL is an ACL waiting for its file's first content.
type deferredACL struct {
	file  *File // the inode that deferred it, whose writers the timer checks
	acl   []tree.ACL
	id    tree.Identity
	path  string
	czxid int64
	timer *time.Timer
}

// deferredACLs holds the ACLs waiting for their files' first content, by
// path. They belong to the mount, not to the File that deferred them: the
// kernel may forget an inode between tar's setxattr and its open (under
// memory pressure or a slow machine), and the commit then runs on a new
// File for the same znode; the czxid tells the znode apart from a new one
// at the same path.
type deferredACLs struct {
	mu      sync.Mutex
	pending map[string]*deferredACL
}

// deferACL defers an ACL set through setxattr if the rule above applies,
// and reports whether it did.
func (f *File) deferACL(ctx context.Context, value []byte) bool {
	acl, err := tree.ParseACL(strings.TrimSuffix(string(value), "\n"))
	if err != nil {
		return false // the normal path reports it
	}
	m := f.m
	id := m.callerIdentity(ctx)
	if tree.Permitted(acl, tree.PermWrite, id) {
		return false
	}
	var in info
	var errno syscall.Errno
	var rights int32
	var p string
	m.rep.Read(func(t *tree.Tree) {
		p, in, errno = f.target(t)
		if errno == 0 {
			rights, _ = t.Rights(p, id)
		}
	})
	_, kind := f.targetPath()
	if errno != 0 || kind != tree.KindFile || in.stat.Version != 0 || in.stat.DataLength != 0 || rights&tree.PermAdmin == 0 {
		return false
	}
	d := &deferredACL{file: f, acl: acl, id: id, path: p, czxid: in.stat.Czxid}
	w := &m.aclWait
	w.mu.Lock()
	if old := w.pending[p]; old != nil {
		old.timer.Stop()
	}
	if w.pending == nil {
		w.pending = map[string]*deferredACL{}
	}
	w.pending[p] = d
	d.timer = time.AfterFunc(aclDeferWait, func() { m.deferredACLTimeout(d) })
	w.mu.Unlock()
	return true
}

// deferredACLTimeout applies the deferred ACL unless a writer has the file
// open, in which case it waits again.
func (m *Mount) deferredACLTimeout(d *deferredACL) {
	w := &m.aclWait
	w.mu.Lock()
	if w.pending[d.path] != d {
		w.mu.Unlock()
		return
	}
	d.file.mu.Lock()
	writing := len(d.file.writers) > 0
	d.file.mu.Unlock()
	if writing {
		d.timer.Reset(aclDeferWait)
		w.mu.Unlock()
		return
	}
	delete(w.pending, d.path)
	w.mu.Unlock()
	m.applyACL(d)
}

// applyDeferredACL sets the ACL deferred for path p, if any, once its
// first content is committed.
func (m *Mount) applyDeferredACL(p string) {
	w := &m.aclWait
	w.mu.Lock()
	d := w.pending[p]
	delete(w.pending, p)
	w.mu.Unlock()
	if d == nil {
		return
	}
	d.timer.Stop()
	m.applyACL(d)
}

// applyACL sets a deferred ACL on its znode, unless the znode is gone or
// another one took its path meanwhile.
func (m *Mount) applyACL(d *deferredACL) {
	p := d.path
	var st tree.Stat
	var err error
	m.rep.Read(func(t *tree.Tree) { st, err = t.Stat(p) })
	if err != nil || st.Czxid != d.czxid {
		m.log.Warn("a copied ACL was not set: its file is gone", "path", p)
		return
	}
	if _, err := m.proposeAs(d.id, tree.SetACL{Path: p, ACL: d.acl, Version: -1}); err != nil {
		m.log.Warn("setting a copied ACL after the content failed", "path", p, "err", err)
	}
}

// removeACL answers removexattr of user.zk.acl: the node gets the ACL the
// mount gives the nodes it creates, as if it had none of its own (rsync -X
// removes the attributes its source lacks). It needs ADMIN, as setting it.
func (m *Mount) removeACL(ctx context.Context, p string) syscall.Errno {
	var acl []tree.ACL
	var err error
	m.rep.Read(func(t *tree.Tree) { acl, _, err = t.GetACL(p) })
	if err != nil {
		return toErrno(err)
	}
	if tree.FormatACL(acl) == tree.FormatACL(tree.OpenACL) {
		return 0
	}
	_, err = m.proposeAs(m.callerIdentity(ctx), tree.SetACL{Path: p, ACL: tree.OpenACL, Version: -1})
	return toErrno(err)
}
