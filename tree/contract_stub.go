package tree

// This file pins the tree's API so that the other packages can build against
// it while the implementation lands. Every body here is replaced by the real
// implementation in its own file; the file is then deleted.

// DefaultMaxDataSize is ZooKeeper's default limit on a node's data: 1 MiB.
const DefaultMaxDataSize = 1 << 20

// Config holds the tree's limits.
type Config struct {
	// MaxDataSize is the largest data a node may hold; 0 means DefaultMaxDataSize.
	MaxDataSize int
}

// Tree is the znode tree. It is not safe for concurrent use; the replication
// layer serialises access.
type Tree struct{}

// New returns a tree holding /, /zookeeper and /zookeeper/quota.
func New(cfg Config) *Tree { panic("tree: not implemented yet") }

// Apply applies one operation at h.Zxid and returns its result and events.
func (t *Tree) Apply(h Header, op Op) (Result, []Event) { panic("tree: not implemented yet") }

// Get returns a node's data and stat.
func (t *Tree) Get(path string) ([]byte, Stat, error) { panic("tree: not implemented yet") }

// Stat returns a node's stat.
func (t *Tree) Stat(path string) (Stat, error) { panic("tree: not implemented yet") }

// Children returns a node's child names, sorted, and its stat.
func (t *Tree) Children(path string) ([]string, Stat, error) { panic("tree: not implemented yet") }

// GetACL returns a node's ACL and stat.
func (t *Tree) GetACL(path string) ([]ACL, Stat, error) { panic("tree: not implemented yet") }

// Kind returns a node's kind.
func (t *Tree) Kind(path string) (Kind, error) { panic("tree: not implemented yet") }

// LastZxid returns the zxid of the last applied command.
func (t *Tree) LastZxid() int64 { panic("tree: not implemented yet") }

// RecordType tells what a Record describes.
type RecordType uint8

// The record types.
const (
	RecordNode    RecordType = 1
	RecordSession RecordType = 2
)

// Record is the durable form of one node or one session. Value is the
// tree's own versioned encoding; a nil Value means the node or session is gone.
type Record struct {
	Type    RecordType
	Path    string // for RecordNode
	Session int64  // for RecordSession
	Value   []byte
}

// TakeChanges returns the records changed since the previous call, in a
// deterministic order, and forgets them.
func (t *Tree) TakeChanges() []Record { panic("tree: not implemented yet") }

// Loader rebuilds a tree from its records, in any order.
type Loader struct{}

// NewLoader starts loading a tree.
func NewLoader(cfg Config) *Loader { panic("tree: not implemented yet") }

// Add adds one record; its Value is not retained.
func (l *Loader) Add(r Record) error { panic("tree: not implemented yet") }

// Finish links the records into a tree whose last zxid is lastZxid.
func (l *Loader) Finish(lastZxid int64) (*Tree, error) { panic("tree: not implemented yet") }
