package tree

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// RecordType tells what a Record describes.
type RecordType uint8

// The record types.
const (
	RecordNode    RecordType = 1
	RecordSession RecordType = 2
)

// Record is the durable form of one node or one session. Value is the
// tree's own versioned encoding (EncodeNode, EncodeSession); a nil Value
// means the node or session is gone.
type Record struct {
	Type    RecordType
	Path    string // for RecordNode
	Session int64  // for RecordSession
	Value   []byte
}

// record returns the node's current record.
func (n *node) record() NodeRecord {
	return NodeRecord{
		Czxid: n.czxid, Mzxid: n.mzxid, Pzxid: n.pzxid,
		Ctime: n.ctime, Mtime: n.mtime,
		Version: n.version, Cversion: n.cversion, Aversion: n.aversion,
		NumChildren:    int32(n.numChildren()),
		EphemeralOwner: n.owner,
		Kind:           n.kind,
		Data:           n.data,
		ACL:            n.acl.list,
	}
}

// TakeChanges returns the records changed since the previous call and
// forgets them: nodes sorted by path, then sessions sorted by id. Its cost
// is proportional to the number of changed nodes and sessions.
func (t *Tree) TakeChanges() []Record {
	out := make([]Record, 0, len(t.dirtyNodes)+len(t.dirtySessions))
	for _, path := range sortedKeys(t.dirtyNodes) {
		r := Record{Type: RecordNode, Path: path}
		if n := t.nodes[path]; n != nil {
			r.Value = EncodeNode(n.record())
		}
		out = append(out, r)
	}
	ids := make([]int64, 0, len(t.dirtySessions))
	for id := range t.dirtySessions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		r := Record{Type: RecordSession, Session: id}
		if s := t.sessions[id]; s != nil {
			r.Value = EncodeSession(s.Session)
		}
		out = append(out, r)
	}
	// A map keeps its buckets when cleared; after a bulk load of changes
	// that would be tens of bytes per node for good.
	if len(t.dirtyNodes) > 4096 {
		t.dirtyNodes = make(map[string]struct{})
	} else {
		clear(t.dirtyNodes)
	}
	clear(t.dirtySessions)
	return out
}

// Records calls fn with a record for every node, parents before children and
// siblings sorted, then every session sorted by id, stopping at fn's first
// error. It is the full state, for snapshots; it does not touch the changes
// that TakeChanges reports.
func (t *Tree) Records(fn func(Record) error) error {
	root := t.nodes["/"]
	stack := []*node{root}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if err := fn(Record{Type: RecordNode, Path: n.path, Value: EncodeNode(n.record())}); err != nil {
			return err
		}
		kids := slices.Clone(n.children())
		// Pushed in reverse so that they pop in order.
		sort.Slice(kids, func(i, j int) bool { return kids[i].path > kids[j].path })
		stack = append(stack, kids...)
	}
	for _, s := range t.Sessions() {
		if err := fn(Record{Type: RecordSession, Session: s.ID, Value: EncodeSession(s)}); err != nil {
			return err
		}
	}
	return nil
}

// Loader rebuilds a tree from its records, in any order. It is fastest
// when parents come before their children and siblings are together, as
// in the store's key order and in Records: each node is then linked to its
// parent as it is added, with one parent lookup per group of siblings.
type Loader struct {
	t *Tree
	// all holds every node added. The path index is built from it by
	// Finish at its final size: growing it a node at a time rehashed it
	// over and over (a fifth of the time of loading a million nodes).
	all []*node
	// dirs indexes by path the nodes whose records count children, the
	// only ones that a valid store gives children.
	dirs map[string]*node
	// numChildren holds the stored child counts that are not zero, to be
	// checked once every node is in.
	numChildren map[*node]int32
	// parents are the nodes given children so far.
	parents []*node
	// last is the parent of the previous node added, kept because
	// siblings usually come together.
	last *node
	// orphans are nodes added before their parent; Finish links them.
	orphans []*node
	// ephemerals are the session-owned nodes, whose sessions may come later.
	ephemerals []*node
	// misplaced are the children of ephemeral nodes, which Finish reports.
	misplaced []*node
}

