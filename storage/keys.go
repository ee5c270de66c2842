package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"zkfs/tree"
)

// This file owns the whole key layout of the database. Every key starts with
// a one-byte prefix naming its keyspace, so that each keyspace is one
// contiguous range: the Raft log can be truncated with one range deletion and
// the tree can be replaced wholesale by a restore without touching Raft's
// state. Never reuse or renumber a prefix; bump layoutVersion instead.
const (
	// prefixLog keys are followed by the big-endian uint64 Raft index, so that
	// byte order is index order and FirstIndex/LastIndex are one seek each.
	prefixLog byte = 0x01
	// prefixStable keys are followed by the raw StableStore key.
	prefixStable byte = 0x02
	// prefixMeta keys are followed by one of the meta names below.
	prefixMeta byte = 0x03
	// prefixNode keys are followed by the parent path, 0x00 and the child
	// name; the root is the bare prefix. See nodeKey.
	prefixNode byte = 0x04
	// prefixSession keys are followed by the big-endian session id.
	prefixSession byte = 0x05
)

// layoutVersion is the version of this key layout and of the value encodings
// stored under it. Open refuses a database written with another version
// rather than misreading it.
const layoutVersion uint32 = 1

// Meta keys.
var (
	metaLayoutKey  = []byte{prefixMeta, 'l', 'a', 'y', 'o', 'u', 't'}
	metaAppliedKey = []byte{prefixMeta, 'a', 'p', 'p', 'l', 'i', 'e', 'd'}
)

// prefixStart and prefixEnd bound the keyspace of one prefix for iterators
// and range deletions.
func prefixStart(p byte) []byte { return []byte{p} }
func prefixEnd(p byte) []byte   { return []byte{p + 1} }

// logKey is the key of the Raft log entry at index.
func logKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// decodeLogKey returns the index of a Raft log key.
func decodeLogKey(k []byte) (uint64, error) {
	if len(k) != 9 || k[0] != prefixLog {
		return 0, fmt.Errorf("%w: bad log key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

// stableKey is the key of a StableStore entry.
func stableKey(key []byte) []byte {
	k := make([]byte, 1+len(key))
	k[0] = prefixStable
	copy(k[1:], key)
	return k
}

// sessionKey is the key of a session record. The id is stored as its uint64
// bit pattern so that every int64 maps to a distinct fixed-width key.
func sessionKey(id int64) []byte {
	k := make([]byte, 9)
	k[0] = prefixSession
	binary.BigEndian.PutUint64(k[1:], uint64(id))
	return k
}

// decodeSessionKey returns the session id of a session key.
func decodeSessionKey(k []byte) (int64, error) {
	if len(k) != 9 || k[0] != prefixSession {
		return 0, fmt.Errorf("%w: bad session key %x", ErrCorrupt, k)
	}
	return int64(binary.BigEndian.Uint64(k[1:])), nil
}

// checkPath accepts the paths the tree accepts (tree.ValidatePath). The key
// encoding depends on part of that rule: a 0x00 inside a path would make the
// parent/child split ambiguous, and empty components or a trailing slash
// would give one node two keys.
func checkPath(path string) error {
	if err := tree.ValidatePath(path); err != nil {
		return fmt.Errorf("%w: %q", ErrBadPath, path)
	}
	return nil
}

// nodeKey is the key of the node at path: prefixNode, the parent's path,
// 0x00, the node's name. Because ZooKeeper paths cannot contain 0x00, the
// children of a node are exactly the keys starting with childrenPrefix of
// that node, so listing them is one range scan that sees neither
// grandchildren (their parent path is longer) nor the children of a sibling
// whose name extends this one's (/ab's children start "/ab\x00", not "/a\x00").
// The root has no parent and is the bare prefix.
func nodeKey(path string) ([]byte, error) {
	if err := checkPath(path); err != nil {
		return nil, err
	}
	if path == "/" {
		return []byte{prefixNode}, nil
	}
	parent, name := tree.Split(path)
	k := make([]byte, 0, 1+len(parent)+1+len(name))
	k = append(k, prefixNode)
	k = append(k, parent...)
	k = append(k, 0)
	k = append(k, name...)
	return k, nil
}

// childrenPrefix is the common prefix of the keys of parent's children.
func childrenPrefix(parent string) ([]byte, error) {
	if err := checkPath(parent); err != nil {
		return nil, err
	}
	k := make([]byte, 0, 1+len(parent)+1)
	k = append(k, prefixNode)
	k = append(k, parent...)
	return append(k, 0), nil
}

// decodeNodeKey returns the path of a node key.
func decodeNodeKey(k []byte) (string, error) {
	if len(k) == 0 || k[0] != prefixNode {
		return "", fmt.Errorf("%w: bad node key %x", ErrCorrupt, k)
	}
	if len(k) == 1 {
		return "/", nil
	}
	rest := k[1:]
	i := bytes.IndexByte(rest, 0)
	if i < 0 {
		return "", fmt.Errorf("%w: bad node key %x", ErrCorrupt, k)
	}
	parent, name := rest[:i], rest[i+1:]
	// One allocation for the path: loading a tree decodes a key per node.
	var b strings.Builder
	if len(parent) == 1 && parent[0] == '/' {
		b.Grow(1 + len(name))
	} else {
		b.Grow(len(parent) + 1 + len(name))
		b.Write(parent)
	}
	b.WriteByte('/')
	b.Write(name)
	path := b.String()
	if len(name) == 0 || bytes.IndexByte(name, '/') >= 0 || checkPath(path) != nil {
		return "", fmt.Errorf("%w: bad node key %x", ErrCorrupt, k)
	}
	return path, nil
}

// nodeName returns the last component of the path of a node key, without
// allocating the full path; Children uses it.
func nodeName(k []byte) ([]byte, bool) {
	for i := 1; i < len(k); i++ {
		if k[i] == 0 {
			return k[i+1:], true
		}
	}
	return nil, false
}

// prefixSuccessor is the smallest key greater than every key starting with
// p, used as an iterator's exclusive upper bound.
func prefixSuccessor(p []byte) []byte {
	s := append([]byte(nil), p...)
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] != 0xff {
			s[i]++
			return s[:i+1]
		}
	}
	return nil
}
