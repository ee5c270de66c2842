package test

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountWatch checks @watch: opening registers the watch, reads block
// until events and return whole ZXID TYPE PATH lines for the directory and
// its direct children, including changes made through the client port.
func TestMountWatch(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir -p apache/sub && echo 1 > apache/prod1")

	w := openWatch(t, m.path("apache/@watch"))
	// A change through the client port.
	st, err := zc.Set("/apache/prod1", []byte("2"), -1)
	if err != nil {
		t.Fatal(err)
	}
	line := w.next(t, 5*time.Second)
	if want := "0x" + strings.TrimPrefix(hex(st.Mzxid), "0x") + " NodeDataChanged /apache/prod1"; line != want {
		t.Errorf("line %q, want %q", line, want)
	}
	// The directory itself, and children made through the mount.
	if _, err := zc.Set("/apache", []byte("own"), -1); err != nil {
		t.Fatal(err)
	}
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeDataChanged" || p != "/apache" {
		t.Errorf("got %s %s, want NodeDataChanged /apache", typ, p)
	}
	m.ok(t, "echo x > apache/new")
	for _, want := range []string{"NodeCreated /apache/new", "NodeChildrenChanged /apache"} {
		if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ+" "+p != want {
			t.Errorf("got %s %s, want %s", typ, p, want)
		}
	}
	// A child's own changes show; its children's (the NodeCreated of a
	// grandchild) do not.
	if _, err := zc.Set("/apache/sub", []byte("s"), -1); err != nil {
		t.Fatal(err)
	}
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeDataChanged" || p != "/apache/sub" {
		t.Errorf("got %s %s, want NodeDataChanged /apache/sub", typ, p)
	}
	if _, err := zc.Create("/apache/sub/deep", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeChildrenChanged" || p != "/apache/sub" {
		t.Errorf("got %s %s, want NodeChildrenChanged /apache/sub", typ, p)
	}
	w.quiet(t, zc, "/apache")
	if err := zc.Delete("/apache/prod1", -1); err != nil {
		t.Fatal(err)
	}
	if typ, p := watchLine(t, w.next(t, 5*time.Second)); typ != "NodeDeleted" || p != "/apache/prod1" {
		t.Errorf("got %s %s, want NodeDeleted /apache/prod1", typ, p)
	}

	// head -n1 waits for one change and exits.
	head := exec.Command("head", "-n1", m.path("apache/@watch"))
	var headErr strings.Builder
	head.Stderr = &headErr
	out := make(chan string, 1)
	go func() {
		b, err := head.Output()
		if err != nil {
			b = append(b, "error: "+err.Error()...)
		}
		out <- string(b)
	}()
	// head may open @watch after the create: the node changes again until
	// head has seen a change.
	if _, err := zc.Create("/apache/later", []byte("z"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		select {
		case got := <-out:
			if !strings.HasSuffix(got, " NodeCreated /apache/later\n") && !strings.HasSuffix(got, " NodeDataChanged /apache/later\n") || headErr.Len() > 0 {
				t.Errorf("head -n1 @watch = %q, stderr %q", got, headErr.String())
			}
		case <-time.After(200 * time.Millisecond):
			if time.Now().After(deadline) {
				head.Process.Kill()
				t.Fatal("head -n1 of @watch did not return after a change")
			}
			if _, err := zc.Set("/apache/later", []byte("z"), -1); err != nil {
				t.Fatal(err)
			}
			continue
		}
		break
	}

	// The shell loop from the documentation.
	// It may open @watch after a write: writes go on until it has printed.
	r := m.sh(t, `timeout -s INT 20 bash -c 'while read -r z t p; do echo "$t $p"; break; done < apache/@watch' & pid=$!; while kill -0 $pid 2>/dev/null; do echo v > apache/later; sleep 0.2; done; wait $pid`)
	if r.Stdout != "NodeDataChanged /apache/later\n" {
		t.Errorf("while read loop printed %q (stderr %q)", r.Stdout, r.Stderr)
	}
}

// TestMountWatchInterrupt checks that a read blocked on @watch gives way to
// a signal and never reports end of file.
func TestMountWatchInterrupt(t *testing.T) {
	m := startMounted(t)
	start := time.Now()
	r := m.sh(t, "timeout -s INT 1 cat @watch; echo status=$?")
	if r.Stdout != "status=124\n" {
		t.Errorf("timeout cat @watch: %q, want status 124 (interrupted, no EOF)", r.Stdout)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("interrupting a blocked read took %v", d)
	}
	r = m.sh(t, "timeout -s TERM 1 dd if=@watch bs=1 count=1 2>/dev/null; echo status=$?")
	if r.Stdout != "status=124\n" {
		t.Errorf("dd of @watch: %q", r.Stdout)
	}
}

func hex(v int64) string {
	const digits = "0123456789abcdef"
	if v == 0 {
		return "0x0"
	}
	var b []byte
	for u := uint64(v); u > 0; u >>= 4 {
		b = append([]byte{digits[u&15]}, b...)
	}
	return "0x" + string(b)
}
