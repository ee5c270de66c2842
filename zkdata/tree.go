// Package zkdata reads an Apache ZooKeeper data directory, the snapshots
// and transaction logs of file format version 2 that ZooKeeper 3.4 to 3.9
// write under version-2/, into the tree ZooKeeper itself would load from it:
// the newest valid snapshot, then every logged transaction after it, with
// ZooKeeper's own replay rules (a snapshot is fuzzy, so a replayed
// transaction may find its effect already there).
//
// Every checksum is verified: each snapshot's Adler-32 seal and each log
// record's Adler-32. A damaged log record, a log that does not continue
// the snapshot, or no readable snapshot at all is an error; nothing is
// guessed.
package zkdata

import (
	"errors"
	"slices"
	"strings"

	"zkfs/tree"
)

// Errors of reading a data directory. Each is wrapped with the file and
// the reason.
var (
	// ErrCorrupt reports a file that is not what ZooKeeper writes, or
	// whose checksum does not match.
	ErrCorrupt = errors.New("zkdata: corrupt ZooKeeper data")
	// ErrNoSnapshot reports a directory without any readable snapshot.
	ErrNoSnapshot = errors.New("zkdata: no valid ZooKeeper snapshot")
	// ErrLogGap reports transaction logs that do not continue the
	// snapshot, or skip transactions: a log file is missing.
	ErrLogGap = errors.New("zkdata: transaction logs have a gap")
)

// Node is one znode as ZooKeeper persists it (DataNode and StatPersisted).
// Cversion is the persisted count of child creates, as in the file; a
// client's stat shows 2*Cversion-NumChildren.
type Node struct {
	Path                string
	Data                []byte // nil is ZooKeeper's null data
	ACL                 []tree.ACL
	Czxid, Mzxid, Pzxid int64
	Ctime, Mtime        int64
	Version, Cversion   int32
	Aversion            int32
	// EphemeralOwner is the raw owner: a session id, the container
	// marker or a TTL encoding, as tree.NodeRecord holds it.
	EphemeralOwner int64

	children map[string]struct{}
}

// NumChildren returns the number of the node's children.
func (n *Node) NumChildren() int { return len(n.children) }

// Ephemeral tells whether the node belongs to a session. Containers and
// TTL nodes are not ephemeral in this sense: they outlive sessions. A TTL
// owner is 0xff, two zero bytes, then the TTL; an owner with 0xff on top
// and anything else next is a session of server 255, which ZooKeeper
// allows when extended types are off.
func (n *Node) Ephemeral() bool {
	o := uint64(n.EphemeralOwner)
	ttl := o>>56 == 0xff && (o>>40)&0xffff == 0
	return o != 0 && n.EphemeralOwner != tree.ContainerOwner && !ttl
}

// Tree is ZooKeeper's DataTree as loaded from disk.
type Tree struct {
	nodes map[string]*Node
	// Sessions maps the sessions open at the last transaction to their
	// timeouts, in milliseconds.
	Sessions map[int64]int32
	// LastZxid is the zxid of the last transaction in the tree (the
	// snapshot's, if no log follows it).
	LastZxid int64

	// ephemerals indexes the session-owned nodes by session, so that a
	// closed session's nodes are found without a scan of the tree.
	ephemerals map[int64]map[string]struct{}
}

func newTree() *Tree {
	return &Tree{nodes: make(map[string]*Node), Sessions: make(map[int64]int32),
		ephemerals: make(map[int64]map[string]struct{})}
}

// Node returns the node at path ("/" for the root), or nil.
func (t *Tree) Node(path string) *Node { return t.nodes[path] }

// Len returns the number of nodes.
func (t *Tree) Len() int { return len(t.nodes) }

// Walk calls fn for every node, parents before their children and siblings
// in byte order, stopping at fn's first error.
func (t *Tree) Walk(fn func(*Node) error) error {
	stack := []*Node{t.nodes["/"]}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := fn(n); err != nil {
			return err
		}
		names := make([]string, 0, len(n.children))
		for c := range n.children {
			names = append(names, c)
		}
		slices.Sort(names)
		for i := len(names) - 1; i >= 0; i-- {
			stack = append(stack, t.nodes[childPath(n.Path, names[i])])
		}
	}
	return nil
}