// NewLoader starts loading a tree.
func NewLoader(cfg Config) *Loader {
	return &Loader{t: newEmpty(cfg), dirs: make(map[string]*node), numChildren: make(map[*node]int32)}
}

// Add adds one record; its Value is not retained.
func (l *Loader) Add(r Record) error {
	if r.Value == nil {
		return fmt.Errorf("%w: deletion record for %q", ErrCorruptRecord, recordKey(r))
	}
	switch r.Type {
	case RecordNode:
		if err := ValidatePath(r.Path); err != nil {
			return fmt.Errorf("%w: node path %q", ErrCorruptRecord, r.Path)
		}
		n := &node{path: r.Path}
		nc, err := l.decodeNode(n, r.Value)
		if err != nil {
			return fmt.Errorf("node %q: %w", r.Path, err)
		}
		l.all = append(l.all, n)
		if nc > 0 {
			if l.dirs[r.Path] != nil {
				return fmt.Errorf("%w: node %q twice", ErrCorruptRecord, r.Path)
			}
			l.dirs[r.Path] = n
			l.numChildren[n] = nc
		}
		switch ephemeralKind(n.owner) {
		case ephemeralNormal:
			l.ephemerals = append(l.ephemerals, n)
		case ephemeralContainer:
			l.t.containers[n] = struct{}{}
		case ephemeralTTL:
			l.t.ttls[n] = struct{}{}
		}
		if r.Path == "/" {
			return nil
		}
		pp := Parent(r.Path)
		parent := l.last
		if parent == nil || parent.path != pp {
			// A parent whose record counts no children is linked by
			// Finish, which then reports the count.
			if parent = l.dirs[pp]; parent == nil {
				l.orphans = append(l.orphans, n)
				return nil
			}
			l.last = parent
		}
		l.link(parent, n)
	case RecordSession:
		if ephemeralKind(r.Session) != ephemeralNormal {
			return fmt.Errorf("%w: session id %#x", ErrCorruptRecord, r.Session)
		}
		if l.t.sessions[r.Session] != nil {
			return fmt.Errorf("%w: session %#x twice", ErrCorruptRecord, r.Session)
		}
		s, err := DecodeSession(r.Session, r.Value)
		if err != nil {
			return fmt.Errorf("session %#x: %w", r.Session, err)
		}
		l.t.sessions[r.Session] = &session{Session: s}
	default:
		return fmt.Errorf("%w: record type %d", ErrCorruptRecord, r.Type)
	}
	return nil
}

// decodeNode decodes a node value into n and returns its stored child
// count. Unlike DecodeNode it allocates only the data: the ACL is found in
// the tree's cache by its encoding.
func (l *Loader) decodeNode(n *node, value []byte) (int32, error) {
	var r NodeRecord
	d := NewDecoder(value, nil)
	decodeNodeFields(&d, &r)
	if d.Err() != nil || r.Kind > KindDir || r.NumChildren < 0 {
		return 0, fmt.Errorf("%w: bad node value", ErrCorruptRecord)
	}
	if n.acl = l.t.acls.acquireEncoded(d.Rest()); n.acl == nil {
		// A list not met yet: decode it in full, which validates it.
		full, err := DecodeNode(value)
		if err != nil {
			return 0, err
		}
		n.acl = l.t.acls.acquire(full.ACL)
	}
	n.data = r.Data
	n.czxid, n.mzxid, n.pzxid = r.Czxid, r.Mzxid, r.Pzxid
	n.ctime, n.mtime = r.Ctime, r.Mtime
	n.version, n.cversion, n.aversion = r.Version, r.Cversion, r.Aversion
	n.owner = r.EphemeralOwner
	n.kind = r.Kind
	return r.NumChildren, nil
}

