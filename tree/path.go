package tree

import (
	"strings"
	"unicode/utf8"
)

// ValidatePath reports whether ZooKeeper's PathUtils.validatePath would accept
// path, returning ErrInvalidPath if not. The checks run on UTF-16 code units in
// Java, so characters outside the Basic Multilingual Plane (surrogate pairs)
// and malformed UTF-8 (decoded to U+FFFD by the server) are rejected too.
func ValidatePath(path string) error {
	if path == "" || path[0] != '/' {
		return ErrInvalidPath
	}
	if len(path) == 1 {
		return nil
	}
	if path[len(path)-1] == '/' {
		return ErrInvalidPath
	}
	// Only ASCII characters take part in the neighbour checks, so a byte
	// index is as good as Java's char index for them.
	last := rune('/')
	for i := 1; i < len(path); {
		c, size := utf8.DecodeRuneInString(path[i:])
		switch {
		case c == 0:
			return ErrInvalidPath
		case c == '/' && last == '/':
			return ErrInvalidPath
		case c == '.' && last == '.':
			if path[i-2] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return ErrInvalidPath
			}
		case c == '.':
			if path[i-1] == '/' && (i+1 == len(path) || path[i+1] == '/') {
				return ErrInvalidPath
			}
		case invalidPathRune(c):
			return ErrInvalidPath
		}
		last = c
		i += size
	}
	return nil
}

func invalidPathRune(c rune) bool {
	return c > 0 && c <= 0x1f ||
		c >= 0x7f && c <= 0x9f ||
		c >= 0xd800 && c <= 0xf8ff ||
		c >= 0xfff0 // U+FFF0..U+FFFF, and everything that Java holds as a surrogate pair
}

// splitPath returns the parent path and the last name of an absolute path the
// way ZooKeeper's request processor does (everything before the last slash),
// so "/a" and "/" both have parent "/". ok is false when the path has
// no slash or holds a NUL, which ZooKeeper rejects before anything else.
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

// parentOf returns the parent of a valid path other than "/".
func parentOf(path string) string {
	i := strings.LastIndexByte(path, '/')
	if i <= 0 {
		return "/"
	}
	return path[:i]
}

// nameOf returns the last name of a valid path.
func nameOf(path string) string {
	return path[strings.LastIndexByte(path, '/')+1:]
}

// isSpecialPath reports the nodes that ZooKeeper refuses to delete.
func isSpecialPath(path string) bool {
	switch path {
	case "/", "/zookeeper", "/zookeeper/quota", "/zookeeper/config":
		return true
	}
	return false
}
