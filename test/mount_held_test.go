package test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// heldPrelude is Python shared by the held-descriptor scripts: a kazoo
// client on the replica's client port (argv[1]), and check/poll helpers
// that print one line per failure.
const heldPrelude = `
import mmap, os, sys, time
from kazoo.client import KazooClient
zk = KazooClient(hosts=sys.argv[1], timeout=10)
zk.start(timeout=30)
def check(what, got, want):
    if got != want:
        print("%s: %r, want %r" % (what, got[:80] if isinstance(got, bytes) else got, want[:80] if isinstance(want, bytes) else want))
def poll(what, get, want):
    deadline = time.time() + 10
    while True:
        got = get()
        if got == want or time.time() > deadline:
            break
        time.sleep(0.005)
    check(what, got, want)
`

// runHeld runs a held-descriptor script in the mount and fails the test
// with whatever it printed.
func runHeld(t *testing.T, m *mounted, script string) {
	t.Helper()
	cmd := exec.Command(kazooPython, "-c", heldPrelude+script, m.Addr())
	cmd.Dir = m.Mnt
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Errorf("%v\n%s", err, out)
	}
}

// TestMountHeldDescriptorSeesChanges holds a descriptor, two mmaps of it
// (MAP_SHARED and MAP_PRIVATE) and reads through all of them across
// changes made through the client port: read and pread return the new
// version as soon as the change is applied, fstat and the mapped pages
// follow once the kernel's caches are invalidated, and new mappings of
// the held descriptor show the new size and content whole.
func TestMountHeldDescriptorSeesChanges(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	if _, err := zc.Create("/f", []byte("AAAAAAAAAA"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	runHeld(t, m, `
fd = os.open("f", os.O_RDONLY)
check("first read", os.read(fd, 100), b"A" * 10)
ms = mmap.mmap(fd, 10, mmap.MAP_SHARED, mmap.PROT_READ)
mp = mmap.mmap(fd, 10, mmap.MAP_PRIVATE, mmap.PROT_READ)
check("MAP_SHARED", ms[:], b"A" * 10)
check("MAP_PRIVATE", mp[:], b"A" * 10)
zk.set("/f", b"B" * 10)
check("pread after a change", os.pread(fd, 100, 0), b"B" * 10)
os.lseek(fd, 0, os.SEEK_SET)
check("read after seek", os.read(fd, 100), b"B" * 10)
poll("MAP_SHARED mapped before the change", lambda: ms[:], b"B" * 10)
poll("MAP_PRIVATE mapped before the change", lambda: mp[:], b"B" * 10)
zk.set("/f", b"C" * 5000)
check("pread of a longer version", os.pread(fd, 100000, 0), b"C" * 5000)
poll("fstat", lambda: os.fstat(fd).st_size, 5000)
for flag, name in ((mmap.MAP_SHARED, "MAP_SHARED"), (mmap.MAP_PRIVATE, "MAP_PRIVATE")):
    mm = mmap.mmap(fd, os.fstat(fd).st_size, flag, mmap.PROT_READ)
    check("new " + name, mm[:], b"C" * 5000)
    mm.close()
zk.set("/f", b"D" * 3)
check("pread of a shorter version", os.pread(fd, 100000, 0), b"D" * 3)
poll("fstat after shrinking", lambda: os.fstat(fd).st_size, 3)
`)
}

// TestMountTailFollowsAppends runs tail -f, with and without inotify, on a
// file that the client port appends to: every appended line shows.
func TestMountTailFollowsAppends(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	if _, err := zc.Create("/log", []byte("line0\n"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-f"}, {"-f", "---disable-inotify"}, {"-F", "-s", "0.1"}} {
		tail := openStream(t, m.path("log"), append(append([]string{"tail", "-n", "+1"}, args...), m.path("log"))...)
		if got := tail.next(t, 10*time.Second); got != "line0" {
			t.Fatalf("tail %v: first line %q", args, got)
		}
		data, _, err := zc.Get("/log")
		if err != nil {
			t.Fatal(err)
		}
		for i := 1; i <= 3; i++ {
			data = append(data, []byte("line"+string(rune('0'+i))+"\n")...)
			if _, err := zc.Set("/log", data, -1); err != nil {
				t.Fatal(err)
			}
			if got, want := tail.next(t, 10*time.Second), "line"+string(rune('0'+i)); got != want {
				t.Errorf("tail %v: %q, want %q", args, got, want)
			}
		}
		if _, err := zc.Set("/log", []byte("line0\n"), -1); err != nil {
			t.Fatal(err)
		}
		tail.stop(t)
	}
}

// TestMountUnlinkedOpenFile deletes a file, through the client port and
// through the mount, while a descriptor holds it: the descriptor keeps
// reading the content it had, and fstat describes it, as on a local file
// system.
func TestMountUnlinkedOpenFile(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	for _, p := range []string{"/gone", "/rmd"} {
		if _, err := zc.Create(p, []byte("still here\n"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	runHeld(t, m, `
fd = os.open("gone", os.O_RDONLY)
rw = os.open("rmd", os.O_RDWR)
zk.delete("/gone")
os.unlink("rmd")
for name, f in (("deleted through the client port", fd), ("removed through the mount", rw)):
    check(name + ": pread", os.pread(f, 100, 0), b"still here\n")
    check(name + ": pread again", os.pread(f, 100, 6), b"here\n")
    poll(name + ": fstat size", lambda: os.fstat(f).st_size, 11)
check("the name is gone", os.path.exists("gone"), False)
`)
}

// TestMountRenameReplaceKeepsHeldContent replaces a file by rename while
// a descriptor holds it: the descriptor keeps the old content, and a new
// open gets the new one.
func TestMountRenameReplaceKeepsHeldContent(t *testing.T) {
	m := startMounted(t)
	m.ok(t, "echo old-content > target")
	runHeld(t, m, `
fd = os.open("target", os.O_RDONLY)
check("before", os.read(fd, 100), b"old-content\n")
with open("tmp", "wb") as w:
    w.write(b"the new content\n")
os.rename("tmp", "target")
check("held after the rename", os.pread(fd, 100, 0), b"old-content\n")
check("held fstat", os.fstat(fd).st_size, 12)
check("new open", open("target", "rb").read(), b"the new content\n")
check("held still", os.pread(fd, 100, 0), b"old-content\n")
`)
	if got := m.ok(t, "cat target"); got != "the new content\n" {
		t.Errorf("after the rename: %q", got)
	}
}

// TestMountWholeFileReadsAreOneVersion reads a multi-page file with cat,
// Python's read-all and a single large read while the client port
// rewrites it with contents of different lengths: every whole-file read
// is one version, never a mix, a cut or padding.
func TestMountWholeFileReadsAreOneVersion(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	versions := map[string]bool{}
	var vals []string
	for i, n := range []int{300000, 700000, 5000, 1000000} {
		v := strings.Repeat(string(rune('a'+i)), n)
		vals = append(vals, v)
		versions[v] = true
	}
	if _, err := zc.Create("/big", []byte(vals[0]), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			if _, err := zc.Set("/big", []byte(vals[n%len(vals)]), -1); err != nil {
				t.Errorf("set: %v", err)
			}
		}
	}()
	readers := []string{
		"cat big",
		`python3 -c 'import sys; sys.stdout.write(open("big").read())'`,
		`python3 -c 'import os, sys; fd = os.open("big", os.O_RDONLY); sys.stdout.write(os.read(fd, 2 << 20).decode())'`,
	}
	reads, bad := 0, 0
	for end := time.Now().Add(6 * time.Second); time.Now().Before(end); {
		for _, r := range readers {
			got := m.ok(t, r)
			reads++
			if !versions[got] {
				bad++
				if bad < 5 {
					t.Errorf("%s: %d bytes, starting %q, is no version whole", r, len(got), got[:min(len(got), 20)])
				}
			}
		}
	}
	close(stop)
	t.Logf("%d whole-file reads during %d writes, %d not one version", reads, <-done, bad)
}
