package test

import (
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountRename checks that renaming a file is one multi: onto an
// existing file the target keeps its czxid and ACL and gets one data
// change; onto a new name the target is created with the data; either way
// the source is gone.
func TestMountRename(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir -p app && echo old > app/target && echo new > app/tmp")
	if _, err := zc.SetACL("/app/target", zk.WorldACL(zk.PermRead|zk.PermWrite|zk.PermDelete|zk.PermAdmin), -1); err != nil {
		t.Fatal(err)
	}
	czxid := m.xattr(t, "app/target", "user.zk.czxid")

	w := openWatch(t, m.path("app/@watch"))
	m.ok(t, "mv app/tmp app/target")
	got := map[string]string{}
	for i := 0; i < 3; i++ {
		typ, p := watchLine(t, w.next(t, 5*time.Second))
		got[typ+" "+p] = p
	}
	for _, want := range []string{"NodeDataChanged /app/target", "NodeDeleted /app/tmp", "NodeChildrenChanged /app"} {
		if _, ok := got[want]; !ok {
			t.Errorf("events %v lack %q", got, want)
		}
	}
	w.quiet(t, zc, "/app")
	if now := m.xattr(t, "app/target", "user.zk.czxid"); now != czxid {
		t.Errorf("czxid after mv onto it: %s, was %s", now, czxid)
	}
	if acl := m.xattr(t, "app/target", "user.zk.acl"); acl != "world:anyone:drwa" {
		t.Errorf("ACL after mv onto it: %q", acl)
	}
	if got := m.ok(t, "cat app/target; ls app"); got != "new\ntarget\n" {
		t.Errorf("after mv: %q", got)
	}

	// Onto a new name.
	m.ok(t, "mv app/target app/moved")
	if data, _, err := zc.Get("/app/moved"); err != nil || string(data) != "new\n" {
		t.Errorf("/app/moved = %q, %v", data, err)
	}
	if ok, _, _ := zc.Exists("/app/target"); ok {
		t.Error("the source survived mv")
	}
	// Across directories, and through @data in both directions.
	m.ok(t, "mkdir other && mv app/moved other/x && mv other/x app/@data")
	if data, _, _ := zc.Get("/app"); string(data) != "new\n" {
		t.Errorf("data of /app after mv onto app/@data = %q", data)
	}
	m.ok(t, "mv app/@data other/fromdata")
	if got := m.ok(t, "cat other/fromdata; stat -c %s app/@data 2>&1 || true"); got[:4] != "new\n" {
		t.Errorf("after mv app/@data: %q", got)
	}

	// sed -i writes a temporary file and renames it over the original.
	m.ok(t, "printf 'a=1\\nb=2\\n' > app/conf && sed -i 's/a=1/a=9/' app/conf")
	if got := m.ok(t, "cat app/conf; ls app"); got != "a=9\nb=2\nconf\n" {
		t.Errorf("after sed -i: %q", got)
	}

	// A directory cannot be renamed: EXDEV, and mv copies and deletes.
	m.ok(t, "mkdir -p tree/sub && echo leaf > tree/sub/f")
	wantErrno(t, "rename of a directory", syscall.Rename(m.path("tree"), m.path("tree2")), syscall.EXDEV)
	m.ok(t, "mv tree tree2")
	if got := m.ok(t, "cat tree2/sub/f; test ! -e tree && echo gone"); got != "leaf\ngone\n" {
		t.Errorf("mv of a directory: %q", got)
	}
	// A file cannot replace a directory.
	wantErrno(t, "rename of a file onto a directory", syscall.Rename(m.path("app/conf"), m.path("tree2")), syscall.EISDIR)
	wantErrno(t, "rename of a missing file", syscall.Rename(m.path("nope"), m.path("x")), syscall.ENOENT)
	wantErrno(t, "rename onto @watch", syscall.Rename(m.path("app/conf"), m.path("app/@watch")), syscall.EINVAL)
	if _, err := os.Stat(m.path("app/conf")); err != nil {
		t.Errorf("a failed rename lost the source: %v", err)
	}
}
