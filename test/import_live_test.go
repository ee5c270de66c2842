package test

import (
	"bufio"
	"fmt"
	"io"
	"os/exec"
	"path"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// mirrored renders what a live copy keeps of a subtree: per persistent
// node its data, ACL, number of persistent children and count of child
// creates (which numbers the next sequential child). Zxids, times and
// versions are the destination's own. A walk that fails, as one over a
// tree the follower is still changing can (a child deleted between its
// listing and its read), is returned as the error.
func mirrored(c *zk.Conn, root string) (string, error) {
	tree, err := walkTree(c, root)
	if err != nil {
		return "", err
	}
	var lines []string
	for p, n := range tree {
		if n.stat.EphemeralOwner != 0 {
			continue
		}
		kids := 0
		for q, m := range tree {
			if q != p && path.Dir(q) == p && m.stat.EphemeralOwner == 0 {
				kids++
			}
		}
		creates := (n.stat.Cversion + n.stat.NumChildren) / 2
		n.stat = zk.Stat{}
		lines = append(lines, fmt.Sprintf("%s %v children=%d creates=%d", p, n, kids, creates))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n"), nil
}

// outputLines collects a process's output lines for polling.
type outputLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *outputLines) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		l.mu.Lock()
		l.lines = append(l.lines, sc.Text())
		l.mu.Unlock()
	}
}

func (l *outputLines) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, prefix) {
			n++
		}
	}
	return n
}