// link makes n a child of parent.
func (l *Loader) link(parent, n *node) {
	if ephemeralKind(parent.owner) == ephemeralNormal {
		l.misplaced = append(l.misplaced, n)
	}
	if parent.kids == nil {
		parent.kids = &kidList{list: make([]*node, 0, l.numChildren[parent])}
		l.parents = append(l.parents, parent)
	}
	parent.addChild(n)
}

func recordKey(r Record) string {
	if r.Type == RecordSession {
		return fmt.Sprintf("session %#x", r.Session)
	}
	return r.Path
}

// Finish links the records into a tree whose last zxid is lastZxid. It
// fails if a node's parent is missing or ephemeral, a child count or kind
// disagrees with the children found, or an ephemeral's session is missing.
// Of several faults, the one of the first path in byte order is reported,
// whatever the order of the records.
func (l *Loader) Finish(lastZxid int64) (*Tree, error) {
	t := l.t
	t.nodes = make(map[string]*node, len(l.all))
	var twice *node
	for _, n := range l.all {
		// One map operation: a path seen before leaves the count unchanged.
		before := len(t.nodes)
		t.nodes[n.path] = n
		if len(t.nodes) == before && (twice == nil || n.path < twice.path) {
			twice = n
		}
	}
	l.all = nil
	if twice != nil {
		return nil, fmt.Errorf("%w: node %q twice", ErrCorruptRecord, twice.path)
	}
	if t.nodes["/"] == nil {
		return nil, fmt.Errorf("%w: no root node", ErrCorruptRecord)
	}
	// Orphans sorted so that parents are linked before their children
	// are looked at, and the first missing parent is always the same.
	slices.SortFunc(l.orphans, byPath)
	var missing *node
	for _, n := range l.orphans {
		parent := t.nodes[Parent(n.path)]
		if parent == nil {
			if missing == nil {
				missing = n
			}
			continue
		}
		l.link(parent, n)
	}
	if len(l.misplaced) > 0 {
		n := slices.MinFunc(l.misplaced, byPath)
		if missing == nil || n.path < missing.path {
			return nil, fmt.Errorf("%w: %q is a child of an ephemeral node", ErrCorruptRecord, n.path)
		}
	}
	if missing != nil {
		return nil, fmt.Errorf("%w: parent of %q is missing", ErrCorruptRecord, missing.path)
	}
	// Only the nodes with children, stored or found, can disagree on them.
	var bad []*node
	for _, n := range l.parents {
		if int32(n.numChildren()) != l.numChildren[n] || n.kind != KindDir {
			bad = append(bad, n)
		}
	}
	for n, want := range l.numChildren {
		if int32(n.numChildren()) != want {
			bad = append(bad, n)
		}
	}
	for _, n := range l.ephemerals {
		s := t.sessions[n.owner]
		if s == nil {
			bad = append(bad, n)
			continue
		}
		if s.ephemerals == nil {
			s.ephemerals = make(map[string]struct{})
		}
		s.ephemerals[n.path] = struct{}{}
	}
	if len(bad) > 0 {
		n := slices.MinFunc(bad, byPath)
		if got, want := int32(n.numChildren()), l.numChildren[n]; got != want {
			return nil, fmt.Errorf("%w: %q has %d children, its record says %d", ErrCorruptRecord, n.path, got, want)
		}
		if n.numChildren() > 0 && n.kind != KindDir {
			return nil, fmt.Errorf("%w: %q has children but is not a directory", ErrCorruptRecord, n.path)
		}
		return nil, fmt.Errorf("%w: ephemeral %q belongs to missing session %#x", ErrCorruptRecord, n.path, n.owner)
	}
	t.lastZxid = lastZxid
	l.t = nil
	return t, nil
}

func byPath(a, b *node) int { return strings.Compare(a.path, b.path) }
