package test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// znode is what a ZooKeeper server serves for one node.
type znode struct {
	data []byte
	stat zk.Stat
	acl  []zk.ACL
}

func (n znode) String() string {
	var acl []string
	for _, a := range n.acl {
		acl = append(acl, fmt.Sprintf("%d:%s:%s", a.Perms, a.Scheme, a.ID))
	}
	return fmt.Sprintf("data=%q stat=%+v acl=%s", n.data, n.stat, strings.Join(acl, ","))
}

// dumpTree reads every node under root (included) through c, which must be
// allowed to read them all, and fails the test on any error.
func dumpTree(t *testing.T, c *zk.Conn, root string) map[string]znode {
	t.Helper()
	out, err := walkTree(c, root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// walkTree reads every node under root (included) through c. Its error
// names the call that failed; ErrNoNode among them means the tree changed
// under the walk, which a caller polling a tree that still changes retries.
func walkTree(c *zk.Conn, root string) (map[string]znode, error) {
	out := map[string]znode{}
	var walk func(p string) error
	walk = func(p string) error {
		data, st, err := c.Get(p)
		if err != nil {
			return fmt.Errorf("get %s: %w", p, err)
		}
		acl, _, err := c.GetACL(p)
		if err != nil {
			return fmt.Errorf("getACL %s: %w", p, err)
		}
		out[p] = znode{data: data, stat: *st, acl: acl}
		kids, _, err := c.Children(p)
		if err != nil {
			return fmt.Errorf("children %s: %w", p, err)
		}
		for _, k := range kids {
			if err := walk(strings.TrimSuffix(p, "/") + "/" + k); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return nil, err
	}
	return out, nil
}

// fillZooKeeper creates, under prefix, every kind of node a migration
// must carry: nested persistent nodes, empty and binary data, a queue of
// sequential nodes with gaps, a container, TTL nodes, nodes only a digest
// user may read, a changed ACL, a multi. c authenticates as that user.
func fillZooKeeper(t *testing.T, c *zk.Conn, prefix string) {
	t.Helper()
	open := zk.WorldACL(zk.PermAll)
	if err := c.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	secret := zk.DigestACL(zk.PermAll, "alice", "secret")
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	steps := []func() error{
		func() error { return create(c, prefix+"/app", []byte("v0"), 0, open) },
		func() error { return create(c, prefix+"/app/empty", []byte{}, 0, open) },
		func() error { return create(c, prefix+"/app/binary", bin, 0, open) },
		func() error { _, err := c.Set(prefix+"/app", []byte("v1"), 0); return err },
		func() error { _, err := c.Set(prefix+"/app", []byte("v2"), 1); return err },
		func() error { return create(c, prefix+"/a/b/c", []byte("deep"), 0, open) },
		func() error { return create(c, prefix+"/secret", []byte("s3cr3t"), 0, secret) },
		func() error { return create(c, prefix+"/secret/inner", []byte("x"), 0, secret) },
		func() error { return create(c, prefix+"/app/acl", nil, 0, open) },
		func() error { _, err := c.SetACL(prefix+"/app/acl", zk.WorldACL(zk.PermRead), -1); return err },
		func() error { return create(c, prefix+"/queue", nil, 0, open) },
		func() error {
			for i := 0; i < 4; i++ {
				if _, err := c.Create(prefix+"/queue/item-", []byte{byte(i)}, zk.FlagSequence, open); err != nil {
					return err
				}
			}
			return c.Delete(prefix+"/queue/item-0000000001", -1)
		},
		func() error {
			_, err := c.CreateContainer(prefix+"/locks", nil, zk.FlagContainer, open)
			return err
		},
		func() error { return create(c, prefix+"/locks/keep", nil, 0, open) },
		func() error {
			_, err := c.CreateTTL(prefix+"/ttl", []byte("t"), zk.FlagTTL, open, time.Hour)
			return err
		},
		func() error {
			_, err := c.CreateTTL(prefix+"/queue/ttl-", nil, zk.FlagPersistentSequentialWithTTL, open, time.Hour)
			return err
		},
		func() error {
			_, err := c.Multi(&zk.CreateRequest{Path: prefix + "/multi", Acl: open},
				&zk.CreateRequest{Path: prefix + "/multi/a", Data: []byte("m"), Acl: open},
				&zk.SetDataRequest{Path: prefix + "/app/empty", Data: []byte("now"), Version: -1})
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("filling ZooKeeper, step %d: %v", i, err)
		}
	}
}

// create creates path and any missing parents, with the same ACL.
func create(c *zk.Conn, path string, data []byte, flags int32, acl []zk.ACL) error {
	parts := strings.Split(path, "/")
	for i := 2; i < len(parts); i++ {
		p := strings.Join(parts[:i], "/")
		if _, err := c.Create(p, nil, 0, acl); err != nil && err != zk.ErrNodeExists {
			return err
		}
	}
	_, err := c.Create(path, data, flags, acl)
	return err
}

// TestImportZooKeeperOffline fills a real ZooKeeper 3.8, leaves a session
// with ephemeral nodes open, kills it, imports its data directory and
// compares every znode zkfs then serves with what ZooKeeper served: all
// equal, stat included, but for the ephemerals, which are gone as if their
// session had expired. A damaged copy of the directory is refused and
// leaves nothing.
func TestImportZooKeeperOffline(t *testing.T) {
	z := startZooKeeper(t)
	srv, err := NewServer(zkfsBin, t.TempDir(), "--container-check-interval", "100ms")
	if err != nil {
		t.Fatal(err)
	}
	src := connect(t, z.Addr(t), 10*time.Second)
	fillZooKeeper(t, src, "")
	eph := connect(t, z.addr, 10*time.Second)
	for p, mode := range map[string]int32{"/app/eph": zk.FlagEphemeral, "/queue/eph-": zk.FlagEphemeralSequential} {
		if _, err := eph.Create(p, []byte("e"), mode, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	// An empty TTL node of one second, which zkfs must reap once imported
	// (ZooKeeper's own first check comes a minute after its start).
	if _, err := src.CreateTTL("/short-ttl", nil, zk.FlagTTL, zk.WorldACL(zk.PermAll), time.Second); err != nil {
		t.Fatal(err)
	}
	want := dumpTree(t, src, "/")
	if _, ok := want["/short-ttl"]; ok {
		delete(want, "/short-ttl")
		root := want["/"]
		root.stat.NumChildren--
		root.stat.Cversion++
		want["/"] = root
	}
	var last int64
	for _, n := range want {
		last = max(last, n.stat.Mzxid, n.stat.Pzxid)
	}
	z.Kill()

	// Damaged input first: one flipped byte in the transaction log.
	bad := filepath.Join(t.TempDir(), "bad")
	if err := exec.Command("cp", "-r", z.dataDir, bad).Run(); err != nil {
		t.Fatal(err)
	}
	logs, _ := filepath.Glob(filepath.Join(bad, "version-2", "log.*"))
	if len(logs) == 0 {
		t.Fatalf("no transaction log in %s", bad)
	}
	b, err := os.ReadFile(logs[0])
	if err != nil {
		t.Fatal(err)
	}
	b[60] ^= 0xff // inside the first record
	os.WriteFile(logs[0], b, 0o644)
	out := filepath.Join(t.TempDir(), "out")
	cmd := exec.Command(zkfsBin, "import", "zookeeper", "--zk-data-dir", bad, "--data-dir", out)
	msg, err := cmd.CombinedOutput()
	if err == nil || !bytes.Contains(msg, []byte("checksum")) || bytes.Count(msg, []byte("\n")) != 1 {
		t.Errorf("import of a damaged log: %v, %q; want one line about the checksum", err, msg)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a refused import left %s behind (%v)", out, err)
	}

	msg, err = exec.Command(zkfsBin, "import", "zookeeper", "--zk-data-dir", z.dataDir, "--data-dir", srv.DataDir).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v: %s", err, msg)
	}
	t.Logf("%s", msg)
	if !bytes.Contains(msg, []byte("dropped 2 ephemeral nodes and 2 sessions")) {
		t.Errorf("summary %q does not count the 2 ephemerals and 2 sessions", msg)
	}
	if err := srv.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(20 * time.Second) })
	dst := connect(t, srv.Addr(), 10*time.Second)
	if err := dst.AddAuth("digest", []byte("alice:secret")); err != nil {
		t.Fatal(err)
	}
	// The TTL node is still one: zkfs reaps it once it has expired.
	eventually(t, 30*time.Second, "zkfs reaps the imported TTL node", func() error {
		if ok, _, err := dst.Exists("/short-ttl"); err != nil || ok {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})
	got := dumpTree(t, dst, "/")
	// The reaping changed the root like a delete: pzxid is zkfs's.
	if g, w := got["/"], want["/"]; g.stat.Pzxid > w.stat.Pzxid {
		g.stat.Pzxid = w.stat.Pzxid
		got["/"] = g
	}

	// The ephemerals are gone; their parents count one child fewer, and
	// so one more change in cversion, as after an expiry.
	for p, n := range want {
		if n.stat.EphemeralOwner == 0 {
			continue
		}
		delete(want, p)
		parent := want[filepath.Dir(p)]
		parent.stat.NumChildren--
		parent.stat.Cversion++
		want[filepath.Dir(p)] = parent
	}
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		w, okw := want[p]
		g, okg := got[p]
		switch {
		case !okg:
			t.Errorf("%s: missing after the import; ZooKeeper served %v", p, w)
		case !okw:
			t.Errorf("%s: zkfs serves it, ZooKeeper did not", p)
		case w.String() != g.String():
			t.Errorf("%s:\n zkfs      %v\n ZooKeeper %v", p, g, w)
		}
	}
	if len(got) < 20 {
		t.Errorf("only %d znodes compared", len(got))
	}

	// The container is still one: emptied, it is reaped.
	if err := dst.Delete("/locks/keep", -1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "zkfs reaps the emptied imported container", func() error {
		if ok, _, err := dst.Exists("/locks"); err != nil || ok {
			return fmt.Errorf("still there (%v)", err)
		}
		return nil
	})

	// New writes continue ZooKeeper's zxids and sequence numbers.
	p, err := dst.Create("/queue/item-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := dst.Get(p)
	if err != nil {
		t.Fatal(err)
	}
	if p != "/queue/item-0000000006" || st.Czxid <= last {
		t.Errorf("new sequential node %s at zxid %#x; want item-0000000006 above ZooKeeper's zxids", p, st.Czxid)
	}
}

// TestImportZooKeeperEnsemble imports the golden ZooKeeper 3.8 directory
// on each member of a three-replica ensemble, each with its own zoo.cfg,
// and starts them: they elect a leader from the imported state, serve the
// imported tree and take writes above ZooKeeper's zxids.
func TestImportZooKeeperEnsemble(t *testing.T) {
	const golden = "../zkdata/testdata/zk38"
	var srvs []*Server
	var lines []string
	for i := 1; i <= 3; i++ {
		s, err := NewServer(zkfsBin, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		peer, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		elect, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		srvs = append(srvs, s)
		lines = append(lines, fmt.Sprintf("server.%d=127.0.0.1:%d:%d;127.0.0.1:%d", i, peer, elect, s.ClientPort))
	}
	for i, s := range srvs {
		cfg := filepath.Join(filepath.Dir(s.DataDir), "zoo.cfg")
		body := fmt.Sprintf("tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPortAddress=127.0.0.1\n%s\n", s.DataDir, strings.Join(lines, "\n"))
		os.MkdirAll(s.DataDir, 0o755)
		os.WriteFile(filepath.Join(s.DataDir, "myid"), []byte(fmt.Sprintf("%d\n", i+1)), 0o644)
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if msg, err := exec.Command(zkfsBin, "import", "zookeeper", "--zk-data-dir", golden, "--config", cfg).CombinedOutput(); err != nil {
			t.Fatalf("import on member %d: %v: %s", i+1, err, msg)
		}
		s.Args = append(s.Args, "--config", cfg)
		t.Cleanup(func() {
			s.Stop(20 * time.Second)
			if t.Failed() {
				t.Logf("server %d log (tail):\n%s", i+1, s.LogTail(3000))
			}
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, len(srvs))
	for i, s := range srvs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = s.Start(60 * time.Second) }()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	c1 := connect(t, srvs[0].Addr(), 10*time.Second)
	p, err := c1.Create("/queue/item-", nil, zk.FlagSequence, zk.WorldACL(zk.PermAll))
	if err != nil {
		t.Fatal(err)
	}
	_, st, err := c1.Get(p)
	if err != nil || p != "/queue/item-0000000007" || st.Czxid <= 0x26 {
		t.Fatalf("write after the import: %s %+v %v; want item-0000000007 above zxid 0x26", p, st, err)
	}
	c3 := connect(t, srvs[2].Addr(), 10*time.Second)
	eventually(t, 30*time.Second, "member 3 serves the import and the write", func() error {
		if _, err := c3.Sync(p); err != nil {
			return err
		}
		if _, _, err := c3.Get(p); err != nil {
			return err
		}
		data, _, err := c3.Get("/app")
		if err != nil || string(data) != "hello 2" {
			return fmt.Errorf("/app %q %v", data, err)
		}
		return nil
	})
}