// Children returns the sorted names of the children of the node at path.
func (t *Tree) Children(path string) []string {
	n := t.nodes[path]
	if n == nil {
		return nil
	}
	names := make([]string, 0, len(n.children))
	for c := range n.children {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}

func childPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// split returns a path's parent and last name as DataTree computes them;
// ok is false for a path without a slash.
func split(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || path == "/" {
		return "", "", false
	}
	parent = path[:i]
	if parent == "" {
		parent = "/"
	}
	return parent, path[i+1:], true
}

// The outcomes of applying a transaction that ZooKeeper's replay ignores.
var (
	errNoNode     = errors.New("no node")
	errNodeExists = errors.New("node exists")
)

// createNode follows DataTree.createNode: the new node's stat is all zxid
// and time; the parent's cversion and pzxid move only forward, because a
// replayed create may find a newer parent in a fuzzy snapshot. A replayed
// create of an existing node still takes the transaction's ACL.
func (t *Tree) createNode(path string, data []byte, acl []tree.ACL, owner int64, parentCversion int32, zxid, time int64) error {
	parentPath, name, ok := split(path)
	if !ok {
		return errNoNode
	}
	parent := t.nodes[parentPath]
	if parent == nil {
		return errNoNode
	}
	if n := t.nodes[path]; n != nil {
		n.ACL = acl
		return errNodeExists
	}
	if parentCversion == -1 {
		parentCversion = parent.Cversion + 1
	}
	if parentCversion > parent.Cversion {
		parent.Cversion = parentCversion
		parent.Pzxid = zxid
	}
	n := &Node{Path: path, Data: data, ACL: acl, Czxid: zxid, Mzxid: zxid, Pzxid: zxid,
		Ctime: time, Mtime: time, EphemeralOwner: owner}
	t.link(parent, name, n)
	return nil
}

func (t *Tree) link(parent *Node, name string, n *Node) {
	if parent.children == nil {
		parent.children = make(map[string]struct{})
	}
	parent.children[name] = struct{}{}
	t.nodes[n.Path] = n
	if n.Ephemeral() {
		own := t.ephemerals[n.EphemeralOwner]
		if own == nil {
			own = make(map[string]struct{})
			t.ephemerals[n.EphemeralOwner] = own
		}
		own[n.Path] = struct{}{}
	}
}

// deleteNode follows DataTree.deleteNode: the parent's pzxid moves only
// forward, and is moved even when the child is already gone.
func (t *Tree) deleteNode(path string, zxid int64) error {
	parentPath, name, ok := split(path)
	if !ok {
		return errNoNode
	}
	parent := t.nodes[parentPath]
	if parent == nil {
		return errNoNode
	}
	delete(parent.children, name)
	if zxid > parent.Pzxid {
		parent.Pzxid = zxid
	}
	n := t.nodes[path]
	if n == nil {
		return errNoNode
	}
	delete(t.nodes, path)
	if n.Ephemeral() {
		delete(t.ephemerals[n.EphemeralOwner], path)
	}
	return nil
}

func (t *Tree) setData(path string, data []byte, version int32, zxid, time int64) error {
	n := t.nodes[path]
	if n == nil {
		return errNoNode
	}
	n.Data, n.Mtime, n.Mzxid, n.Version = data, time, zxid, version
	return nil
}

func (t *Tree) setACL(path string, acl []tree.ACL, version int32) error {
	n := t.nodes[path]
	if n == nil {
		return errNoNode
	}
	n.ACL, n.Aversion = acl, version
	return nil
}

// setCversionPzxid follows DataTree.setCversionPzxid, which replay uses
// when a create finds its node already there.
func (t *Tree) setCversionPzxid(path string, cversion int32, zxid int64) {
	n := t.nodes[path]
	if n == nil {
		return
	}
	if cversion == -1 {
		cversion = n.Cversion + 1
	}
	if cversion > n.Cversion {
		n.Cversion, n.Pzxid = cversion, zxid
	}
}

// killSession deletes the session's ephemeral nodes: those the
// transaction names (ZooKeeper 3.6+) and those the tree knows.
func (t *Tree) killSession(session int64, paths []string, zxid int64) {
	delete(t.Sessions, session)
	for _, p := range paths {
		t.deleteNode(p, zxid)
	}
	var own []string
	for p := range t.ephemerals[session] {
		own = append(own, p)
	}
	delete(t.ephemerals, session)
	slices.Sort(own)
	for _, p := range own {
		t.deleteNode(p, zxid)
	}
}
