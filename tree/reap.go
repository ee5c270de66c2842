package tree

import "sort"

// MaxTTL is the longest TTL ZooKeeper accepts, in milliseconds: 40 bits.
const MaxTTL = 1<<40 - 1

// ContainerOwner is the ephemeralOwner ZooKeeper stores for a container
// (EphemeralType.CONTAINER_EPHEMERAL_OWNER). Clients see 0 in the stat.
const ContainerOwner int64 = -1 << 63

// ttlOwnerBits marks a TTL node's ephemeralOwner; the low 40 bits hold the TTL.
const ttlOwnerBits = -1 << 56 // 0xFF00000000000000

type ephemeralType uint8

const (
	ephemeralVoid ephemeralType = iota // persistent
	ephemeralNormal
	ephemeralContainer
	ephemeralTTL
)

// ephemeralKind decodes a persisted ephemeralOwner as ZooKeeper's
// EphemeralType.get does with extended types enabled: the top byte 0xFF
// marks an extended type, and 0xFF0000... with the next two bytes zero is a
// TTL, while Long.MIN_VALUE is a container.
func ephemeralKind(owner int64) ephemeralType {
	switch {
	case owner == 0:
		return ephemeralVoid
	case owner == ContainerOwner:
		return ephemeralContainer
	case uint64(owner)>>56 == 0xff:
		return ephemeralTTL
	}
	return ephemeralNormal
}

// TTLOwner returns the ephemeralOwner ZooKeeper stores for a TTL node.
func TTLOwner(ttl int64) int64 {
	return ttlOwnerBits | ttl
}

func ttlOf(owner int64) int64 {
	return owner & MaxTTL
}

// reapable reports whether ZooKeeper's ContainerManager would pick n at
// time now: an empty container that once had a child (ZooKeeper's
// maxNeverUsedIntervalMs defaults to 0, which never reaps an unused one), or
// an empty TTL node untouched for longer than its TTL.
func reapable(n *node, now int64) bool {
	if n.numChildren() > 0 {
		return false
	}
	switch ephemeralKind(n.owner) {
	case ephemeralContainer:
		return n.cversion > 0
	case ephemeralTTL:
		ttl := ttlOf(n.owner)
		return ttl != 0 && now-n.mtime > ttl
	}
	return false
}

// Reapable returns the containers and TTL nodes that a Reap at time now
// (milliseconds) would delete, sorted.
func (t *Tree) Reapable(now int64) []string {
	var out []string
	for n := range t.containers {
		if reapable(n, now) {
			out = append(out, n.path)
		}
	}
	for n := range t.ttls {
		if reapable(n, now) {
			out = append(out, n.path)
		}
	}
	sort.Strings(out)
	return out
}

// applyReap deletes a container or TTL node if it is still eligible at the
// command's time. ZooKeeper's deleteContainer skips ACLs: the server, not a
// client, asks for it.
func (t *Tree) applyReap(h Header, op Reap) Result {
	if err := ValidatePath(op.Path); err != nil {
		return Result{Err: err}
	}
	n, err := t.lookup(op.Path)
	if err != nil {
		return Result{Err: err}
	}
	if n.numChildren() > 0 {
		return Result{Err: ErrNotEmpty}
	}
	if !reapable(n, h.Time) {
		return Result{Err: ErrBadArguments}
	}
	t.deleteNode(h, n)
	return Result{}
}
