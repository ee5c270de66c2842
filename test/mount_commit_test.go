package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMountOverLimitWriteCommitsNothing writes one byte more than the size
// limit over an existing file with each common writer. Every one must fail
// with EFBIG, and nothing of its edits may be committed, not even the
// truncation of its open: the znode keeps its data and its version.
func TestMountOverLimitWriteCommitsNothing(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	big := filepath.Join(t.TempDir(), "big")
	shIn(t, filepath.Dir(big), "head -c 1048577 /dev/urandom > big")
	m.ok(t, "echo precious > f")
	_, st0, err := zc.Get("/f")
	if err != nil {
		t.Fatal(err)
	}
	writers := []struct{ name, script string }{
		{"cp", fmt.Sprintf("cp %q f", big)},
		{"dd", fmt.Sprintf("dd if=%q of=f bs=64k status=none", big)},
		{"dd bs=1M", fmt.Sprintf("dd if=%q of=f bs=1M status=none", big)},
		{"cat >", fmt.Sprintf("cat %q > f", big)},
		// One write(2) of the whole content: the kernel splits it, so
		// it may return a short count; then close must fail.
		{"os.write", fmt.Sprintf(`python3 -c '
import os, sys
data = open(%q, "rb").read()
fd = os.open("f", os.O_WRONLY | os.O_TRUNC)
try:
    n = os.write(fd, data)
    sys.stderr.write("short write %%d\n" %% n)
except OSError as e:
    sys.stderr.write("write: %%s\n" %% e.strerror)
try:
    os.close(fd)
except OSError as e:
    sys.stderr.write("close: %%s\n" %% e.strerror)
    sys.exit(1)
'`, big)},
		{"python f.write", fmt.Sprintf(`python3 -c '
data = open(%q, "rb").read()
with open("f", "wb") as f:
    f.write(data)
'`, big)},
	}
	for _, w := range writers {
		r := m.sh(t, w.script)
		if r.Code == 0 {
			t.Errorf("%s of 1 MiB + 1 succeeded", w.name)
		}
		if !strings.Contains(r.Stderr, "File too large") {
			t.Errorf("%s: stderr %q, want File too large", w.name, r.Stderr)
		}
		data, st, err := zc.Get("/f")
		if err != nil {
			t.Fatal(err)
		}
		if string(data) != "precious\n" || st.Version != st0.Version || st.Mzxid != st0.Mzxid {
			t.Errorf("after %s: %d bytes at version %d (mzxid %#x), want %q at version %d (mzxid %#x)",
				w.name, len(data), st.Version, st.Mzxid, "precious\n", st0.Version, st0.Mzxid)
		}
		if got := m.ok(t, "cat f"); got != "precious\n" {
			t.Errorf("after %s the mount reads %d bytes", w.name, len(got))
		}
	}
	// A new file gets none of a failed write either: cp creates it with
	// O_EXCL, which creates the znode, empty, at the open (an atomic
	// create-if-absent must be visible at once); a plain O_CREAT open
	// creates nothing.
	m.fails(t, fmt.Sprintf("cp %q new", big), "File too large")
	if data, _, err := zc.Get("/new"); err != nil || len(data) != 0 {
		t.Errorf("a failed cp left /new with %d bytes (%v)", len(data), err)
	}
	m.fails(t, fmt.Sprintf("cat %q > new2", big), "File too large")
	if ok, _, _ := zc.Exists("/new2"); ok {
		t.Errorf("a failed cat > created /new2")
	}
	// A descriptor that failed commits nothing at fsync or at close, even
	// after further writes that fit.
	r := m.sh(t, `python3 -c '
import os, sys
fd = os.open("f", os.O_RDWR)
try:
    os.pwrite(fd, b"x" * 1048577, 0)
except OSError as e:
    sys.stderr.write("pwrite: %s\n" % e.strerror)
for what, call in (("pwrite small", lambda: os.pwrite(fd, b"small", 0)), ("fsync", lambda: os.fsync(fd)), ("close", lambda: os.close(fd))):
    try:
        call()
        sys.stderr.write(what + ": ok\n")
    except OSError as e:
        sys.stderr.write(what + ": " + e.strerror + "\n")
'`)
	for _, want := range []string{"fsync: File too large", "close: File too large"} {
		if !strings.Contains(r.Stderr, want) {
			t.Errorf("a descriptor after a failed write: stderr %q, want %q", r.Stderr, want)
		}
	}
	if data, st, _ := zc.Get("/f"); string(data) != "precious\n" || st.Version != st0.Version {
		t.Errorf("after a failed descriptor's fsync and close: %d bytes at version %d", len(data), st.Version)
	}
	// The limit itself still fits.
	m.ok(t, fmt.Sprintf("head -c 1048576 %q > f", big))
	if data, _, _ := zc.Get("/f"); len(data) != 1048576 {
		t.Errorf("writing exactly the limit stored %d bytes", len(data))
	}
}

