package tree

// Header is the part of every command that is not the operation itself. The
// replication layer fills it: Zxid is the Raft log index, Time is the
// leader's clock in milliseconds since the epoch.
type Header struct {
	Zxid     int64
	Time     int64
	Session  int64    // the session issuing the command; 0 for the server itself
	Identity Identity // the caller's identities, for ACL checks
	// Owner is the client connection that sent the command, 0 for the
	// server's own commands; a connection that no longer owns the
	// session gets ErrSessionMoved.
	Owner int64
}

// Identity is what a caller has authenticated as.
type Identity struct {
	// Super bypasses every ACL check, as ZooKeeper's superDigest does.
	Super bool
	// IDs are the caller's authenticated ids, including "ip:<addr>" for
	// the address the client connected from. world:anyone is implied.
	IDs []ID
}

// Op is one operation. The concrete types are the structs below.
type Op interface{ isOp() }

// Create creates a node. Kind is zkfs's metadata (the mount's mkdir passes
// KindDir); ZooKeeper clients always create files. TTL is in milliseconds and
// only used with the TTL modes.
type Create struct {
	Path string
	Data []byte
	ACL  []ACL
	Mode Mode
	TTL  int64
	Kind Kind
}

// Delete deletes a node; Version -1 matches any version.
type Delete struct {
	Path    string
	Version int32
}

// SetData replaces a node's data; Version -1 matches any version.
type SetData struct {
	Path    string
	Data    []byte
	Version int32
}

// SetACL replaces a node's ACL; Version is the expected aversion, -1 for any.
type SetACL struct {
	Path    string
	ACL     []ACL
	Version int32
}

// Check checks a node's version; Version -1 only checks existence.
type Check struct {
	Path    string
	Version int32
}

// Multi applies its operations all or nothing. Its operations are Create,
// Delete, SetData and Check.
type Multi struct {
	Ops []Op
}

// CreateSession registers a session. The leader picks the id and password.
type CreateSession struct {
	ID       int64
	Timeout  int32
	Password []byte
}

// CloseSession ends a session and deletes its ephemeral nodes.
type CloseSession struct {
	ID int64
}

// ClaimSession makes a client connection (Owner, a token its server gives
// it) the owner of a session it resumed: from then on the writes of any
// other connection of the session fail with ErrSessionMoved, on every
// replica and after any leader change, because the claim is in the log.
type ClaimSession struct {
	ID    int64
	Owner int64
}

// Reap deletes a container whose last child is gone, or a TTL node whose TTL
// has passed without children. The replication layer proposes it from a timer;
// the tree re-checks eligibility at apply time, so a stale Reap is harmless
// and fails with ErrNotEmpty or ErrBadArguments and changes nothing.
type Reap struct {
	Path string
}

// SetKind converts a node between file and directory. A directory becomes a
// file only when it has no children.
type SetKind struct {
	Path string
	Kind Kind
}

func (Create) isOp()        {}
func (Delete) isOp()        {}
func (SetData) isOp()       {}
func (SetACL) isOp()        {}
func (Check) isOp()         {}
func (Multi) isOp()         {}
func (CreateSession) isOp() {}
func (CloseSession) isOp()  {}
func (ClaimSession) isOp()  {}
func (Reap) isOp()          {}
func (SetKind) isOp()       {}

// Result is the outcome of one applied operation.
type Result struct {
	// Err is nil or one of the package's sentinel errors.
	Err error
	// Path is the created node's path (with its sequence suffix).
	Path string
	// Stat is the node's stat after the operation, for Create, SetData,
	// SetACL and SetKind.
	Stat Stat
	// Multi holds the per-operation results of a Multi, in order.
	Multi []Result
}
