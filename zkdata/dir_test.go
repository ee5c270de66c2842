package zkdata

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"zkfs/tree"
)

// zk38 is a data directory written by Debian's ZooKeeper 3.8, and zk38.want
// what that server served just before it was killed (zk38gen.go made
// both): snapshots with content, logs after them, two sessions still open.
const zk38 = "testdata/zk38"

// render prints a node as zk38gen.go printed what ZooKeeper served: the
// client's stat, in which cversion counts deletes too and containers and
// TTL nodes show no owner.
func render(n *Node) string {
	owner := n.EphemeralOwner
	if !n.Ephemeral() {
		owner = 0
	}
	var acl []string
	for _, a := range n.ACL {
		acl = append(acl, fmt.Sprintf("%d:%s:%s", a.Perms, a.ID.Scheme, a.ID.ID))
	}
	return fmt.Sprintf("%s %x %d %d %d %d %d %d %d %d %d %d %d %s", n.Path, n.Data,
		n.Czxid, n.Mzxid, n.Ctime, n.Mtime, n.Version, 2*n.Cversion-int32(n.NumChildren()), n.Aversion,
		owner, len(n.Data), n.NumChildren(), n.Pzxid, strings.Join(acl, ","))
}

// TestLoadCompressedSnapshots reads the directories the same server
// wrote with snapshot.compression.method gz and snappy.
func TestLoadCompressedSnapshots(t *testing.T) {
	for _, name := range []string{"zk38-gz", "zk38-snappy"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			snaps, err := listFiles(filepath.Join(dir, "version-2"), "snapshot")
			if err != nil || len(snaps) < 2 {
				t.Fatalf("%d snapshots, %v", len(snaps), err)
			}
			tr, info, err := Load(dir, "")
			if err != nil {
				t.Fatal(err)
			}
			if info.Snapshot != snaps[len(snaps)-1].path || info.Txns == 0 {
				t.Errorf("read %s and %d transactions; want the newest snapshot and the log after it", info.Snapshot, info.Txns)
			}
			var got []string
			tr.Walk(func(n *Node) error { got = append(got, render(n)); return nil })
			want, err := os.ReadFile(filepath.Join("testdata", name+".want"))
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, "\n") + "\n"; g != string(want) {
				t.Errorf("loaded tree differs from what ZooKeeper served:\n got:\n%s\nwant:\n%s", g, want)
			}
			// A damaged compressed snapshot is skipped like a plain one.
			d := copyDir(t, dir)
			flip(t, filepath.Join(d, "version-2", filepath.Base(info.Snapshot)), 40)
			if _, info2, err := Load(d, ""); err != nil || len(info2.Skipped) != 1 {
				t.Errorf("with the newest snapshot damaged: skipped %v, %v", info2.Skipped, err)
			}
		})
	}
}

func TestLoadZooKeeper38(t *testing.T) {
	tr, info, err := Load(zk38, "")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(info.Snapshot) != "snapshot.1f" || len(info.Skipped) != 0 {
		t.Errorf("read %s, skipped %v; want the newest snapshot, snapshot.1f", info.Snapshot, info.Skipped)
	}
	if info.Txns == 0 || tr.LastZxid != 0x26 {
		t.Errorf("applied %d transactions up to zxid %#x; want the log after the snapshot, up to 0x26", info.Txns, tr.LastZxid)
	}
	var got []string
	if err := tr.Walk(func(n *Node) error { got = append(got, render(n)); return nil }); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/zk38.want")
	if err != nil {
		t.Fatal(err)
	}
	if g, w := strings.Join(got, "\n")+"\n", string(want); g != w {
		t.Errorf("loaded tree differs from what ZooKeeper served:\n got:\n%s\nwant:\n%s", g, w)
	}
	if len(tr.Sessions) != 2 {
		t.Errorf("%d open sessions, want the 2 left open", len(tr.Sessions))
	}
	if n := tr.Node("/locks"); n == nil || n.EphemeralOwner != tree.ContainerOwner {
		t.Errorf("/locks is not a container: %+v", n)
	}
	if n := tr.Node("/ttlseq-0000000006"); n == nil || n.EphemeralOwner != tree.TTLOwner(7_200_000) {
		t.Errorf("/ttlseq-0000000006 is not a 2-hour TTL node: %+v", n)
	}
}

// TestLoadEveryStart loads the tree from each snapshot in turn (newer
// ones removed), so that every log is replayed over a fuzzy start: the
// tree must come out the same.
func TestLoadEveryStart(t *testing.T) {
	want, err := os.ReadFile("testdata/zk38.want")
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := listFiles(filepath.Join(zk38, "version-2"), "snapshot")
	if err != nil {
		t.Fatal(err)
	}
	for keep := range snaps {
		dir := copyDir(t, zk38)
		for _, s := range snaps[keep+1:] {
			os.Remove(filepath.Join(dir, "version-2", filepath.Base(s.path)))
		}
		tr, info, err := Load(dir, "")
		if err != nil {
			t.Fatalf("from %s: %v", filepath.Base(snaps[keep].path), err)
		}
		var got []string
		tr.Walk(func(n *Node) error { got = append(got, render(n)); return nil })
		if g := strings.Join(got, "\n") + "\n"; g != string(want) {
			t.Errorf("from %s (%d txns): tree differs:\n%s", filepath.Base(snaps[keep].path), info.Txns, g)
		}
	}
}

