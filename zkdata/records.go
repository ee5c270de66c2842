package zkdata

import (
	"zkfs/tree"
)

// Summary counts what Records kept and dropped.
type Summary struct {
	// Nodes is the number of records written.
	Nodes int
	// Ephemerals and Sessions are the session-owned nodes and the open
	// sessions left out: zkfs cannot adopt a ZooKeeper session.
	Ephemerals, Sessions int
}

// configPath is ZooKeeper's membership node. Its content describes the
// ZooKeeper ensemble, not the zkfs one, which publishes its own there.
const configPath = "/zookeeper/config"

// Records calls fn with the zkfs record of every node that outlives the
// ZooKeeper sessions, parents first: data, ACL and persisted stat as
// ZooKeeper holds them, containers and TTL nodes with their owner
// encoding, and the parents' cversions, which number the next sequential
// children. Session-owned nodes are left out, as if their sessions had
// expired, so that their parents count fewer children (and clients see a
// cversion one higher for each). /zookeeper/config is a fresh server's,
// empty until the zkfs leader publishes its membership.
//
// A node that has or had children is a directory on the mount, as it
// would be had it been created through zkfs.
func (t *Tree) Records(fn func(tree.Record) error) (Summary, error) {
	var sum Summary
	sum.Sessions = len(t.Sessions)
	var config tree.Record
	tree.New(tree.Config{}).Records(func(r tree.Record) error {
		if r.Path == configPath {
			config = r
		}
		return nil
	})
	err := t.Walk(func(n *Node) error {
		if n.Ephemeral() {
			sum.Ephemerals++
			return nil
		}
		if n.Path == configPath {
			return nil
		}
		kids := 0
		for c := range n.children {
			if !t.nodes[childPath(n.Path, c)].Ephemeral() && childPath(n.Path, c) != configPath {
				kids++
			}
		}
		if n.Path == "/zookeeper" {
			kids++ // the fresh /zookeeper/config
		}
		kind := tree.KindFile
		if kids > 0 || n.Cversion > 0 || n.Path == "/" || n.Path == "/zookeeper" {
			kind = tree.KindDir
		}
		rec := tree.NodeRecord{
			Czxid: n.Czxid, Mzxid: n.Mzxid, Pzxid: n.Pzxid,
			Ctime: n.Ctime, Mtime: n.Mtime,
			Version: n.Version, Cversion: n.Cversion, Aversion: n.Aversion,
			NumChildren:    int32(kids),
			EphemeralOwner: n.EphemeralOwner,
			Kind:           kind,
			Data:           n.Data,
			ACL:            n.ACL,
		}
		sum.Nodes++
		if err := fn(tree.Record{Type: tree.RecordNode, Path: n.Path, Value: tree.EncodeNode(rec)}); err != nil {
			return err
		}
		if n.Path == "/zookeeper" {
			sum.Nodes++
			return fn(config)
		}
		return nil
	})
	return sum, err
}
