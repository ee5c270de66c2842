package tree

import (
	"slices"
	"sort"
)

// DefaultMaxDataSize is ZooKeeper's default limit on a node's data: 1 MiB.
const DefaultMaxDataSize = 1 << 20

// Config holds the tree's limits.
type Config struct {
	// MaxDataSize is the largest data a node may hold; 0 means DefaultMaxDataSize.
	MaxDataSize int
}

func (c Config) maxDataSize() int {
	if c.MaxDataSize <= 0 {
		return DefaultMaxDataSize
	}
	return c.MaxDataSize
}

// Tree is the znode tree. It is not safe for concurrent use; the replication
// layer serialises access. Reads do not modify the tree, so concurrent reads
// under a read lock are safe.
type Tree struct {
	cfg      Config
	nodes    map[string]*node
	sessions map[int64]*session
	acls     aclCache
	// containers and ttls index the nodes that Reapable scans, as ZooKeeper's
	// DataTree does, so that the timer does not walk the whole tree.
	containers map[*node]struct{}
	ttls       map[*node]struct{}
	lastZxid   int64

	dirtyNodes    map[string]struct{}
	dirtySessions map[int64]struct{}

	// undo is non-nil while a multi is being applied; every mutation
	// pushes its inverse so that a failing multi can be rolled back.
	undo *[]func()
	// events collects the events of the command being applied.
	events []Event
}

// node is one znode. Its fields are kept small: a tree of a million small
// nodes is the design point.
type node struct {
	meta
	path string
	// kids is nil for a node that never had children, which is most of
	// them; the parent is found through the path index instead of a pointer.
	kids *kidList
	// idx is the node's position in its parent's kids.
	idx int32
}

// kidList holds a node's children, unordered; readers sort. Each child
// knows its index so that removal is O(1).
type kidList struct {
	list []*node
}

// children returns the node's children in no particular order.
func (n *node) children() []*node {
	if n.kids == nil {
		return nil
	}
	return n.kids.list
}

func (n *node) numChildren() int {
	if n.kids == nil {
		return 0
	}
	return len(n.kids.list)
}

// addChild appends c to n's children.
func (n *node) addChild(c *node) {
	if n.kids == nil {
		n.kids = &kidList{}
	}
	c.idx = int32(len(n.kids.list))
	n.kids.list = append(n.kids.list, c)
}

// removeChild takes c out of n's children by moving the last child into
// its place.
func (n *node) removeChild(c *node) {
	l := n.kids.list
	last := len(l) - 1
	moved := l[last]
	l[c.idx] = moved
	moved.idx = c.idx
	l[last] = nil
	l = l[:last]
	switch {
	case last == 0:
		l = nil
	case cap(l) > 16 && last < cap(l)/4:
		// Give back the memory of a directory that was emptied.
		l = append([]*node(nil), l...)
	}
	n.kids.list = l
}

// parent returns the parent of a node other than the root.
func (t *Tree) parent(n *node) *node {
	return t.nodes[Parent(n.path)]
}

// meta is the part of a node that a rolled-back multi restores by copy.
type meta struct {
	data  []byte
	acl   *aclEntry
	czxid int64
	mzxid int64
	pzxid int64
	ctime int64
	mtime int64
	// owner is ZooKeeper's persisted ephemeralOwner: a session id, or the
	// container marker, or the TTL encoding (see EphemeralType).
	owner   int64
	version int32
	// cversion is ZooKeeper's persisted cversion: the number of children
	// ever created. The stat reports 2*cversion-numChildren, which counts
	// creates and deletes.
	cversion int32
	aversion int32
	kind     Kind
}

// session is a session and the ephemeral nodes it owns.
type session struct {
	Session
	ephemerals map[string]struct{}
}

// New returns a tree as a fresh ZooKeeper 3.8 server holds it: /, /zookeeper,
// /zookeeper/quota and /zookeeper/config (read-only for everyone), all with
// zero zxids and times.
func New(cfg Config) *Tree {
	t := newEmpty(cfg)
	root := t.bootNode("/", nil, OpenACL)
	zk := t.bootNode("/zookeeper", root, OpenACL)
	t.bootNode("/zookeeper/quota", zk, OpenACL)
	cfgNode := t.bootNode("/zookeeper/config", zk, []ACL{{Perms: PermRead, ID: ID{Scheme: "world", ID: "anyone"}}})
	cfgNode.aversion = -1
	root.kind = KindDir
	zk.kind = KindDir
	// A new tree is also a new store: its first TakeChanges writes them.
	for p := range t.nodes {
		t.dirtyNodes[p] = struct{}{}
	}
	return t
}

func newEmpty(cfg Config) *Tree {
	return &Tree{
		cfg:           cfg,
		nodes:         make(map[string]*node),
		sessions:      make(map[int64]*session),
		acls:          make(aclCache),
		containers:    make(map[*node]struct{}),
		ttls:          make(map[*node]struct{}),
		dirtyNodes:    make(map[string]struct{}),
		dirtySessions: make(map[int64]struct{}),
	}
}

// bootNode adds one of the nodes a fresh server starts with. ZooKeeper links
// them without counting a child create, hence cversion 0, and gives them an
// empty array as data, not null.
func (t *Tree) bootNode(path string, parent *node, acl []ACL) *node {
	n := &node{path: path}
	n.data = []byte{}
	n.acl = t.acls.acquire(acl)
	t.nodes[path] = n
	if parent != nil {
		parent.addChild(n)
	}
	return n
}