func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	os.MkdirAll(filepath.Join(dst, "version-2"), 0o755)
	ents, err := os.ReadDir(filepath.Join(src, "version-2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(src, "version-2", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, "version-2", e.Name()), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestLoadDamaged damages the golden directory in the ways that matter and
// checks each outcome: refused with the right error, or read the way
// ZooKeeper reads it.
func TestLoadDamaged(t *testing.T) {
	v2 := func(dir, name string) string { return filepath.Join(dir, "version-2", name) }
	tests := []struct {
		name   string
		damage func(dir string)
		want   error // nil: loads, from an older snapshot if wantSnap says so
		snap   string
	}{
		{"log record flipped", func(dir string) { flip(t, v2(dir, "log.21"), 40) }, ErrCorrupt, ""},
		{"log header", func(dir string) { flip(t, v2(dir, "log.21"), 1) }, ErrCorrupt, ""},
		{"log missing", func(dir string) { os.Remove(v2(dir, "log.1a")) }, ErrLogGap, ""},
		{"newest snapshot flipped", func(dir string) { flip(t, v2(dir, "snapshot.1f"), 300) }, nil, "snapshot.18"},
		{"newest snapshot truncated", func(dir string) { truncate(t, v2(dir, "snapshot.1f"), 1000) }, nil, "snapshot.18"},
		{"every snapshot flipped", func(dir string) {
			for _, s := range []string{"0", "6", "11", "18", "1f"} {
				flip(t, v2(dir, "snapshot."+s), 30)
			}
		}, ErrNoSnapshot, ""},
		{"no snapshot", func(dir string) {
			for _, s := range []string{"0", "6", "11", "18", "1f"} {
				os.Remove(v2(dir, "snapshot."+s))
			}
		}, ErrNoSnapshot, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyDir(t, zk38)
			tt.damage(dir)
			_, info, err := Load(dir, "")
			if !errors.Is(err, tt.want) {
				t.Fatalf("Load = %v, want %v", err, tt.want)
			}
			if err == nil && filepath.Base(info.Snapshot) != tt.snap {
				t.Errorf("loaded from %s, want %s", info.Snapshot, tt.snap)
			}
			if err != nil {
				t.Logf("refused: %v", err)
			}
		})
	}
}

// TestLoadTornTail cuts the last log in the middle of a record, as a crash
// during a write leaves it: the records before the cut are the tree.
func TestLoadTornTail(t *testing.T) {
	dir := copyDir(t, zk38)
	full, _, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	last := filepath.Join(dir, "version-2", "log.21")
	b, _ := os.ReadFile(last)
	lf, err := decodeLog(b)
	if err != nil || len(lf.txns) < 2 || lf.torn {
		t.Fatalf("log.21: %d txns, torn %v, %v", len(lf.txns), lf.torn, err)
	}
	// The end of the records is where preallocated zeros start; cut
	// three bytes before it, inside the last record.
	end := len(b)
	for end > 0 && b[end-1] == 0 {
		end--
	}
	truncate(t, last, int64(end-3))
	tr, _, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if tr.LastZxid != full.LastZxid-1 {
		t.Errorf("last zxid %#x, want %#x: only the torn record is lost", tr.LastZxid, full.LastZxid-1)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x55
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func truncate(t *testing.T, path string, size int64) {
	t.Helper()
	if err := os.Truncate(path, size); err != nil {
		t.Fatal(err)
	}
}

// TestLoadSeparateLogDir reads the logs from ZooKeeper's dataLogDir.
func TestLoadSeparateLogDir(t *testing.T) {
	dir := copyDir(t, zk38)
	logDir := t.TempDir()
	os.MkdirAll(filepath.Join(logDir, "version-2"), 0o755)
	logs, _ := filepath.Glob(filepath.Join(dir, "version-2", "log.*"))
	for _, l := range logs {
		if err := os.Rename(l, filepath.Join(logDir, "version-2", filepath.Base(l))); err != nil {
			t.Fatal(err)
		}
	}
	if _, info, err := Load(dir, ""); err != nil || !info.NoLogs {
		t.Errorf("without the log directory: NoLogs %v, %v; want the warning flag", info.NoLogs, err)
	}
	tr, info, err := Load(dir, logDir)
	if err != nil || tr.LastZxid != 0x26 || len(info.Logs) == 0 {
		t.Fatalf("with the log directory: last zxid %#x, logs %v, %v", tr.LastZxid, info.Logs, err)
	}
}
