package test

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountMapping checks how znodes appear: the root is /, file-kind
// znodes are files holding their data, directory-kind znodes are
// directories with @data, and stat comes from the znode's stat.
func TestMountMapping(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	if _, err := zc.Create("/solr", []byte("root data"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Create("/solr/status", []byte("green"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	if got := m.ok(t, "cat solr/status"); got != "green" {
		t.Errorf("cat solr/status = %q, want green", got)
	}
	// A znode with children is a directory; its data is @data.
	if got := m.ok(t, "cat solr/@data"); got != "root data" {
		t.Errorf("cat solr/@data = %q", got)
	}
	if got := m.ok(t, "ls -A solr"); got != "@data\nstatus\n" {
		t.Errorf("ls solr = %q, want @data and status (and no @watch)", got)
	}
	// @data is listed even when empty; the root has one too, and the
	// system node /zookeeper shows as a directory.
	if got := m.ok(t, "ls -A"); got != "@data\nsolr\nzookeeper\n" {
		t.Errorf("ls of the root = %q", got)
	}
	if got := m.ok(t, "stat -c '%F %a %s %h %u %g' solr/status solr solr/@data"); got != "regular file 644 5 1 0 0\ndirectory 755 0 2 0 0\nregular file 644 9 1 0 0\n" {
		t.Errorf("stat = %q", got)
	}
	// Link count: 2 plus subdirectories; numChildren does not count @data.
	m.ok(t, "mkdir solr/a solr/b")
	if got := m.ok(t, "stat -c %h solr"); got != "4\n" {
		t.Errorf("nlink of a directory with two subdirectories = %q, want 4", got)
	}
	if got := m.xattr(t, "solr", "user.zk.numChildren"); got != "3" {
		t.Errorf("numChildren = %q, want 3", got)
	}
	// mtime and ctime are the stat's mtime, the last change (milliseconds).
	_, st, err := zc.Get("/solr/status")
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Fields(m.ok(t, "stat -c '%.3Y %.3Z' solr/status"))
	want := []string{fmt.Sprintf("%d.%03d", st.Mtime/1000, st.Mtime%1000), fmt.Sprintf("%d.%03d", st.Mtime/1000, st.Mtime%1000)}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("mtime, ctime = %v, want %v", got, want)
	}
	// A real child with a reserved name shows with one more @.
	if _, err := zc.Create("/solr/@data", []byte("real"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, err := zc.Create("/solr/@watch", []byte("real"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if got := m.ok(t, "ls -A solr; cat solr/@data; cat solr/@@data"); got != "@@data\n@@watch\n@data\na\nb\nstatus\nroot datareal" {
		t.Errorf("with real children named @data and @watch: %q", got)
	}

	// A directory made through this mount has no @data until its data is
	// written, so that cp -r and tar -x can create @data with O_EXCL;
	// after that, even when emptied again, @data stays listed.
	if got := m.ok(t, "mkdir fresh && ls -A fresh"); got != "" {
		t.Errorf("ls of a fresh directory = %q, want nothing", got)
	}
	if got := m.ok(t, "echo x > fresh/@data && : > fresh/@data && ls -A fresh && stat -c %s fresh/@data"); got != "@data\n0\n" {
		t.Errorf("after writing and emptying fresh/@data: %q", got)
	}

	// Owner flags.
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.Args = append(m.Args, "--uid", "1234", "--gid", "99")
	m.start(t)
	if got := m.ok(t, "stat -c '%u:%g' solr solr/status solr/@data"); got != "1234:99\n1234:99\n1234:99\n" {
		t.Errorf("owners with --uid/--gid = %q", got)
	}
}

// TestMountInodesStable checks that a node keeps its inode number across
// writes and restarts, that different nodes differ, and that a node
// created again under the same name gets a new one.
func TestMountInodesStable(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir -p d/e && echo 1 > d/f && echo dd > d/@data")
	ino := func() string { return m.ok(t, "stat -c %i d d/e d/f d/@data") }
	before := ino()
	if fields := strings.Fields(before); len(fields) != 4 || len(map[string]bool{fields[0]: true, fields[1]: true, fields[2]: true, fields[3]: true}) != 4 {
		t.Fatalf("inodes %q are not four distinct numbers", before)
	}
	m.ok(t, "echo 2 > d/f; echo x > d/@data; echo 3 >> d/f")
	if after := ino(); after != before {
		t.Errorf("inodes changed with writes: %q then %q", before, after)
	}
	if err := m.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	m.start(t)
	if after := ino(); after != before {
		t.Errorf("inodes changed across a restart: %q then %q", before, after)
	}
	old := m.ok(t, "stat -c %i d/f")
	m.ok(t, "rm d/f && echo again > d/f")
	if now := m.ok(t, "stat -c %i d/f"); now == old {
		t.Errorf("a new node under the same name kept inode %s", old)
	}
}

// TestMountWriteShapes covers the shapes shell tools write in.
func TestMountWriteShapes(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)

	// Creating a file: one create with the whole content.
	w := openWatch(t, m.path("@watch"))
	m.ok(t, "echo running > prod1")
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeCreated" || p != "/prod1" {
		t.Errorf("first event %s %s, want NodeCreated /prod1", typ, p)
	}
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeChildrenChanged" || p != "/" {
		t.Errorf("second event %s %s", typ, p)
	}
	w.quiet(t, zc, "/")
	data, st, err := zc.Get("/prod1")
	if err != nil || string(data) != "running\n" || st.Version != 0 {
		t.Errorf("after echo > new: %q version %d err %v; want one create with the content", data, st.Version, err)
	}

	// echo > existing: one setData with the whole content, one event.
	m.ok(t, "mkdir apache && echo old > apache/prod1")
	_, st0, _ := zc.Get("/apache/prod1")
	w = openWatch(t, m.path("apache/@watch"))
	m.ok(t, "echo running > apache/prod1")
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeDataChanged" || p != "/apache/prod1" {
		t.Errorf("event %s %s, want NodeDataChanged /apache/prod1", typ, p)
	}
	w.quiet(t, zc, "/apache")
	data, st, _ = zc.Get("/apache/prod1")
	if string(data) != "running\n" || st.Version != st0.Version+1 {
		t.Errorf("after echo > existing: %q version %d (was %d); want one new version", data, st.Version, st0.Version)
	}
	// Read your writes, every time.
	for i := 0; i < 50; i++ {
		if got := m.ok(t, fmt.Sprintf("echo v%d > apache/prod1; cat apache/prod1", i)); got != fmt.Sprintf("v%d\n", i) {
			t.Fatalf("echo v%d; cat = %q", i, got)
		}
	}

	// printf and cp.
	m.ok(t, "printf 'a\\tb\\n' > p && cp p q")
	if got := m.ok(t, "cat q"); got != "a\tb\n" {
		t.Errorf("cp result %q", got)
	}

	// >> appends.
	m.ok(t, "echo one > log; echo two >> log; printf three >> log")
	if got := m.ok(t, "cat log"); got != "one\ntwo\nthree" {
		t.Errorf("after appends: %q", got)
	}

	// touch creates an empty file and succeeds on existing nodes.
	m.ok(t, "touch empty && touch log && touch apache")
	if got := m.ok(t, "stat -c %s empty; cat log"); got != "0\none\ntwo\nthree" {
		t.Errorf("touch: %q", got)
	}
	if ok, _, err := zc.Exists("/empty"); err != nil || !ok {
		t.Errorf("touch did not create /empty: %v", err)
	}

	// Truncate and ftruncate set data.
	m.ok(t, "truncate -s 3 log")
	if data, _, _ := zc.Get("/log"); string(data) != "one" {
		t.Errorf("after truncate -s 3: %q", data)
	}
	m.ok(t, "exec 3<>log; truncate -s 1 /proc/self/fd/3 2>/dev/null || python3 -c 'import os; os.ftruncate(3, 1)'; exec 3>&-")
	if data, _, _ := zc.Get("/log"); string(data) != "o" {
		t.Errorf("after ftruncate to 1: %q", data)
	}
	m.ok(t, ": > log")
	if data, _, _ := zc.Get("/log"); len(data) != 0 {
		t.Errorf("after : > log: %q", data)
	}

	// Directories.
	m.ok(t, "mkdir -p x/y/z && echo deep > x/y/z/f && echo dirdata > x/@data")
	if kids, _, _ := zc.Children("/x/y/z"); len(kids) != 1 || kids[0] != "f" {
		t.Errorf("children of /x/y/z = %v", kids)
	}
	if data, _, _ := zc.Get("/x"); string(data) != "dirdata\n" {
		t.Errorf("data of /x = %q", data)
	}
	m.fails(t, "rmdir x/y", "Directory not empty")
	m.ok(t, "rm -r x")
	if ok, _, _ := zc.Exists("/x"); ok {
		t.Error("rm -r x left /x")
	}
	m.ok(t, "rm q && test ! -e q")
	if ok, _, _ := zc.Exists("/q"); ok {
		t.Error("rm q left /q")
	}
}

// TestMountNoclobber checks that O_CREAT|O_EXCL is an atomic
// create-if-absent, so the shell's noclobber lock idiom elects one winner.
func TestMountNoclobber(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir locks")
	const n = 8
	var wg sync.WaitGroup
	codes := make([]int, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			codes[i] = m.sh(t, fmt.Sprintf("set -o noclobber; echo %d > locks/lock", i)).Code
		}(i)
	}
	wg.Wait()
	winners := 0
	for _, c := range codes {
		if c == 0 {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d processes took the noclobber lock, want exactly 1 (exit codes %v)", winners, codes)
	}
	m.fails(t, "set -o noclobber; echo again > locks/lock", "cannot overwrite existing file")
	_, err := os.OpenFile(m.path("locks/lock"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	wantErrno(t, "O_EXCL on an existing file", err, syscall.EEXIST)
}

// TestMountConcurrentAppends checks that >> is atomic: appenders racing
// from several processes all land.
func TestMountConcurrentAppends(t *testing.T) {
	m := startMounted(t)
	m.ok(t, ": > log")
	const writers, each = 4, 25
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m.ok(t, fmt.Sprintf("for i in $(seq %d); do echo w%d-$i >> log; done", each, w))
		}(w)
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSuffix(m.ok(t, "cat log"), "\n"), "\n")
	if len(lines) != writers*each {
		t.Fatalf("%d lines after %d appends", len(lines), writers*each)
	}
	seen := map[string]bool{}
	for _, l := range lines {
		seen[l] = true
	}
	for w := 0; w < writers; w++ {
		for i := 1; i <= each; i++ {
			if !seen["w"+strconv.Itoa(w)+"-"+strconv.Itoa(i)] {
				t.Errorf("append w%d-%d lost", w, i)
			}
		}
	}
}

// TestMountTarRoundTrip archives a subtree with tar and extracts it back,
// both into a new place and over the original, and checks that find sees
// the same tree.
func TestMountTarRoundTrip(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "mkdir -p app/conf/empty && echo top > app/@data && printf 'a=1\\n' > app/conf/x.conf && echo v > app/conf/@data && touch app/conf/empty/none")
	tarball := t.TempDir() + "/app.tar"
	m.ok(t, "tar -cf "+tarball+" app")
	m.ok(t, "mkdir restore && tar -C restore -xf "+tarball)
	m.ok(t, "diff -r app restore/app")
	list := func(dir string) string {
		return m.ok(t, "cd "+dir+" && find . -printf '%y %s %p\\n' | sort")
	}
	if a, b := list("app"), list("restore/app"); a != b {
		t.Errorf("find differs:\n%s\nvs\n%s", a, b)
	}
	// Extract over the original: tar replaces the existing files.
	m.ok(t, "echo changed > app/conf/x.conf && tar -xf "+tarball)
	if got := m.ok(t, "cat app/conf/x.conf app/@data"); got != "a=1\ntop\n" {
		t.Errorf("after extracting over the original: %q", got)
	}
	// cp -r into the mount works the same way.
	m.ok(t, "cp -r app copy && diff -r app copy")
	if got := m.ok(t, "ls -l app/conf | awk 'NR>1 {print $1, $NF}'"); got != "-rw-r--r-- @data\ndrwxr-xr-x empty\n-rw-r--r-- x.conf\n" {
		t.Errorf("ls -l app/conf:\n%s", got)
	}
}
