package tree

import (
	"fmt"
	"slices"
	"sort"
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

// Loader rebuilds a tree from its records, in any order.
type Loader struct {
	t *Tree
	// numChildren holds the stored child counts that are not zero, to be
	// checked once every node is in.
	numChildren map[*node]int32
	err         error
}

// NewLoader starts loading a tree.
func NewLoader(cfg Config) *Loader {
	return &Loader{t: newEmpty(cfg), numChildren: make(map[*node]int32)}
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
		if l.t.nodes[r.Path] != nil {
			return fmt.Errorf("%w: node %q twice", ErrCorruptRecord, r.Path)
		}
		nr, err := DecodeNode(r.Value)
		if err != nil {
			return fmt.Errorf("node %q: %w", r.Path, err)
		}
		n := &node{path: r.Path}
		n.data = nr.Data
		n.acl = l.t.acls.acquire(nr.ACL)
		n.czxid, n.mzxid, n.pzxid = nr.Czxid, nr.Mzxid, nr.Pzxid
		n.ctime, n.mtime = nr.Ctime, nr.Mtime
		n.version, n.cversion, n.aversion = nr.Version, nr.Cversion, nr.Aversion
		n.owner = nr.EphemeralOwner
		n.kind = nr.Kind
		l.t.nodes[r.Path] = n
		if nr.NumChildren > 0 {
			l.numChildren[n] = nr.NumChildren
		}
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

func recordKey(r Record) string {
	if r.Type == RecordSession {
		return fmt.Sprintf("session %#x", r.Session)
	}
	return r.Path
}

// Finish links the records into a tree whose last zxid is lastZxid. It
// fails if a node's parent is missing or ephemeral, a child count or kind
// disagrees with the children found, or an ephemeral's session is missing.
func (l *Loader) Finish(lastZxid int64) (*Tree, error) {
	t := l.t
	if t.nodes["/"] == nil {
		return nil, fmt.Errorf("%w: no root node", ErrCorruptRecord)
	}
	// Sorted, so that the error reported for a broken store is always the same.
	paths := make([]string, 0, len(t.nodes))
	for p := range t.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		if p == "/" {
			continue
		}
		n := t.nodes[p]
		parent := t.nodes[parentOf(p)]
		if parent == nil {
			return nil, fmt.Errorf("%w: parent of %q is missing", ErrCorruptRecord, p)
		}
		if ephemeralKind(parent.owner) == ephemeralNormal {
			return nil, fmt.Errorf("%w: %q is a child of an ephemeral node", ErrCorruptRecord, p)
		}
		if parent.kids == nil {
			parent.kids = &kidList{list: make([]*node, 0, l.numChildren[parent])}
		}
		parent.addChild(n)
	}
	for _, p := range paths {
		n := t.nodes[p]
		if got, want := int32(n.numChildren()), l.numChildren[n]; got != want {
			return nil, fmt.Errorf("%w: %q has %d children, its record says %d", ErrCorruptRecord, p, got, want)
		}
		if n.numChildren() > 0 && n.kind != KindDir {
			return nil, fmt.Errorf("%w: %q has children but is not a directory", ErrCorruptRecord, p)
		}
		switch ephemeralKind(n.owner) {
		case ephemeralNormal:
			s := t.sessions[n.owner]
			if s == nil {
				return nil, fmt.Errorf("%w: ephemeral %q belongs to missing session %#x", ErrCorruptRecord, p, n.owner)
			}
			if s.ephemerals == nil {
				s.ephemerals = make(map[string]struct{})
			}
			s.ephemerals[p] = struct{}{}
		case ephemeralContainer:
			t.containers[n] = struct{}{}
		case ephemeralTTL:
			t.ttls[n] = struct{}{}
		}
	}
	t.lastZxid = lastZxid
	l.t = nil
	return t, nil
}
