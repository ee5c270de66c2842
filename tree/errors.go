package tree

import (
	"errors"
	"fmt"
)

// The tree's errors. Each corresponds to exactly one ZooKeeper error code, so
// that the wire layer can map them in one place; the mount maps them to errnos.
var (
	// ErrNoNode is ZooKeeper's NoNode (-101).
	ErrNoNode = errors.New("tree: node does not exist")
	// ErrNodeExists is ZooKeeper's NodeExists (-110).
	ErrNodeExists = errors.New("tree: node already exists")
	// ErrNotEmpty is ZooKeeper's NotEmpty (-111).
	ErrNotEmpty = errors.New("tree: node has children")
	// ErrBadVersion is ZooKeeper's BadVersion (-103).
	ErrBadVersion = errors.New("tree: version does not match")
	// ErrNoChildrenForEphemerals is ZooKeeper's NoChildrenForEphemerals (-108).
	ErrNoChildrenForEphemerals = errors.New("tree: ephemeral nodes may not have children")
	// ErrBadArguments is ZooKeeper's BadArguments (-8).
	ErrBadArguments = errors.New("tree: bad arguments")
	// ErrInvalidACL is ZooKeeper's InvalidACL (-114).
	ErrInvalidACL = errors.New("tree: invalid ACL")
	// ErrNoAuth is ZooKeeper's NoAuth (-102).
	ErrNoAuth = errors.New("tree: not authorized")
	// ErrSessionExpired is ZooKeeper's SessionExpired (-112).
	ErrSessionExpired = errors.New("tree: session expired")
	// ErrRuntimeInconsistency is ZooKeeper's RuntimeInconsistency (-2); a
	// failed multi reports it for the operations after the failing one.
	ErrRuntimeInconsistency = errors.New("tree: runtime inconsistency")
	// ErrUnimplemented is ZooKeeper's Unimplemented (-6).
	ErrUnimplemented = errors.New("tree: unimplemented")
	// ErrSessionMoved is ZooKeeper's SessionMoved (-118): the write came
	// from a connection that no longer owns its session (ClaimSession).
	// It is not in the table of numbered errors: the peer stream carries
	// it as replication's own code, as it did before the tree checked it.
	ErrSessionMoved = errors.New("tree: session moved to another connection")
)

// Refinements of ErrBadArguments. They match ErrBadArguments with errors.Is,
// so ZooKeeper clients see BadArguments, while the mount can tell them apart
// (EINVAL for a bad path, EFBIG for oversized data).
var (
	// ErrInvalidPath reports a path that ZooKeeper's PathUtils would reject.
	ErrInvalidPath = fmt.Errorf("tree: invalid path: %w", ErrBadArguments)
	// ErrDataTooLarge reports data over the configured size limit.
	ErrDataTooLarge = fmt.Errorf("tree: data exceeds the size limit: %w", ErrBadArguments)
)
