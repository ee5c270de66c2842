package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// toolsTree builds the source tree the tool suite copies: three levels
// deep, binary data, names with spaces and non-ASCII characters, and a
// file whose user.zk.acl lets nobody write it.
const toolsTree = `set -e
mkdir -p "src/a b/ünï/deep" src/empty
printf 'top\n' > src/top.conf
head -c 3000 /dev/urandom > "src/a b/bin.dat"
printf 'leaf\n' > "src/a b/ünï/deep/leaf é.txt"
printf 'mid\n' > "src/a b/ünï/mid"
printf 'restricted\n' > src/locked.conf
setfattr -n user.zk.acl -v world:anyone:r src/locked.conf
`

// toolCase is one tool run: script runs in a directory holding src (a
// tmpfs tree) and dst (on tmpfs or on the mount), and must leave in
// result a tree identical to src.
type toolCase struct {
	name, script, result string
}

var toolCases = []toolCase{
	{"rsync -a", `rsync -a src/ "$DST/t"`, "t"},
	{"rsync -aX", `rsync -aX src/ "$DST/t"`, "t"},
	{"cp -a", `cp -a src "$DST/t"`, "t"},
	{"cp -r --preserve=all", `cp -r --preserve=all src "$DST/t"`, "t"},
	{"tar --xattrs", `tar --xattrs -cf - -C src . | (mkdir "$DST/t" && tar --xattrs -xf - -C "$DST/t")`, "t"},
	{"install -m", `mkdir "$DST/t" && cp -r src/. "$DST/t" 2>/dev/null; install -m 0644 src/top.conf "$DST/t/top.conf" && install -m 0600 "src/a b/bin.dat" "$DST/t/a b/bin.dat"`, "t"},
	// mv of a tree across directories, and onto another file system and
	// back; the tree is first copied with a plain cp -r.
	{"mv across directories", `cp -r src "$DST/first" && mkdir "$DST/other" && mv "$DST/first" "$DST/other/t"`, "other/t"},
	{"mv to another file system and back", `cp -r src "$DST/first" && mv "$DST/first" away && mv away "$DST/t"`, "t"},
}

// TestMountTools runs everyday copy tools into a real mount and into a
// tmpfs directory, and compares exit status, standard error and the
// resulting trees; a copied restrictive user.zk.acl lands after the
// content on the mount.
func TestMountTools(t *testing.T) {
	m := startMounted(t)
	for i, tc := range toolCases {
		tc := tc
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			results := map[string]shResult{}
			trees := map[string]string{}
			for _, where := range []string{"tmpfs", "mount"} {
				work, err := os.MkdirTemp("/dev/shm", "zkfs-tools-")
				if err != nil {
					t.Fatal(err)
				}
				defer os.RemoveAll(work)
				if r := shIn(t, work, toolsTree); r.Code != 0 {
					t.Fatalf("building the source tree: %+v", r)
				}
				dst := filepath.Join(work, "dst")
				if where == "mount" {
					dst = m.path(fmt.Sprintf("tools%d", i))
				}
				if err := os.MkdirAll(dst, 0o755); err != nil {
					t.Fatal(err)
				}
				r := shIn(t, work, "DST="+shellQuote(dst)+"\n"+tc.script)
				results[where] = r
				d := shIn(t, work, "diff -r src "+shellQuote(filepath.Join(dst, tc.result)))
				trees[where] = d.Stdout + d.Stderr
				if where == "mount" && r.Code == 0 {
					locked := filepath.Join(dst, tc.result, "locked.conf")
					a := shIn(t, work, "getfattr --only-values -n user.zk.acl "+shellQuote(locked))
					if tc.name != "install -m" && tc.name != "rsync -a" && !strings.HasPrefix(tc.name, "mv") && tc.name != "cp -r --preserve=all" && a.Stdout != "world:anyone:r" {
						t.Errorf("%s: the copy's user.zk.acl is %q, want the source's world:anyone:r", tc.name, a.Stdout)
					}
				}
			}
			if results["mount"].Code != results["tmpfs"].Code || results["mount"].Stderr != results["tmpfs"].Stderr {
				t.Errorf("%s: on the mount exit %d, stderr %q; on tmpfs exit %d, stderr %q",
					tc.name, results["mount"].Code, results["mount"].Stderr, results["tmpfs"].Code, results["tmpfs"].Stderr)
			}
			if results["tmpfs"].Code != 0 {
				t.Errorf("%s fails on tmpfs too: %+v", tc.name, results["tmpfs"])
			}
			for where, diff := range trees {
				if diff != "" {
					t.Errorf("%s on %s: the copy differs from the source:\n%s", tc.name, where, diff)
				}
			}
		})
	}
}

