package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"zkfs/tree"
)

// goldenOps builds a small tree with every record kind a snapshot carries:
// plain, sequential, ephemeral, container and TTL nodes, a digest ACL,
// directory kinds, and a live session.
func goldenOps() []op {
	digest := []tree.ACL{{Perms: tree.PermAll, ID: tree.ID{Scheme: "digest", ID: "user:tpUq/4Pn5A64fVZyQ0gOJ8ZWqkY="}}}
	return []op{
		{},
		{op: tree.Create{Path: "/app", Data: []byte("config v1"), ACL: tree.OpenACL}},
		{op: tree.Create{Path: "/app/seq-", Data: []byte("a"), ACL: tree.OpenACL, Mode: tree.ModePersistentSequential}},
		{op: tree.Create{Path: "/secret", Data: []byte("s3cr3t"), ACL: digest}},
		{op: tree.CreateSession{ID: 0x1234, Timeout: 30000, Password: []byte("0123456789abcdef")}},
		{op: tree.Create{Path: "/app/lock", ACL: tree.OpenACL, Mode: tree.ModeEphemeral}, session: 0x1234},
		{op: tree.Create{Path: "/queue", ACL: tree.OpenACL, Mode: tree.ModeContainer}},
		{op: tree.Create{Path: "/queue/item", Data: []byte{0, 1, 2, 0xff}, ACL: tree.OpenACL}},
		{op: tree.Create{Path: "/ttl", ACL: tree.OpenACL, Mode: tree.ModePersistentWithTTL, TTL: 60000}},
		{op: tree.Create{Path: "/dir", ACL: tree.OpenACL, Kind: tree.KindDir}},
		{op: tree.SetData{Path: "/app", Data: []byte("config v2"), Version: -1}},
	}
}

// TestSnapshotFormatGolden pins the snapshot stream byte for byte: a
// backup written by `zkfs snapshot save` must stay readable by every later
// build, so a change of the encoding must be a new format version, not a
// silent edit. It also checks that the pinned bytes decode and restore.
func TestSnapshotFormatGolden(t *testing.T) {
	s := openMem(t)
	tr, _ := loadTree(t, s)
	ops := goldenOps()
	runOps(t, s, tr, ops, 1, uint64(len(ops)-1))
	snap, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	defer snap.Close()
	var got bytes.Buffer
	if _, err := snap.WriteTo(&got); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", "snapshot-v1.golden")
	// -update-golden (format_golden_test.go) writes it; only ever for a
	// new file, never to make a changed encoding pass.
	if *updateGolden {
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update-golden to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("snapshot stream differs from %s (%d bytes, want %d): a format change needs a new snapVersion", path, got.Len(), len(want))
	}

	info, err := ReadSnapshotInfo(bytes.NewReader(want), nil)
	if err != nil {
		t.Fatal(err)
	}
	// Twelve nodes: the four a fresh tree has (/, /zookeeper and its
	// config and quota) and the eight created (the ephemeral /app/lock
	// among them); one session.
	wantInfo := SnapshotInfo{Index: uint64(len(ops) - 1), Nodes: 12, Sessions: 1, Bytes: int64(len(want)),
		Checksum: uint32(want[len(want)-4])<<24 | uint32(want[len(want)-3])<<16 | uint32(want[len(want)-2])<<8 | uint32(want[len(want)-1])}
	if info != wantInfo {
		t.Errorf("ReadSnapshotInfo = %+v, want %+v", info, wantInfo)
	}

	other := openMem(t)
	restored, idx, err := other.Restore(bytes.NewReader(want), tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if idx != info.Index || !dumpTree(t, restored).equal(dumpTree(t, tr)) {
		t.Errorf("restoring the golden stream gave a different tree at %d", idx)
	}
}

// TestReadSnapshotInfoRefusesDamage checks that every truncation and
// every flipped byte of a valid stream is reported as ErrBadSnapshot.
func TestReadSnapshotInfoRefusesDamage(t *testing.T) {
	want, err := os.ReadFile(filepath.Join("testdata", "snapshot-v1.golden"))
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(want); n++ {
		if _, err := ReadSnapshotInfo(bytes.NewReader(want[:n]), nil); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("truncated to %d of %d bytes: err = %v, want ErrBadSnapshot", n, len(want), err)
		}
	}
	for i := range want {
		bad := bytes.Clone(want)
		bad[i] ^= 0x20
		if _, err := ReadSnapshotInfo(bytes.NewReader(bad), nil); !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("byte %d flipped: err = %v, want ErrBadSnapshot", i, err)
		}
	}
	if _, err := ReadSnapshotInfo(bytes.NewReader(append(bytes.Clone(want), 0)), nil); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("trailing byte: err = %v, want ErrBadSnapshot", err)
	}
}
