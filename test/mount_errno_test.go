package test

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountErrnos checks the errno of each failure the mount reports.
func TestMountErrnos(t *testing.T) {
	m := startMounted(t, "--max-data-size", "1024")
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir -p d/sub && echo x > d/f && echo x > d/@data")

	// NoNode: ENOENT.
	m.fails(t, "cat d/missing", "No such file or directory")
	// NodeExists: EEXIST.
	m.fails(t, "mkdir d/sub", "File exists")
	// NotEmpty: ENOTEMPTY.
	m.fails(t, "rmdir d", "Directory not empty")
	wantErrno(t, "rmdir of a file", syscall.Rmdir(m.path("d/f")), syscall.ENOTDIR)
	// Size limit: EFBIG at write time, and nothing silently cut.
	m.fails(t, "head -c 2000 /dev/zero > d/f", "File too large")
	if data, _, _ := zc.Get("/d/f"); len(data) > 1024 {
		t.Errorf("a too-large write left %d bytes", len(data))
	}
	m.fails(t, "head -c 2000 /dev/zero | tr '\\0' a >> d/@data", "File too large")
	if data, _, _ := zc.Get("/d"); string(data) != "x\n" {
		t.Errorf("a failed append changed the data to %d bytes", len(data))
	}
	m.fails(t, "truncate -s 5000 d/f", "File too large")
	m.ok(t, "head -c 1024 /dev/zero > d/f")
	if got := m.ok(t, "stat -c %s d/f"); got != "1024\n" {
		t.Errorf("writing exactly the limit: size %q", got)
	}
	// Not supported: EPERM.
	// chmod and chown succeed and change nothing (vfat's quiet): the mode
	// shown stays the one the ACL makes, which is what is enforced.
	before := m.ok(t, "stat -c '%a %u %g' d/f d")
	m.ok(t, "chmod 600 d/f && chmod 700 d && chown 1:1 d/f && chmod 644 d/f && chmod 755 d && chown 0:0 d/f d")
	if after := m.ok(t, "stat -c '%a %u %g' d/f d"); after != before {
		t.Errorf("chmod and chown changed what stat shows: %q, then %q", before, after)
	}
	m.fails(t, "ln -s f d/link", "Operation not permitted")
	m.fails(t, "ln d/f d/hard", "Operation not permitted")
	m.fails(t, "mknod d/fifo p", "Operation not permitted")
	m.ok(t, "touch -d 2001-01-01 d/f && touch d")
	// Reserved names: EINVAL where the name is free to take, EEXIST
	// where it already shows (the kernel answers that itself).
	m.fails(t, "mkdir d/sub/@data", "Invalid argument")
	m.fails(t, "touch d/sub/@watch", "Invalid argument")
	m.fails(t, "mkdir d/@watch", "File exists")
	// A name ZooKeeper rejects: EINVAL.
	wantErrno(t, "mkdir with a control character", syscall.Mkdir(m.path("d/bad\x01name"), 0o755), syscall.EINVAL)
	// NoAuth: EACCES.
	if _, err := zc.Create("/locked", []byte("secret"), 0, zk.DigestACL(zk.PermAll, "alice", "pw")); err != nil {
		t.Fatal(err)
	}
	m.fails(t, "cat locked", "Permission denied")
	m.fails(t, "echo x > locked", "Permission denied")
	// Deleting needs DELETE on the parent, as in ZooKeeper.
	if _, err := zc.Create("/guard", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Create("/guard/child", []byte("c"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.SetACL("/guard", zk.WorldACL(zk.PermRead|zk.PermWrite), -1); err != nil {
		t.Fatal(err)
	}
	m.fails(t, "rm guard/child", "Permission denied")
	m.fails(t, "touch guard/new", "Permission denied")
	m.fails(t, "mkdir guard/new", "Permission denied")
	m.ok(t, "echo ok > guard/child")
	// The mode shows what the ACL grants the mount: nothing.
	if got := m.ok(t, "stat -c %a locked"); got != "0\n" {
		t.Errorf("mode of a node the mount may not read or write: %q", got)
	}
	// @watch is read-only.
	_, err := os.OpenFile(m.path("d/@watch"), os.O_WRONLY, 0)
	wantErrno(t, "opening @watch for writing", err, syscall.EINVAL)
}