// TestMountACLAttributeLifecycle covers what copies do to user.zk.acl
// besides setting it: it is the only attribute getfattr -d lists (the stat
// is read by name), removing it gives the node the mount's open ACL, and
// a restrictive ACL set on a new, empty file before its content (tar
// --xattrs does that) lands after the content.
func TestMountACLAttributeLifecycle(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "echo data > f")
	if got := m.ok(t, "getfattr -d f"); got != "# file: f\nuser.zk.acl=\"world:anyone:cdrwa\"\n\n" {
		t.Errorf("getfattr -d lists:\n%s", got)
	}
	if got := m.xattr(t, "f", "user.zk.version"); got != "0" {
		t.Errorf("user.zk.version by name: %q", got)
	}
	m.ok(t, "setfattr -n user.zk.acl -v world:anyone:rwa f && setfattr -x user.zk.acl f")
	if got := m.xattr(t, "f", "user.zk.acl"); got != "world:anyone:cdrwa" {
		t.Errorf("after removing user.zk.acl: %q", got)
	}
	// mknod, a restrictive ACL, then the content, as tar --xattrs makes a
	// file: both land.
	m.ok(t, `python3 -c '
import os
os.mknod("new", 0o644)
os.setxattr("new", "user.zk.acl", b"world:anyone:r")
with open("new", "w") as w:
    w.write("content\n")
'`)
	if got := m.ok(t, "cat new; getfattr --only-values -n user.zk.acl new"); got != "content\nworld:anyone:r" {
		t.Errorf("a file made as tar --xattrs makes it: %q", got)
	}
	m.fails(t, "echo more > new", "Permission denied")
	// With no writer, the deferred ACL still lands.
	m.ok(t, `python3 -c '
import os
os.mknod("empty", 0o644)
os.setxattr("empty", "user.zk.acl", b"world:anyone:r")
'`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if got := m.xattr(t, "empty", "user.zk.acl"); got == "world:anyone:r" {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("the ACL of an empty file made with mknod never landed: %q", got)
		}
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// TestMountStatfsCtimeDots checks what df, getconf, stat and ls -a show:
// statfs has the name limit and the data directory's sizes, ctime moves
// with the content, and listings have . and ..
func TestMountStatfsCtimeDots(t *testing.T) {
	m := startMounted(t)
	if got := m.ok(t, "getconf NAME_MAX ."); got != "1024\n" {
		t.Errorf("getconf NAME_MAX: %q", got)
	}
	var size, avail int64
	if _, err := fmt.Sscan(m.ok(t, "df -k --output=size,avail . | tail -1"), &size, &avail); err != nil || size == 0 || avail == 0 || avail > size {
		t.Errorf("df: size %d KiB, available %d KiB (%v)", size, avail, err)
	}
	m.ok(t, "mkdir d && echo one > d/f")
	created := m.ok(t, "stat -c %Z d/f")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		m.ok(t, "echo two > d/f")
		if m.ok(t, "stat -c %Y d/f") != created {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("mtime never moved")
		}
	}
	if y, z := m.ok(t, "stat -c %y d/f"), m.ok(t, "stat -c %z d/f"); y != z {
		t.Errorf("after an edit, mtime %q and ctime %q differ", y, z)
	}
	if got := m.ok(t, "ls -a d"); got != ".\n..\nf\n" {
		t.Errorf("ls -a: %q", got)
	}
	if got := m.ok(t, "ls -a ."); !strings.HasPrefix(got, ".\n..\n") {
		t.Errorf("ls -a of the root: %q", got)
	}
}

// TestMountReservedNamesEscaped makes children named @data, @watch and
// @@data through the client port: the mount shows them with one more @,
// reads and writes them there, creates real children through the escaped
// names, and rm -rf removes them all.
func TestMountReservedNamesEscaped(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	for _, pv := range [][2]string{{"/r", "own"}, {"/r/@data", "child data"}, {"/r/@watch", "child watch"}, {"/r/@@data", "two"}, {"/r/@x", "plain"}} {
		if _, err := zc.Create(pv[0], []byte(pv[1]), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if got := m.ok(t, "ls -a r"); got != ".\n..\n@@@data\n@@data\n@@watch\n@data\n@x\n" {
		t.Errorf("ls -a r: %q", got)
	}
	if got := m.ok(t, "cat r/@data; echo; cat r/@@data; echo; cat r/@@watch; echo; cat r/@@@data; echo; cat r/@x"); got != "own\nchild data\nchild watch\ntwo\nplain" {
		t.Errorf("reads: %q", got)
	}
	m.ok(t, "echo new > r/@@watch && mkdir r2 && echo made > r2/@@data && mkdir r2/@@watch")
	if data, _, _ := zc.Get("/r/@watch"); string(data) != "new\n" {
		t.Errorf("/r/@watch after a write to r/@@watch: %q", data)
	}
	if data, _, err := zc.Get("/r2/@data"); err != nil || string(data) != "made\n" {
		t.Errorf("/r2/@data made through r2/@@data: %q, %v", data, err)
	}
	if ok, _, _ := zc.Exists("/r2/@watch"); !ok {
		t.Errorf("mkdir r2/@@watch made no /r2/@watch")
	}
	m.fails(t, "mkdir r2/@watch", "File exists")
	m.ok(t, "rm -rf r r2")
	for _, p := range []string{"/r", "/r2"} {
		if ok, _, _ := zc.Exists(p); ok {
			t.Errorf("%s survived rm -rf", p)
		}
	}
}