// stat returns the node's stat as a ZooKeeper client sees it.
func (n *node) stat() Stat {
	nc := int32(n.numChildren())
	owner := n.owner
	if ephemeralKind(owner) != ephemeralNormal {
		owner = 0
	}
	return Stat{
		Czxid:          n.czxid,
		Mzxid:          n.mzxid,
		Ctime:          n.ctime,
		Mtime:          n.mtime,
		Version:        n.version,
		Cversion:       n.cversion*2 - nc,
		Aversion:       n.aversion,
		EphemeralOwner: owner,
		DataLength:     int32(len(n.data)),
		NumChildren:    nc,
		Pzxid:          n.pzxid,
	}
}

// lookup returns the node at path, or ErrNoNode.
func (t *Tree) lookup(path string) (*node, error) {
	n := t.nodes[path]
	if n == nil {
		return nil, ErrNoNode
	}
	return n, nil
}

// Get returns a node's data and stat. The data is the tree's own copy and
// must not be modified.
func (t *Tree) Get(path string) ([]byte, Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return nil, Stat{}, err
	}
	return n.data, n.stat(), nil
}

// Stat returns a node's stat.
func (t *Tree) Stat(path string) (Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return Stat{}, err
	}
	return n.stat(), nil
}

// Exists reports whether a node exists at path.
func (t *Tree) Exists(path string) bool {
	return t.nodes[path] != nil
}

// Children returns a node's child names, sorted, and its stat.
func (t *Tree) Children(path string) ([]string, Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return nil, Stat{}, err
	}
	names := make([]string, n.numChildren())
	for i, k := range n.children() {
		names[i] = Name(k.path)
	}
	sort.Strings(names)
	return names, n.stat(), nil
}

// Child is what a listing needs of one child: its name, kind and stat.
type Child struct {
	Name string
	Kind Kind
	Stat Stat
}

// ChildList returns a node's children sorted by name, with their kinds and
// stats, and the node's own stat: a listing in one pass over the node,
// where Children and a Stat per child would look every child up again.
func (t *Tree) ChildList(path string) ([]Child, Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return nil, Stat{}, err
	}
	// Sort small pairs, then build the large entries in order.
	type named struct {
		name string
		n    *node
	}
	order := make([]named, n.numChildren())
	for i, k := range n.children() {
		order[i] = named{Name(k.path), k}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].name < order[j].name })
	kids := make([]Child, len(order))
	for i, o := range order {
		kids[i] = Child{Name: o.name, Kind: o.n.kind, Stat: o.n.stat()}
	}
	return kids, n.stat(), nil
}

// GetACL returns a node's ACL and stat. The slice is shared and must not be
// modified.
func (t *Tree) GetACL(path string) ([]ACL, Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return nil, Stat{}, err
	}
	return n.acl.list, n.stat(), nil
}

// Kind returns a node's kind.
func (t *Tree) Kind(path string) (Kind, error) {
	n, err := t.lookup(path)
	if err != nil {
		return 0, err
	}
	return n.kind, nil
}

// TTL returns a TTL node's time to live in milliseconds, 0 for other nodes.
func (t *Tree) TTL(path string) (int64, error) {
	n, err := t.lookup(path)
	if err != nil {
		return 0, err
	}
	if ephemeralKind(n.owner) != ephemeralTTL {
		return 0, nil
	}
	return ttlOf(n.owner), nil
}

// IsContainer reports whether the node at path is a container node.
func (t *Tree) IsContainer(path string) bool {
	n, err := t.lookup(path)
	return err == nil && ephemeralKind(n.owner) == ephemeralContainer
}

// AllChildrenNumber returns the number of nodes below path, as ZooKeeper's
// getAllChildrenNumber does (for "/" that includes /zookeeper and its
// children).
func (t *Tree) AllChildrenNumber(path string) (int, error) {
	n, err := t.lookup(path)
	if err != nil {
		return 0, err
	}
	count := 0
	stack := []*node{n}
	for len(stack) > 0 {
		top := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count += top.numChildren()
		for _, k := range top.children() {
			if k.numChildren() > 0 {
				stack = append(stack, k)
			}
		}
	}
	return count, nil
}

// NodeCount returns the number of nodes, the root included. (ZooKeeper's
// znode_count metric is one higher because its map holds the root twice.)
func (t *Tree) NodeCount() int {
	return len(t.nodes)
}

// LastZxid returns the zxid of the last applied command.
func (t *Tree) LastZxid() int64 {
	return t.lastZxid
}

// Session returns a live session. Its Password is the tree's own copy and
// must not be modified.
func (t *Tree) Session(id int64) (Session, bool) {
	s := t.sessions[id]
	if s == nil {
		return Session{}, false
	}
	return s.Session, true
}

// Sessions returns every live session, sorted by id.
func (t *Tree) Sessions() []Session {
	out := make([]Session, 0, len(t.sessions))
	for _, s := range t.sessions {
		out = append(out, s.Session)
	}
	slices.SortFunc(out, func(a, b Session) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	return out
}

// Ephemerals returns the paths of the ephemeral nodes a session owns, sorted.
func (t *Tree) Ephemerals(id int64) []string {
	s := t.sessions[id]
	if s == nil {
		return nil
	}
	return sortedKeys(s.ephemerals)
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
