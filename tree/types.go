package tree

// Kind is zkfs's own metadata for a node, invisible to ZooKeeper clients: it
// decides whether the mount shows the node as a file or a directory.
type Kind uint8

// The node kinds.
const (
	KindFile Kind = 0
	KindDir  Kind = 1
)

// Mode is a ZooKeeper CreateMode, with ZooKeeper's numeric values.
type Mode int32

// The create modes, numbered as in ZooKeeper's CreateMode.
const (
	ModePersistent                  Mode = 0
	ModeEphemeral                   Mode = 1
	ModePersistentSequential        Mode = 2
	ModeEphemeralSequential         Mode = 3
	ModeContainer                   Mode = 4
	ModePersistentWithTTL           Mode = 5
	ModePersistentSequentialWithTTL Mode = 6
)

// Permission bits of an ACL entry, as in ZooKeeper's ZooDefs.Perms.
const (
	PermRead   int32 = 1
	PermWrite  int32 = 2
	PermCreate int32 = 4
	PermDelete int32 = 8
	PermAdmin  int32 = 16
	PermAll    int32 = 31
)

// ID is an authenticated identity or an ACL subject: a scheme and an id
// ("world", "anyone"; "digest", "user:hash"; "ip", "10.0.0.0/8").
type ID struct {
	Scheme string
	ID     string
}

// ACL is one access-control entry.
type ACL struct {
	Perms int32
	ID    ID
}

// OpenACL is ZooKeeper's OPEN_ACL_UNSAFE: everyone may do everything.
var OpenACL = []ACL{{Perms: PermAll, ID: ID{Scheme: "world", ID: "anyone"}}}

// Stat is a znode's stat structure, field for field as in ZooKeeper.
type Stat struct {
	Czxid          int64
	Mzxid          int64
	Ctime          int64
	Mtime          int64
	Version        int32
	Cversion       int32
	Aversion       int32
	EphemeralOwner int64
	DataLength     int32
	NumChildren    int32
	Pzxid          int64
}

// EventType is a watch event type, numbered as in ZooKeeper's Watcher.Event.EventType.
type EventType int32

// The event types.
const (
	EventNodeCreated         EventType = 1
	EventNodeDeleted         EventType = 2
	EventNodeDataChanged     EventType = 3
	EventNodeChildrenChanged EventType = 4
)

// String returns ZooKeeper's name for the event type.
func (t EventType) String() string {
	switch t {
	case EventNodeCreated:
		return "NodeCreated"
	case EventNodeDeleted:
		return "NodeDeleted"
	case EventNodeDataChanged:
		return "NodeDataChanged"
	case EventNodeChildrenChanged:
		return "NodeChildrenChanged"
	}
	return "Unknown"
}

// Event is one change produced by applying a command.
type Event struct {
	Type EventType
	Path string
	Zxid int64
	// ACL is the ACL of the node at Path when the event happened (for
	// NodeDeleted, the deleted node's), shared and not to be modified.
	// ZooKeeper 3.8.4 and later withhold a notification from a watcher
	// without READ on it; after a delete only the event still knows it.
	ACL []ACL
}

// Session is a client session as the tree records it.
type Session struct {
	ID       int64
	Timeout  int32 // negotiated timeout, milliseconds
	Password []byte
	// Owner is the client connection that last claimed the session
	// (ClaimSession), as ZooKeeper's session owner; 0 until one has.
	Owner int64
}