// TestImportZooKeeperFollow copies a subtree of a running ZooKeeper 3.8
// into zkfs with --follow, changes ZooKeeper in every way while it runs and
// compares what zkfs serves with what ZooKeeper serves, then copies a
// change made in zkfs back with export.
func TestImportZooKeeperFollow(t *testing.T) {
	z := startZooKeeper(t)
	srv := startServer(t, "--super-digest", superDigest())
	src := connect(t, z.Addr(t), 10*time.Second)
	fillZooKeeper(t, src, "/data")
	eph := connect(t, z.addr, 10*time.Second)
	if _, err := eph.Create("/data/queue/eph-", nil, zk.FlagEphemeralSequential, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command(zkfsBin, "import", "zookeeper", "--from", z.addr, "--path", "/data", "--follow", "--resync", "500ms",
		"--zk-auth", "digest:alice:secret", "-server", srv.Addr(), "--auth", "digest:super:secret")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &outputLines{}
	done := make(chan struct{})
	go func() { out.read(stdout); close(done) }()
	exited := make(chan struct{})
	var waitErr error
	go func() { <-done; waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	eventually(t, 60*time.Second, "the first pass", func() error {
		if out.count("in step") == 0 {
			return fmt.Errorf("not in step yet; stderr %q", stderr.String())
		}
		return nil
	})

	// The follower reads ZooKeeper through the session that holds its
	// watch: ZooKeeper serves it one session, beside the test's two.
	if got := sessionsOn(t, z.addr); got != 3 {
		t.Errorf("ZooKeeper serves %d sessions, want 3 (the test's two and the follower's one)", got)
	}

	dst := connect(t, srv.Addr(), 10*time.Second)
	if err := dst.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatal(err)
	}
	// same polls both sides until they agree. Either may still be
	// changing (zkfs while the import follows, ZooKeeper while the export
	// does), so a walk that fails is retried too.
	same := func(what string) {
		t.Helper()
		eventually(t, 60*time.Second, what, func() error {
			want, err := mirrored(src, "/data")
			if err != nil {
				return err
			}
			got, err := mirrored(dst, "/data")
			if err != nil {
				return err
			}
			if want != got {
				return fmt.Errorf("zkfs differs from ZooKeeper:\n%s", lineDiff(want, got))
			}
			return nil
		})
	}
	same("after the first pass")

	// A stream of changes of every kind while the copy follows.
	open := zk.WorldACL(zk.PermAll)
	for i := 0; i < 20; i++ {
		if _, err := src.Create("/data/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open); err != nil {
			t.Fatal(err)
		}
		if _, err := src.Set("/data/app", []byte(fmt.Sprintf("v%d", i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	steps := []error{
		src.Delete("/data/queue/item-0000000000", -1),
		create(src, "/data/new/deep/node", []byte("d"), 0, open),
		src.Delete("/data/a/b/c", -1),
		src.Delete("/data/a/b", -1),
	}
	_, err = src.SetACL("/data/app/binary", zk.WorldACL(zk.PermRead|zk.PermWrite), -1)
	steps = append(steps, err)
	// setACL fires no watch; a data change on the node brings it along.
	_, err = src.Set("/data/app/binary", []byte("now"), -1)
	steps = append(steps, err)
	_, err = eph.Create("/data/queue/eph-", nil, zk.FlagEphemeralSequential, open)
	steps = append(steps, err)
	// An ACL change alone comes with the next --resync pass.
	_, err = src.SetACL("/data/app/empty", zk.WorldACL(zk.PermRead|zk.PermAdmin), -1)
	steps = append(steps, err)
	_, err = src.Multi(&zk.CreateRequest{Path: "/data/m1", Data: []byte("1"), Acl: open},
		&zk.CreateRequest{Path: "/data/m1/m2", Acl: zk.DigestACL(zk.PermAll, "alice", "secret")},
		&zk.DeleteRequest{Path: "/data/multi/a", Version: -1})
	steps = append(steps, err)
	for i, err := range steps {
		if err != nil {
			t.Fatalf("change %d: %v", i, err)
		}
	}
	same("after a stream of changes")

	// zkfs restarts under the copy; what changes meanwhile still arrives.
	if err := srv.Stop(20 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Create("/data/while-down", []byte("x"), 0, open); err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Set("/data/app", []byte("after the restart"), -1); err != nil {
		t.Fatal(err)
	}
	same("after zkfs restarted")

	cmd.Process.Signal(syscall.SIGINT)
	<-exited
	if waitErr != nil || out.count("stopped:") != 1 {
		t.Fatalf("the follower on SIGINT: %v; stderr %q", waitErr, stderr.String())
	}

	// The way back: a change made in zkfs reaches ZooKeeper with export.
	if _, err := dst.Create("/data/queue/item-", []byte("from zkfs"), zk.FlagSequence, open); err != nil {
		t.Fatal(err)
	}
	msg, err := exec.Command(zkfsBin, "export", "zookeeper", "--to", z.addr, "--path", "/data",
		"--zk-auth", "digest:alice:secret", "-server", srv.Addr(), "--auth", "digest:super:secret").CombinedOutput()
	if err != nil || !strings.Contains(string(msg), "1 created") {
		t.Fatalf("export: %v: %s", err, msg)
	}
	same("after the export")

	// And with --follow, which reads zkfs through its watch's session.
	exp := exec.Command(zkfsBin, "export", "zookeeper", "--to", z.addr, "--path", "/data", "--follow",
		"--zk-auth", "digest:alice:secret", "-server", srv.Addr(), "--auth", "digest:super:secret")
	expOut, err := exp.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var expErr syncBuffer
	exp.Stderr = &expErr
	if err := exp.Start(); err != nil {
		t.Fatal(err)
	}
	lines := &outputLines{}
	expDone := make(chan error, 1)
	go func() { lines.read(expOut); expDone <- exp.Wait() }()
	t.Cleanup(func() { exp.Process.Kill() }) // done by then, unless the test failed
	eventually(t, 60*time.Second, "the export's first pass", func() error {
		if lines.count("in step") == 0 {
			return fmt.Errorf("not in step yet; stderr %q", expErr.String())
		}
		return nil
	})
	if got := sessionsOn(t, srv.Addr()); got != 2 {
		t.Errorf("zkfs serves %d sessions, want 2 (the test's and the exporter's)", got)
	}
	if _, err := dst.Create("/data/queue/item-", []byte("followed"), zk.FlagSequence, open); err != nil {
		t.Fatal(err)
	}
	same("while the export follows")
	exp.Process.Signal(syscall.SIGINT)
	if err := <-expDone; err != nil || lines.count("stopped:") != 1 {
		t.Fatalf("the export on SIGINT: %v; stderr %q", err, expErr.String())
	}
}

// sessionsOn counts the sessions a server's connections hold, from cons.
func sessionsOn(t *testing.T, addr string) int {
	t.Helper()
	out, err := FourLetter(addr, "cons", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(out, "sid=0x")
}
