package tree

import "fmt"

// Apply applies one operation at h.Zxid and returns its result and events.
// A failed operation changes nothing but the last zxid, as a failed
// ZooKeeper transaction still consumes its zxid. Events are in the order the
// changes happened; for a create that is NodeCreated then the parent's
// NodeChildrenChanged, for a delete NodeDeleted then NodeChildrenChanged.
func (t *Tree) Apply(h Header, op Op) (Result, []Event) {
	t.lastZxid = h.Zxid
	t.events = nil
	var r Result
	if t.moved(h, op) {
		return Result{Err: ErrSessionMoved}, nil
	}
	switch op := op.(type) {
	case Create:
		r = t.applyCreate(h, op)
	case Delete:
		r = t.applyDelete(h, op)
	case SetData:
		r = t.applySetData(h, op)
	case SetACL:
		r = t.applySetACL(h, op)
	case Check:
		r = t.applyCheck(h, op)
	case Multi:
		r = t.applyMulti(h, op)
	case CreateSession:
		r = t.applyCreateSession(op)
	case CloseSession:
		r = t.applyCloseSession(h, op)
	case ClaimSession:
		r = t.applyClaimSession(op)
	case Reap:
		r = t.applyReap(h, op)
	case SetKind:
		r = t.applySetKind(h, op)
	default:
		r = Result{Err: ErrUnimplemented}
	}
	events := t.events
	t.events = nil
	if r.Err != nil {
		events = nil
	}
	return r, events
}

func (t *Tree) emit(typ EventType, n *node, zxid int64) {
	t.events = append(t.events, Event{Type: typ, Path: n.path, Zxid: zxid, ACL: n.acl.list})
}

// modeInfo reports whether a create mode is valid, and whether it is sequential,
// ephemeral or TTL.
func modeInfo(m Mode) (valid, sequential, ephemeral, ttl bool) {
	switch m {
	case ModePersistent, ModeContainer:
		return true, false, false, false
	case ModeEphemeral:
		return true, false, true, false
	case ModePersistentSequential:
		return true, true, false, false
	case ModeEphemeralSequential:
		return true, true, true, false
	case ModePersistentWithTTL:
		return true, false, false, true
	case ModePersistentSequentialWithTTL:
		return true, true, false, true
	}
	return false, false, false, false
}

