package test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountFreshAfterClientPort checks that the kernel's caches never serve
// stale data once a change made through the client port has been applied:
// contents, sizes, listings, missing names and kinds.
func TestMountFreshAfterClientPort(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "mkdir d && echo 0 > d/f && echo x > d/@data")

	for i := 0; i < 60; i++ {
		// Warm every cache first: content, attributes, listing.
		m.ok(t, "cat d/f d/@data >/dev/null; stat d/f d/@data >/dev/null; ls -l d >/dev/null")
		v := strings.Repeat("v", i%7) + fmt.Sprint(i)
		if _, err := zc.Set("/d/f", []byte(v), -1); err != nil {
			t.Fatal(err)
		}
		if _, err := zc.Set("/d", []byte(v+"d"), -1); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("%s|%sd|%d|%d", v, v, len(v), len(v)+1)
		if got := m.ok(t, `printf '%s|%s|%s|%s' "$(cat d/f)" "$(cat d/@data)" "$(stat -c %s d/f)" "$(stat -c %s d/@data)"`); got != want {
			t.Fatalf("round %d: read %q after the client port wrote, want %q", i, got, want)
		}
	}

	// A name looked up while missing is cached as missing; a create must
	// undo that, and a delete must drop the positive entry.
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("/d/n%d", i)
		m.fails(t, "cat ."+name, "No such file or directory")
		if _, err := zc.Create(name, []byte("here"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
		if got := m.ok(t, "cat ."+name+"; ls d | grep -c '^n'"); got != fmt.Sprintf("here%d\n", i+1) {
			t.Fatalf("after create %s: %q", name, got)
		}
	}
	for i := 0; i < 20; i++ {
		name := fmt.Sprintf("/d/n%d", i)
		if err := zc.Delete(name, -1); err != nil {
			t.Fatal(err)
		}
		if got := m.ok(t, "test -e ."+name+" && echo present; ls d | grep -c '^n' || true"); got != fmt.Sprintf("%d\n", 19-i) {
			t.Fatalf("after delete %s: %q", name, got)
		}
	}

	// A file that gets a child through the client port becomes a directory.
	m.ok(t, "cat d/f >/dev/null; stat d/f >/dev/null")
	if _, err := zc.Create("/d/f/child", []byte("c"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if got := m.ok(t, "stat -c %F d/f; cat d/f/child; ls -A d/f"); got != "directory\nc@data\nchild\n" {
		t.Errorf("after the client port gave d/f a child: %q", got)
	}
	if got := m.ok(t, "stat -c %h d"); got != "3\n" {
		t.Errorf("link count of d after d/f became a directory: %q", got)
	}
}

// TestMountTwoWriters races two writers and a reader through the mount:
// no read ever sees an empty file (the truncation of `>` is never
// committed on its own), every write is one version, and the last write
// is what remains. A read that races a write may mix two versions across
// read calls, as on any file system.
func TestMountTwoWriters(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	m.ok(t, "echo start-value > shared")
	_, st0, err := zc.Get("/shared")
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 40
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			m.ok(t, fmt.Sprintf("for i in $(seq %d); do echo writer-%d-value-$i > shared; done", rounds, w))
		}(w)
	}
	var empty, reads int
	done := make(chan struct{})
	go func() {
		defer close(done)
		for !stop.Load() {
			got := m.ok(t, "for i in 1 2 3 4 5; do cat shared; echo '|'; done")
			for _, v := range strings.Split(strings.TrimSuffix(got, "|\n"), "|\n") {
				reads++
				if v == "" {
					empty++
				}
			}
		}
	}()
	wg.Wait()
	stop.Store(true)
	<-done
	if empty > 0 {
		t.Errorf("%d of %d reads saw an empty file", empty, reads)
	}
	data, st, err := zc.Get("/shared")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(string(data), fmt.Sprintf("-value-%d\n", rounds)) {
		t.Errorf("final content %q is not a last write", data)
	}
	if got := st.Version - st0.Version; got != 2*rounds {
		t.Errorf("%d writes made %d versions", 2*rounds, got)
	}
}

// TestMountNewNameAcrossReplicas checks that a name made through one
// replica's mount is there at once on every other mount. A script that
// runs mkdir on one host and then writes into the directory from another
// must not get ENOENT because the second replica has not yet heard of the
// commit (a follower learns of one with the leader's next message).
func TestMountNewNameAcrossReplicas(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	leader := e.leader()
	for i := 0; i < 30; i++ {
		// Made on the leader, used on the followers, and the other way.
		dir := fmt.Sprintf("d%d", i)
		if err := retryLeaderChange(func(again bool) error {
			err := os.Mkdir(filepath.Join(leader.Mnt, dir), 0o755)
			if again && errors.Is(err, fs.ErrExist) {
				return nil // the try that got EIO made it
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		for _, m := range e.members {
			if m == leader {
				continue
			}
			name := filepath.Join(m.Mnt, dir, fmt.Sprint("from", m.ID))
			if err := retryLeaderChange(func(bool) error { return os.WriteFile(name, []byte("x"), 0o644) }); err != nil {
				t.Fatalf("round %d: writing into a directory made on the leader a moment ago, through replica %d: %v", i, m.ID, err)
			}
			for _, o := range e.members {
				if o == m {
					continue
				}
				seen := filepath.Join(o.Mnt, dir, fmt.Sprint("from", m.ID))
				if _, err := os.Stat(seen); err != nil {
					// Whether it shows up later tells a cached miss
					// (never) from a late one.
					later := "never, within 5 s"
					for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
						if _, err := os.Stat(seen); err == nil {
							later = "a moment later"
							break
						}
					}
					t.Fatalf("round %d: a file made through replica %d, on replica %d's mount: %v (found %s)", i, m.ID, o.ID, err, later)
				}
			}
		}
	}
}

// retryLeaderChange runs a write again while it fails with EIO, for at most
// 20 s: a write in flight when the leader changes fails with EIO (as a
// ZooKeeper client gets ConnectionLoss), and on a loaded machine elections
// happen. again tells the write that an earlier try may have applied.
func retryLeaderChange(write func(again bool) error) error {
	deadline := time.Now().Add(20 * time.Second)
	for again := false; ; again = true {
		err := write(again)
		if !errors.Is(err, syscall.EIO) || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}
