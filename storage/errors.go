package storage

import "errors"

// The package's errors, matched with errors.Is.
var (
	// ErrInUse reports that another process (or another Store in this
	// process) holds the data directory.
	ErrInUse = errors.New("storage: data directory is in use by another process")
	// ErrLayoutVersion reports a database written with a key layout this
	// build does not understand.
	ErrLayoutVersion = errors.New("storage: unknown data layout version")
	// ErrCorrupt reports a key or value that does not decode.
	ErrCorrupt = errors.New("storage: corrupt data")
	// ErrBadPath reports a node path that cannot be stored.
	ErrBadPath = errors.New("storage: invalid node path")
	// ErrBadSnapshot reports a snapshot stream that is truncated, damaged or
	// of an unknown format. A Restore failing with it changed nothing.
	ErrBadSnapshot = errors.New("storage: invalid snapshot")
	// ErrSnapshotTooLarge reports a snapshot too large to restore in one
	// atomic batch. A Restore failing with it changed nothing.
	ErrSnapshotTooLarge = errors.New("storage: snapshot too large to restore")
)

// ErrKeyNotFound is returned by the StableStore methods for a missing key.
// Its text lacks the package prefix on purpose: hashicorp/raft recognises a
// missing key by comparing the error text with exactly "not found".
var ErrKeyNotFound = errors.New("not found")
