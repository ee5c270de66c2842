package zkdata

import (
	"fmt"
	"hash/adler32"

	"zkfs/tree"
	"zkfs/wire"
)

// The file headers' magic numbers ("ZKSN", "ZKLG") and the one format
// version ZooKeeper has written since 3.0.
const (
	snapMagic     = 0x5a4b534e
	logMagic      = 0x5a4b4c47
	formatVersion = 2
)

// openACL is the ACL cache's id for OPEN_ACL_UNSAFE, which the cache never
// lists.
const openACL = -1

// minACLSize is the smallest encoded ACL: perms and two empty strings.
const minACLSize = 12

// decodeSnapshot decodes a whole snapshot file, as FileSnap writes it:
//
//	FileHeader  magic, version, dbid
//	sessions    count, then (id long, timeout int) each
//	ACL cache   count, then (id long, vector<ACL>) each
//	nodes       (path, data buffer, acl id long, StatPersisted) each,
//	            parents first, the root's path empty, ended by path "/"
//	seal        Adler-32 of everything before it (long), then "/"
//
// ZooKeeper 3.6+ may follow the seal with a digest and 3.9 with the last
// zxid, each sealed again; they describe the same tree and are not needed.
func decodeSnapshot(b []byte) (*Tree, error) {
	d := wire.NewDecoder(b)
	if magic := d.Int(); d.Err() == nil && magic != snapMagic {
		return nil, fmt.Errorf("%w: not a snapshot (magic %#x)", ErrCorrupt, uint32(magic))
	}
	if v := d.Int(); d.Err() == nil && v != formatVersion {
		return nil, fmt.Errorf("%w: snapshot format version %d, not %d", ErrCorrupt, v, formatVersion)
	}
	d.Long() // dbid
	t := newTree()
	for n := d.Int(); n > 0 && d.Err() == nil; n-- {
		id := d.Long()
		t.Sessions[id] = d.Int()
	}
	acls := map[int64][]tree.ACL{openACL: tree.OpenACL}
	for n := d.Int(); n > 0 && d.Err() == nil; n-- {
		id := d.Long()
		acls[id] = wire.DecodeVector(d, minACLSize, (*wire.Decoder).ACL)
	}
	for d.Err() == nil {
		path := d.String()
		if path == "/" || d.Err() != nil {
			break
		}
		n := &Node{Path: path, Data: d.Buffer()}
		aclID := d.Long()
		n.Czxid, n.Mzxid = d.Long(), d.Long()
		n.Ctime, n.Mtime = d.Long(), d.Long()
		n.Version, n.Cversion, n.Aversion = d.Int(), d.Int(), d.Int()
		n.EphemeralOwner = d.Long()
		n.Pzxid = d.Long()
		if d.Err() != nil {
			break
		}
		acl, ok := acls[aclID]
		if !ok {
			return nil, fmt.Errorf("%w: node %q refers to ACL %d, which the snapshot does not list", ErrCorrupt, path, aclID)
		}
		n.ACL = acl
		if path == "" {
			if t.nodes["/"] != nil {
				return nil, fmt.Errorf("%w: two root nodes", ErrCorrupt)
			}
			n.Path = "/"
			t.nodes["/"] = n
			continue
		}
		parentPath, name, ok := split(path)
		if !ok || name == "" {
			return nil, fmt.Errorf("%w: node path %q", ErrCorrupt, path)
		}
		parent := t.nodes[parentPath]
		if parent == nil {
			return nil, fmt.Errorf("%w: node %q comes before its parent", ErrCorrupt, path)
		}
		if t.nodes[path] != nil {
			return nil, fmt.Errorf("%w: node %q twice", ErrCorrupt, path)
		}
		t.link(parent, name, n)
	}
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: truncated or malformed snapshot: %v", ErrCorrupt, err)
	}
	if t.nodes["/"] == nil {
		return nil, fmt.Errorf("%w: snapshot has no root node", ErrCorrupt)
	}
	sealed := len(b) - d.Remaining()
	want := adler32.Checksum(b[:sealed])
	got := d.Long()
	seal := d.String()
	if err := d.Err(); err != nil {
		return nil, fmt.Errorf("%w: snapshot ends before its checksum: %v", ErrCorrupt, err)
	}
	if uint64(got) != uint64(want) || seal != "/" {
		return nil, fmt.Errorf("%w: snapshot checksum %#x, computed %#x", ErrCorrupt, uint64(got), want)
	}
	return t, nil
}
