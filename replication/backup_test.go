package replication

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"zkfs/storage"
	"zkfs/tree"
)

// TestBackupRestoreStandalone writes a backup of a standalone replica,
// builds a data directory from it, and starts a replica there: it holds
// the same tree and takes writes at indexes after the backup's.
func TestBackupRestoreStandalone(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	propose(t, r, tree.Create{Path: "/a", Data: []byte("one"), ACL: tree.OpenACL})
	propose(t, r, tree.SetData{Path: "/a", Data: []byte("two"), Version: -1})
	var buf bytes.Buffer
	idx, fresh := writeBackup(t, r, &buf)
	_, before, _ := getData(r, "/a")
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if !fresh || idx == 0 {
		t.Fatalf("WriteBackup = index %d, fresh %v", idx, fresh)
	}

	dir := filepath.Join(t.TempDir(), "restored")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "myid"), []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := RestoreDataDir(bytes.NewReader(buf.Bytes()), RestoreOptions{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.Index != idx || res.Info.Index != idx || res.Membership {
		t.Fatalf("RestoreDataDir = %+v, want index %d", res, idx)
	}
	// A second restore into the now full directory is refused.
	if _, err := RestoreDataDir(bytes.NewReader(buf.Bytes()), RestoreOptions{DataDir: dir}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore into a restored directory: %v, want ErrNotEmpty", err)
	}

	r2 := openTest(t, dir, nil)
	defer r2.Close()
	data, st, err := getData(r2, "/a")
	if err != nil || data != "two" || st != before {
		t.Fatalf("restored /a = %q %+v %v, want \"two\" %+v", data, st, err, before)
	}
	if got := r2.AppliedIndex(); got < idx {
		t.Fatalf("restored replica applied %d, want at least %d", got, idx)
	}
	res2 := propose(t, r2, tree.Create{Path: "/b", ACL: tree.OpenACL})
	if res2.Err != nil {
		t.Fatal(res2.Err)
	}
	if _, st, _ := getData(r2, "/b"); uint64(st.Czxid) <= idx {
		t.Fatalf("a write after the restore got zxid %d, not after the backup's %d", st.Czxid, idx)
	}
}

// TestRestoreDataDirRefusesDamage checks that a truncated or damaged
// backup writes nothing at all.
func TestRestoreDataDirRefusesDamage(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	propose(t, r, tree.Create{Path: "/a", Data: []byte("one"), ACL: tree.OpenACL})
	var buf bytes.Buffer
	writeBackup(t, r, &buf)
	r.Close()
	good := buf.Bytes()
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	for name, b := range map[string][]byte{"truncated": good[:len(good)-3], "flipped": flipped} {
		dir := filepath.Join(t.TempDir(), "restored")
		_, err := RestoreDataDir(bytes.NewReader(b), RestoreOptions{DataDir: dir})
		if !errors.Is(err, storage.ErrBadSnapshot) {
			t.Errorf("%s: err = %v, want ErrBadSnapshot", name, err)
		}
		if _, serr := os.Stat(dir); !errors.Is(serr, os.ErrNotExist) {
			t.Errorf("%s: the restore created %s", name, dir)
		}
	}
}

func writeBackup(t *testing.T, r *Replica, w io.Writer) (uint64, bool) {
	t.Helper()
	snap, fresh, err := r.Backup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	if _, err := snap.WriteTo(w); err != nil {
		t.Fatal(err)
	}
	return snap.AppliedIndex(), fresh
}

// TestRestoreDataDirRewritesMembership restores a standalone replica's
// backup for a three-member ensemble: /zookeeper/config names the new
// members, written as the index after the snapshot's, and the Raft
// snapshot carries them.
func TestRestoreDataDirRewritesMembership(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	propose(t, r, tree.Create{Path: "/a", Data: []byte("one"), ACL: tree.OpenACL})
	var buf bytes.Buffer
	idx, _ := writeBackup(t, r, &buf)
	r.Close()
	peers := []Peer{
		{ID: "1", RaftAddr: "10.0.0.1:2888", RPCAddr: "10.0.0.1:3888", ClientAddr: "10.0.0.1:2181"},
		{ID: "2", RaftAddr: "10.0.0.2:2888", RPCAddr: "10.0.0.2:3888", ClientAddr: "10.0.0.2:2181"},
		{ID: "3", RaftAddr: "10.0.0.3:2888", RPCAddr: "10.0.0.3:3888", ClientAddr: "10.0.0.3:2181", Observer: true},
	}
	dir := filepath.Join(t.TempDir(), "data")
	res, err := RestoreDataDir(bytes.NewReader(buf.Bytes()), RestoreOptions{DataDir: dir, Peers: peers})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Membership || res.Index != idx+1 || res.Info.Index != idx {
		t.Fatalf("RestoreDataDir = %+v, want the membership rewritten at %d", res, idx+1)
	}
	store, err := storage.Open(filepath.Join(dir, "pebble"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tr, applied, err := store.LoadTree(tree.Config{})
	if err != nil || applied != idx+1 {
		t.Fatalf("restored store at %d (%v), want %d", applied, err, idx+1)
	}
	data, st, err := tr.Get(ConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseConfigText(string(data))
	if err != nil || !samePeers(got, peers) || uint64(st.Mzxid) != idx+1 {
		t.Fatalf("%s = %q (mzxid %d, %v), want the new members at %d", ConfigPath, data, st.Mzxid, err, idx+1)
	}
	if d, _, err := tr.Get("/a"); err != nil || string(d) != "one" {
		t.Fatalf("/a = %q %v", d, err)
	}
}

// TestRestoreDataDirRefusesOldLog checks that a restore refuses a log
// directory that still holds something: its old Raft log would be
// replayed over the restored tree.
func TestRestoreDataDirRefusesOldLog(t *testing.T) {
	r := openTest(t, t.TempDir(), nil)
	var buf bytes.Buffer
	writeBackup(t, r, &buf)
	r.Close()
	logDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(logDir, "leftover"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "data")
	_, err := RestoreDataDir(bytes.NewReader(buf.Bytes()), RestoreOptions{DataDir: dir, LogDir: logDir})
	if !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("restore with a used log directory: %v, want ErrNotEmpty", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the refused restore created %s", dir)
	}
}