// applyCreate follows the order of checks of ZooKeeper 3.8's
// PrepRequestProcessor, which decides which error a client sees when several
// apply: mode and TTL, session, path shape, ACL, parent, permission,
// sequence suffix, full path validation, existence, ephemeral parent.
func (t *Tree) applyCreate(h Header, op Create) Result {
	valid, sequential, ephemeral, withTTL := modeInfo(op.Mode)
	if !valid || op.Kind > KindDir {
		return Result{Err: ErrBadArguments}
	}
	if len(op.Data) > t.cfg.maxDataSize() {
		return Result{Err: ErrDataTooLarge}
	}
	if withTTL && (op.TTL <= 0 || op.TTL > MaxTTL) {
		return Result{Err: ErrBadArguments}
	}
	if ephemeral && t.sessions[h.Session] == nil {
		return Result{Err: ErrSessionExpired}
	}
	parentPath, _, ok := splitPath(op.Path)
	if !ok {
		return Result{Err: ErrInvalidPath}
	}
	acl, err := fixupACL(op.ACL, h.Identity)
	if err != nil {
		return Result{Err: err}
	}
	parent, err := t.lookup(parentPath)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(parent.acl.list, PermCreate, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	path := op.Path
	if sequential {
		path += fmt.Sprintf("%010d", parent.cversion)
	}
	if err := ValidatePath(path); err != nil {
		return Result{Err: err}
	}
	if t.nodes[path] != nil {
		return Result{Err: ErrNodeExists}
	}
	if ephemeralKind(parent.owner) == ephemeralNormal {
		return Result{Err: ErrNoChildrenForEphemerals}
	}

	var owner int64
	switch {
	case op.Mode == ModeContainer:
		owner = ContainerOwner
	case withTTL:
		owner = TTLOwner(op.TTL)
	case ephemeral:
		owner = h.Session
	}
	n := &node{path: path}
	n.data = cloneBytes(op.Data)
	n.czxid, n.mzxid, n.pzxid = h.Zxid, h.Zxid, h.Zxid
	n.ctime, n.mtime = h.Time, h.Time
	n.owner = owner
	n.kind = op.Kind
	t.insertNode(n, parent, acl)

	t.touch(parent)
	parent.cversion++
	parent.pzxid = h.Zxid
	parent.kind = KindDir

	t.emit(EventNodeCreated, n, h.Zxid)
	t.emit(EventNodeChildrenChanged, parent, h.Zxid)
	return Result{Path: path, Stat: n.stat()}
}

// applyDelete follows ZooKeeper: the path is only checked for a slash, a NUL
// and the system nodes; everything else about its shape shows up as NoNode.
func (t *Tree) applyDelete(h Header, op Delete) Result {
	parentPath, _, ok := splitPath(op.Path)
	if !ok || isSpecialPath(op.Path) {
		return Result{Err: ErrBadArguments}
	}
	parent, err := t.lookup(parentPath)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(parent.acl.list, PermDelete, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if op.Version != -1 && op.Version != n.version {
		return Result{Err: ErrBadVersion}
	}
	if n.numChildren() > 0 {
		return Result{Err: ErrNotEmpty}
	}
	t.deleteNode(h, n)
	return Result{}
}

// deleteNode removes a childless node and updates its parent. ZooKeeper's
// persisted cversion counts creates only, so the parent's reported cversion
// rises because numChildren drops.
func (t *Tree) deleteNode(h Header, n *node) {
	parent := t.parent(n)
	t.removeNode(n, parent)
	t.touch(parent)
	if h.Zxid > parent.pzxid {
		parent.pzxid = h.Zxid
	}
	t.emit(EventNodeDeleted, n, h.Zxid)
	t.emit(EventNodeChildrenChanged, parent, h.Zxid)
}

func (t *Tree) applySetData(h Header, op SetData) Result {
	if len(op.Data) > t.cfg.maxDataSize() {
		return Result{Err: ErrDataTooLarge}
	}
	if err := ValidatePath(op.Path); err != nil {
		return Result{Err: err}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(n.acl.list, PermWrite, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	if op.Version != -1 && op.Version != n.version {
		return Result{Err: ErrBadVersion}
	}
	t.touch(n)
	n.data = cloneBytes(op.Data)
	n.version++
	n.mzxid = h.Zxid
	n.mtime = h.Time
	t.emit(EventNodeDataChanged, n, h.Zxid)
	return Result{Stat: n.stat()}
}

// applySetACL emits no event: ZooKeeper has no watch for ACL changes.
func (t *Tree) applySetACL(h Header, op SetACL) Result {
	if err := ValidatePath(op.Path); err != nil {
		return Result{Err: err}
	}
	acl, err := fixupACL(op.ACL, h.Identity)
	if err != nil {
		return Result{Err: err}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(n.acl.list, PermAdmin, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	if op.Version != -1 && op.Version != n.aversion {
		return Result{Err: ErrBadVersion}
	}
	t.touch(n)
	old := n.acl
	n.acl = t.acls.acquire(acl)
	t.acls.release(old)
	n.aversion++
	return Result{Stat: n.stat()}
}

// applyCheck needs READ on the node, as ZooKeeper 3.8 does.
func (t *Tree) applyCheck(h Header, op Check) Result {
	if err := ValidatePath(op.Path); err != nil {
		return Result{Err: err}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(n.acl.list, PermRead, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	if op.Version != -1 && op.Version != n.version {
		return Result{Err: ErrBadVersion}
	}
	return Result{}
}

// applySetKind changes only zkfs's metadata, so the stat stays as it was and
// no event is emitted: a ZooKeeper watcher has nothing to learn, and the
// mount sees the SetKind command itself. It needs WRITE on the node, like
// any other change a client makes to the node itself.
func (t *Tree) applySetKind(h Header, op SetKind) Result {
	if op.Kind > KindDir {
		return Result{Err: ErrBadArguments}
	}
	if err := ValidatePath(op.Path); err != nil {
		return Result{Err: err}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if !permitted(n.acl.list, PermWrite, h.Identity) {
		return Result{Err: ErrNoAuth}
	}
	if op.Kind == KindFile && n.numChildren() > 0 {
		return Result{Err: ErrNotEmpty}
	}
	if n.kind != op.Kind {
		t.touch(n)
		n.kind = op.Kind
	}
	return Result{Stat: n.stat()}
}

// cloneBytes keeps nil and empty apart: ZooKeeper returns null for a node
// created without data and an empty array for one given empty data.
func cloneBytes(b []byte) []byte {
	if b == nil {
		return nil
	}
	if len(b) == 0 {
		return []byte{}
	}
	c := make([]byte, len(b))
	copy(c, b)
	return c
}
