package test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// runZkfs runs the zkfs binary with args and returns what it printed.
func runZkfs(t *testing.T, args ...string) cliResult {
	t.Helper()
	return runZkfsArgs(t, "", 60*time.Second, args...)
}

// fullState is every znode, /zookeeper included, with its data, its ACL
// and its whole stat, as a client with every permission reads them after a
// sync.
func fullState(t *testing.T, zc *zk.Conn) map[string]string {
	t.Helper()
	if _, err := zc.Sync("/"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		data, st, err := zc.Get(p)
		if err != nil {
			t.Fatalf("reading %s: %v", p, err)
		}
		acl, _, err := zc.GetACL(p)
		if err != nil {
			t.Fatalf("reading the ACL of %s: %v", p, err)
		}
		out[p] = fmt.Sprintf("%q %+v %v", data, *st, acl)
		kids, _, err := zc.Children(p)
		if err != nil {
			t.Fatalf("listing %s: %v", p, err)
		}
		sort.Strings(kids)
		for _, k := range kids {
			walk(strings.TrimSuffix(p, "/") + "/" + k)
		}
	}
	walk("/")
	return out
}

var savedIndex = regexp.MustCompile(`(?m)^index: 0x[0-9a-f]+ \((\d+)\)$`)

// TestSnapshotSaveWipeRestore is issue 15's backup acceptance test: save a
// snapshot from a running three-replica ensemble, wipe every replica,
// restore each from the file, start them, and find every znode (data, ACL,
// stat) as it was. Damaged copies of the file are refused without writing
// anything, and a caller without every permission on / gets no snapshot.
func TestSnapshotSaveWipeRestore(t *testing.T) {
	e := newTestEnsemble(t, 3, 0, "--super-digest", superDigest())
	leader := e.leader()
	c := connect(t, leader.Addr(), 30*time.Second)
	if err := c.AddAuth("digest", []byte("super:secret")); err != nil {
		t.Fatal(err)
	}
	open := zk.WorldACL(zk.PermAll)
	for _, p := range []string{"/app", "/app/config", "/app/workers", "/locked", "/queue"} {
		if _, err := c.Create(p, []byte("v0 "+p), 0, open); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Create("/queue/item-", []byte{byte(i), 0, 0xff}, zk.FlagSequence, open); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Create("/app/workers/gone", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete("/app/workers/gone", -1); err != nil { // moves cversion and pzxid
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := c.Set("/app/config", []byte(fmt.Sprint("v", i+1)), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SetACL("/locked", zk.DigestACL(zk.PermAll, "owner", "pw"), -1); err != nil {
		t.Fatal(err)
	}
	// Last, the root: a snapshot now needs the admin's credentials.
	rootACL := append(zk.DigestACL(zk.PermAll, "admin", "pw"), zk.ACL{Perms: zk.PermRead, Scheme: "world", ID: "anyone"})
	if _, err := c.SetACL("/", rootACL, -1); err != nil {
		t.Fatal(err)
	}
	before := fullState(t, c)

	source := e.members[0]
	if source == leader {
		source = e.members[1]
	}
	admin := fmt.Sprintf("127.0.0.1:%d", source.Metrics)
	file := filepath.Join(t.TempDir(), "backup.snap")
	r := runZkfs(t, "snapshot", "save", file, "--admin", admin)
	cliRefuses(t, r, "a save without credentials", "403")
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused save left %s behind (%v)", file, err)
	}
	// A list of replicas is tried in turn: the first is down.
	down, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	r = runZkfs(t, "snapshot", "save", file, "--admin", fmt.Sprintf("127.0.0.1:%d,%s", down, admin), "--auth", "digest:admin:pw")
	if r.code != 0 {
		t.Fatalf("zkfs snapshot save: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	m := savedIndex.FindStringSubmatch(r.stdout)
	if m == nil || !strings.Contains(r.stdout, "checksum: crc32c ") {
		t.Fatalf("zkfs snapshot save printed:\n%s", r.stdout)
	}
	index, _ := strconv.ParseUint(m[1], 10, 64)
	st := runZkfs(t, "snapshot", "status", file)
	if st.code != 0 || st.stdout != strings.SplitN(r.stdout, "\n", 2)[1] {
		t.Errorf("zkfs snapshot status: exit %d, printed\n%s\nwant what save printed:\n%s", st.code, st.stdout, r.stdout)
	}
	if _, err := c.Create("/after-save", nil, 0, open); err != nil {
		t.Fatal(err)
	}

	// Damaged copies: refused, nothing written.
	good, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 0x10
	for name, b := range map[string][]byte{"truncated": good[:len(good)*2/3], "flipped": flipped} {
		bad := filepath.Join(t.TempDir(), name+".snap")
		if err := os.WriteFile(bad, b, 0o644); err != nil {
			t.Fatal(err)
		}
		cliRefuses(t, runZkfs(t, "snapshot", "status", bad), "status of a "+name+" file", "invalid snapshot")
		dir := filepath.Join(t.TempDir(), "data")
		cliRefuses(t, runZkfs(t, "snapshot", "restore", bad, "--data-dir", dir), "restore of a "+name+" file", "nothing written")
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("restore of a %s file created %s", name, dir)
		}
	}

	for _, m := range e.members {
		e.stop(m)
		if err := m.WipeData(); err != nil {
			t.Fatal(err)
		}
		e.writeMyID(m)
		r := runZkfs(t, "snapshot", "restore", file, "--config", m.Cfg)
		if r.code != 0 || !strings.Contains(r.stdout, "restored: ") || !strings.Contains(r.stdout, fmt.Sprintf("(%d)", index)) {
			t.Fatalf("zkfs snapshot restore for server %d: exit %d\n%s%s", m.ID, r.code, r.stdout, r.stderr)
		}
		if strings.Contains(r.stdout, "membership:") {
			t.Errorf("restore into the same ensemble rewrote the membership:\n%s", r.stdout)
		}
	}
	// A restored directory is not restored over.
	cliRefuses(t, runZkfs(t, "snapshot", "restore", file, "--config", e.members[0].Cfg), "a restore over a data directory", "not empty")
	e.startAll(e.members...)

	for _, m := range e.members {
		mc := connect(t, m.Addr(), 30*time.Second)
		if err := mc.AddAuth("digest", []byte("super:secret")); err != nil {
			t.Fatal(err)
		}
		after := fullState(t, mc)
		for p, v := range before {
			if after[p] != v {
				t.Errorf("server %d: %s is\n %s\nwas\n %s", m.ID, p, after[p], v)
			}
		}
		for p := range after {
			if _, ok := before[p]; !ok {
				t.Errorf("server %d: %s was not in the snapshot", m.ID, p)
			}
		}
	}
	// The same file clones the tree into a new ensemble of other members:
	// their /zookeeper/config names them, and they reach each other.
	clone := &testEnsemble{t: t, extra: []string{"--super-digest", superDigest()}}
	for i := 1; i <= 3; i++ {
		clone.members = append(clone.members, clone.newMember(i, false))
	}
	t.Cleanup(func() {
		for _, m := range clone.members {
			clone.stop(m)
		}
	})
	for _, m := range clone.members {
		clone.writeConfig(m, clone.members)
		r := runZkfs(t, "snapshot", "restore", file, "--config", m.Cfg)
		if r.code != 0 || !strings.Contains(r.stdout, "membership: rewritten") {
			t.Fatalf("restore into a new ensemble: exit %d\n%s%s", r.code, r.stdout, r.stderr)
		}
	}
	clone.startAll(clone.members...)
	cc := connect(t, clone.leader().Addr(), 30*time.Second)
	if err := cc.AddAuth("digest", []byte("admin:pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := cc.Create("/cloned", nil, 0, open); err != nil {
		t.Fatalf("a write on the clone: %v", err)
	}
	cfg, _, err := cc.Get("/zookeeper/config")
	if err != nil || !strings.Contains(string(cfg), clone.members[2].serverLine()) {
		t.Errorf("the clone's /zookeeper/config = %q (%v), want its own members", cfg, err)
	}
	for _, m := range clone.members {
		mc := connect(t, m.Addr(), 30*time.Second)
		if err := mc.AddAuth("digest", []byte("super:secret")); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, fmt.Sprintf("clone %d sees /cloned", m.ID), func() error {
			_, _, err := mc.Get("/cloned")
			return err
		})
		if data, _, err := mc.Get("/app/config"); err != nil || string(data) != "v3" {
			t.Errorf("clone %d: /app/config = %q %v", m.ID, data, err)
		}
	}

	// The restored ensemble takes writes after the snapshot's index.
	nc := connect(t, e.leader().Addr(), 30*time.Second)
	if err := nc.AddAuth("digest", []byte("admin:pw")); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Create("/restored", nil, 0, open); err != nil {
		t.Fatal(err)
	}
	_, stat, err := nc.Exists("/restored")
	if err != nil || uint64(stat.Czxid) <= index {
		t.Fatalf("a write after the restore: czxid %d (%v), want above the snapshot's %d", stat.Czxid, err, index)
	}
}