// TestMountTruncBelongsToItsDescriptor holds one descriptor open for
// writing while the same process opens the file again with O_TRUNC, writes
// and closes; a later pwrite through the first descriptor changes only its
// two bytes, as on a local file system. The truncation of the second open
// once landed on whichever writable descriptor of the process a map lookup
// found first.
func TestMountTruncBelongsToItsDescriptor(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	script := `python3 -c '
import os
p = "f"
for i in range(20):
    with open(p, "w") as w:
        w.write("start\n")
    fd = os.open(p, os.O_RDWR)
    with open(p, "w") as w:
        w.write("OTHER-%d\n" % i)
    os.pwrite(fd, b"zz", 0)
    os.close(fd)
    got = open(p).read()
    want = "zzHER-%d\n" % i
    if got != want:
        print("run %d: %r, want %r" % (i, got, want))
'`
	dir := t.TempDir()
	if got := shIn(t, dir, script); got.Code != 0 || got.Stdout != "" || got.Stderr != "" {
		t.Fatalf("on a local file system the script itself fails: %+v", got)
	}
	if got := m.ok(t, script); got != "" {
		t.Errorf("on the mount:\n%s", got)
	}
	if data, _, err := zc.Get("/f"); err != nil || string(data) != "zzHER-19\n" {
		t.Errorf("the znode holds %q (%v)", data, err)
	}
	// dup'ed descriptors and a forked child share one description: its
	// O_APPEND and its edits are one, committed once at the last close.
	script = `python3 -c '
import os
fd = os.open("g", os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
os.write(fd, b"parent\n")
fd2 = os.dup(fd)
os.write(fd2, b"dup\n")
pid = os.fork()
if pid == 0:
    os.write(fd, b"child\n")
    os._exit(0)
os.waitpid(pid, 0)
os.close(fd2)
os.write(fd, b"end\n")
os.close(fd)
print(open("g").read(), end="")
'`
	want := "parent\ndup\nchild\nend\n"
	if got := shIn(t, dir, script); got.Stdout != want {
		t.Fatalf("on a local file system: %+v", got)
	}
	if got := m.ok(t, script); got != want {
		t.Errorf("dup and fork on the mount: %q, want %q", got, want)
	}
	// Two descriptors of one process appending: each write lands at the
	// end, through either.
	script = `python3 -c '
import os
for p in ("h",):
    open(p, "w").close()
    a = os.open(p, os.O_WRONLY | os.O_APPEND)
    b = os.open(p, os.O_WRONLY | os.O_APPEND)
    os.write(a, b"a1\n"); os.close(a)
    os.write(b, b"b1\n"); os.close(b)
print(open("h").read(), end="")
'`
	if got := shIn(t, dir, script); got.Stdout != "a1\nb1\n" {
		t.Fatalf("on a local file system: %+v", got)
	}
	if got := m.ok(t, script); got != "a1\nb1\n" {
		t.Errorf("two O_APPEND descriptors on the mount: %q", got)
	}
}
