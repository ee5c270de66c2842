package zkdata

import (
	"fmt"
	"hash/adler32"
	"os"
	"path/filepath"
	"testing"

	"zkfs/tree"
	"zkfs/wire"
)

// writeSyntheticSnapshot writes a snapshot in FileSnap's format holding a
// root with `dirs` children of `per` children each, 100 bytes of data
// apiece: a stand-in for a large ZooKeeper, whose real snapshots take long
// to produce.
func writeSyntheticSnapshot(tb testing.TB, dir string, dirs, per int) int64 {
	tb.Helper()
	e := wire.NewEncoder(nil)
	e.Int(snapMagic)
	e.Int(formatVersion)
	e.Long(0)
	e.Int(0) // sessions
	e.Int(1) // one ACL list besides OPEN_ACL_UNSAFE
	e.Long(1)
	e.ACLs(nil)
	data := make([]byte, 100)
	zxid := int64(1)
	node := func(path string, children int) {
		e.String(path)
		e.Buffer(data)
		e.Long(openACL)
		e.Long(zxid)
		e.Long(zxid)
		e.Long(1_700_000_000_000)
		e.Long(1_700_000_000_000)
		e.Int(0)
		e.Int(int32(children))
		e.Int(0)
		e.Long(0)
		e.Long(zxid)
		zxid++
	}
	node("", dirs+1)
	node("/zookeeper", 1)
	node("/zookeeper/quota", 0)
	for d := 0; d < dirs; d++ {
		p := fmt.Sprintf("/dir%05d", d)
		node(p, per)
		for i := 0; i < per; i++ {
			node(fmt.Sprintf("%s/node%06d", p, i), 0)
		}
	}
	e.String("/")
	b := e.Bytes()
	e.Long(int64(adler32.Checksum(b)))
	e.String("/")
	v2 := filepath.Join(dir, "version-2")
	os.MkdirAll(v2, 0o755)
	if err := os.WriteFile(filepath.Join(v2, fmt.Sprintf("snapshot.%x", zxid-1)), e.Bytes(), 0o644); err != nil {
		tb.Fatal(err)
	}
	return zxid - 1
}

func TestSyntheticSnapshot(t *testing.T) {
	dir := t.TempDir()
	last := writeSyntheticSnapshot(t, dir, 3, 4)
	tr, _, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if tr.Len() != 3+3+3*4 || tr.LastZxid != last || len(tr.Children("/dir00001")) != 4 {
		t.Errorf("%d nodes, last zxid %d, children %v", tr.Len(), tr.LastZxid, tr.Children("/dir00001"))
	}
}

// BenchmarkLoad100k loads a snapshot of 100,000 znodes and converts it to
// zkfs records, the offline import's work before storing.
func BenchmarkLoad100k(b *testing.B) {
	dir := b.TempDir()
	writeSyntheticSnapshot(b, dir, 100, 1000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tr, _, err := Load(dir, "")
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		if _, err := tr.Records(func(r tree.Record) error { n++; return nil }); err != nil || n < 100_000 {
			b.Fatal(n, err)
		}
	}
}

// appendTxn appends a log record: checksum, length, entry, 'B'.
func appendTxn(log []byte, session, zxid int64, typ int32, body []byte) []byte {
	e := wire.NewEncoder(nil)
	e.Long(session)
	e.Int(0)
	e.Long(zxid)
	e.Long(1_700_000_000_000 + zxid)
	e.Int(typ)
	entry := append(e.Bytes(), body...)
	r := wire.NewEncoder(log)
	r.Long(int64(adler32.Checksum(entry)))
	r.Buffer(entry)
	return append(r.Bytes(), 'B')
}

// TestCreateV0 replays a create as ZooKeeper 3.3 logged it, without the
// parent's cversion: the parent's count goes up by one.
func TestCreateV0(t *testing.T) {
	dir := t.TempDir()
	last := writeSyntheticSnapshot(t, dir, 1, 2)
	h := wire.NewEncoder(nil)
	h.Int(logMagic)
	h.Int(formatVersion)
	h.Long(0)
	b := wire.NewEncoder(nil)
	b.String("/dir00000/old")
	b.Buffer([]byte("v0"))
	b.ACLs(tree.OpenACL)
	b.Bool(false)
	log := appendTxn(h.Bytes(), 7, last+1, opCreate, b.Bytes())
	log = append(log, make([]byte, 64)...) // preallocation
	if err := os.WriteFile(filepath.Join(dir, "version-2", fmt.Sprintf("log.%x", last+1)), log, 0o644); err != nil {
		t.Fatal(err)
	}
	tr, info, err := Load(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	n, parent := tr.Node("/dir00000/old"), tr.Node("/dir00000")
	if info.Txns != 1 || n == nil || string(n.Data) != "v0" || parent.Cversion != 3 || parent.Pzxid != last+1 {
		t.Errorf("after a V0 create: txns %d, node %+v, parent %+v", info.Txns, n, parent)
	}
}
