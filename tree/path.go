package tree

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// PathError says why ZooKeeper's PathUtils.validatePath refuses a path, in
// the words ZooKeeper uses, so that the command line can print what zkCli.sh
// prints. It matches ErrInvalidPath (and so ErrBadArguments) with errors.Is.
type PathError struct {
	Path   string
	Reason string // "empty node name specified", "Path must start with / character", ...
	// Index is the position of the offending character in UTF-16 code
	// units, as Java counts it, or -1 when the reason concerns the whole
	// path (empty, not absolute, trailing slash).
	Index int
}

// Error returns zkCli.sh's wording of the refusal.
func (e *PathError) Error() string {
	if e.Index < 0 {
		return "tree: invalid path: " + e.Reason
	}
	return fmt.Sprintf("tree: invalid path string %q caused by %s @%d", e.Path, e.Reason, e.Index)
}

// Unwrap makes a PathError match ErrInvalidPath.
func (e *PathError) Unwrap() error { return ErrInvalidPath }

// ValidatePath reports whether ZooKeeper's PathUtils.validatePath would accept
// path, returning a *PathError (which matches ErrInvalidPath) if not. The
// checks run on UTF-16 code units in Java, so characters outside the Basic
// Multilingual Plane (surrogate pairs) and malformed UTF-8 (decoded to U+FFFD
// by the server) are rejected too.
func ValidatePath(path string) error {
	switch {
	case path == "":
		return pathError(path, "Path length must be > 0", -1)
	case path[0] != '/':
		return pathError(path, "Path must start with / character", -1)
	case len(path) == 1:
		return nil
	case path[len(path)-1] == '/':
		return pathError(path, "Path must not end with / character", -1)
	}
	// Only ASCII characters take part in the neighbour checks, so a byte
	// index is as good as Java's char index for them. Every character
	// before a refused one is in the Basic Multilingual Plane, one UTF-16
	// unit, so the rune count is Java's index. Loading a tree validates
	// every path, so the loop stays lean: the error is built only on failure.
	last := rune('/')
	for i, units := 1, 1; i < len(path); units++ {
		c, size := rune(path[i]), 1
		if c >= utf8.RuneSelf {
			c, size = utf8.DecodeRuneInString(path[i:])
		}
		switch {
		case c == 0:
			return pathError(path, "null character not allowed", units)
		case c == '/' && last == '/':
			return pathError(path, "empty node name specified", units)
		case c == '.' && last == '.':
			if path[i-2] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return pathError(path, "relative paths not allowed", units)
			}
		case c == '.':
			if path[i-1] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return pathError(path, "relative paths not allowed", units)
			}
		case invalidPathRune(c):
			return pathError(path, "invalid character", units)
		}
		last = c
		i += size
	}
	return nil
}

func pathError(path, reason string, index int) error {
	return &PathError{Path: path, Reason: reason, Index: index}
}

func invalidPathRune(c rune) bool {
	return c > 0 && c <= 0x1f ||
		c >= 0x7f && c <= 0x9f ||
		c >= 0xd800 && c <= 0xf8ff ||
		c >= 0xfff0 // U+FFF0..U+FFFF, and everything that Java holds as a surrogate pair
}

// Parent returns the parent of a valid path: "/" for "/" and for the
// root's children.
func Parent(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// Name returns the last name of a valid path ("" for "/").
func Name(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// Split returns Parent(path) and Name(path).
func Split(path string) (parent, name string) {
	return Parent(path), Name(path)
}

// Join returns the path of the child name of parent.
func Join(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// splitPath returns the parent path and the last name of an absolute path the
// way ZooKeeper's request processor does (everything before the last slash),
// so "/a" and "/" both have parent "/". ok is false when the path has
// no slash or holds a NUL, which ZooKeeper rejects before anything else.
// Unlike Split it takes paths not yet validated.
func splitPath(path string) (parent, name string, ok bool) {
	i := strings.LastIndexByte(path, '/')
	if i < 0 || strings.IndexByte(path, 0) >= 0 {
		return "", "", false
	}
	parent = path[:i]
	if parent == "" {
		// ZooKeeper keys the root as "" as well as "/".
		parent = "/"
	}
	return parent, path[i+1:], true
}

// isSpecialPath reports the nodes that ZooKeeper refuses to delete.
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
