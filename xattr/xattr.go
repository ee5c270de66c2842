// Package xattr maps a znode's stat, ACL and kind to the extended attributes
// that the mount shows under user.zk.*, and parses the values that setfattr
// may write back. It is pure: the mount reads the node and applies the
// change that Set asks for.
package xattr

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"zkfs/tree"
)

// Prefix is the namespace of every attribute the mount shows. The user
// namespace is the one that unprivileged getfattr -d lists by default.
const Prefix = "user.zk."

// The attribute names.
const (
	Czxid          = Prefix + "czxid"
	Mzxid          = Prefix + "mzxid"
	Pzxid          = Prefix + "pzxid"
	Ctime          = Prefix + "ctime"
	Mtime          = Prefix + "mtime"
	Version        = Prefix + "version"
	Cversion       = Prefix + "cversion"
	Aversion       = Prefix + "aversion"
	EphemeralOwner = Prefix + "ephemeralOwner"
	DataLength     = Prefix + "dataLength"
	NumChildren    = Prefix + "numChildren"
	Stat           = Prefix + "stat"
	ACL            = Prefix + "acl"
	Kind           = Prefix + "kind"
	// Mode is the serving replica's role, as srvr reports it: standalone,
	// leader, follower, observer or read-only. read-only says that the
	// replica is cut off from the quorum and what the mount shows may be
	// stale.
	Mode = Prefix + "mode"
)

// names is the listing order: the stat fields in zkCli.sh's order, then the
// composite and writable attributes.
var names = []string{
	Czxid, Mzxid, Pzxid, Ctime, Mtime, Version, Cversion, Aversion,
	EphemeralOwner, DataLength, NumChildren, Stat, ACL, Kind, Mode,
}

// Errors of Get and Set. The mount maps them to errnos.
var (
	// ErrNoAttr reports a name that is not one of the node's attributes.
	ErrNoAttr = errors.New("xattr: no such attribute")
	// ErrReadOnly reports an attempt to change a read-only attribute.
	ErrReadOnly = errors.New("xattr: attribute is read-only")
	// ErrInvalid reports a value that does not parse.
	ErrInvalid = errors.New("xattr: invalid value")
)

// Node is what the attributes describe: one snapshot of a znode.
type Node struct {
	Stat tree.Stat
	ACL  []tree.ACL
	Kind tree.Kind
	// Mode is the replica's, not the node's: how far to trust the rest.
	Mode string
}

// Names returns every attribute name, in listing order.
func Names() []string {
	return append([]string(nil), names...)
}

// listed are the attributes listxattr(2) reports: only the ACL, which a
// copy should carry and can set. The stat attributes are read by name
// (getfattr -n user.zk.version, or user.zk.stat for all of them): listed,
// they made cp -a and mv print an error for each one they could not set on
// the copy, and rsync -X fail trying to remove them from its temporary
// files. user.zk.kind is set by name too; a copy's kind comes from mkdir.
var listed = []string{ACL}

// List returns the listed names as listxattr(2) wants them: each followed
// by a NUL.
func List() []byte {
	var b []byte
	for _, n := range listed {
		b = append(b, n...)
		b = append(b, 0)
	}
	return b
}

// Get returns the value of one attribute.
func Get(name string, n Node) ([]byte, error) {
	s := n.Stat
	var v string
	switch name {
	case Czxid:
		v = hex(s.Czxid)
	case Mzxid:
		v = hex(s.Mzxid)
	case Pzxid:
		v = hex(s.Pzxid)
	case Ctime:
		v = strconv.FormatInt(s.Ctime, 10)
	case Mtime:
		v = strconv.FormatInt(s.Mtime, 10)
	case Version:
		v = strconv.Itoa(int(s.Version))
	case Cversion:
		v = strconv.Itoa(int(s.Cversion))
	case Aversion:
		v = strconv.Itoa(int(s.Aversion))
	case EphemeralOwner:
		v = hex(s.EphemeralOwner)
	case DataLength:
		v = strconv.Itoa(int(s.DataLength))
	case NumChildren:
		v = strconv.Itoa(int(s.NumChildren))
	case Stat:
		v = FormatStat(s)
	case ACL:
		v = tree.FormatACL(n.ACL)
	case Kind:
		v = FormatKind(n.Kind)
	case Mode:
		v = n.Mode
	default:
		return nil, ErrNoAttr
	}
	return []byte(v), nil
}

// Change is what a Set asks the mount to do. At most one field is set; none
// means the value equals the current one and nothing needs to change.
type Change struct {
	ACL  []tree.ACL
	Kind *tree.Kind
}

// Set parses a value written to an attribute and returns the change it
// asks for. Writing a read-only attribute's current value is allowed and
// changes nothing, so that cp -a and rsync -X can copy attributes between
// nodes whose values happen to match.
func Set(name string, value []byte, n Node) (Change, error) {
	switch name {
	case ACL:
		acl, err := parseACL(string(value))
		if err != nil {
			return Change{}, err
		}
		if equalACL(acl, n.ACL) {
			return Change{}, nil
		}
		return Change{ACL: acl}, nil
	case Kind:
		k, err := ParseKind(string(value))
		if err != nil {
			return Change{}, err
		}
		if k == n.Kind {
			return Change{}, nil
		}
		return Change{Kind: &k}, nil
	}
	cur, err := Get(name, n)
	if err != nil {
		return Change{}, err
	}
	if string(cur) == string(value) {
		return Change{}, nil
	}
	return Change{}, ErrReadOnly
}

// FormatStat formats a stat as zkCli.sh's `get -s` prints it. Times are shown
// in UTC, where zkCli.sh uses the JVM's zone: the mount has no client zone.
func FormatStat(s tree.Stat) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cZxid = %s\n", hex(s.Czxid))
	fmt.Fprintf(&b, "ctime = %s\n", javaDate(s.Ctime))
	fmt.Fprintf(&b, "mZxid = %s\n", hex(s.Mzxid))
	fmt.Fprintf(&b, "mtime = %s\n", javaDate(s.Mtime))
	fmt.Fprintf(&b, "pZxid = %s\n", hex(s.Pzxid))
	fmt.Fprintf(&b, "cversion = %d\n", s.Cversion)
	fmt.Fprintf(&b, "dataVersion = %d\n", s.Version)
	fmt.Fprintf(&b, "aclVersion = %d\n", s.Aversion)
	fmt.Fprintf(&b, "ephemeralOwner = %s\n", hex(s.EphemeralOwner))
	fmt.Fprintf(&b, "dataLength = %d\n", s.DataLength)
	fmt.Fprintf(&b, "numChildren = %d\n", s.NumChildren)
	return b.String()
}

// javaDate imitates java.util.Date.toString, which zkCli.sh uses for times.
func javaDate(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("Mon Jan 02 15:04:05 MST 2006")
}

// hex formats zxids and session ids as zkCli.sh does: Long.toHexString,
// which shows negative values in two's complement.
func hex(v int64) string {
	return "0x" + strconv.FormatUint(uint64(v), 16)
}

// FormatKind returns "file" or "dir".
func FormatKind(k tree.Kind) string {
	if k == tree.KindDir {
		return "dir"
	}
	return "file"
}

// ParseKind parses "file" or "dir"; a trailing newline is accepted because
// `echo dir | setfattr` style tools add one.
func ParseKind(s string) (tree.Kind, error) {
	switch strings.TrimSuffix(s, "\n") {
	case "file":
		return tree.KindFile, nil
	case "dir":
		return tree.KindDir, nil
	}
	return 0, fmt.Errorf("%w: kind must be file or dir, not %q", ErrInvalid, s)
}

// parseACL reads an ACL value written with setfattr: zkCli.sh's syntax
// (tree.ParseACL), with the newline echo adds.
func parseACL(s string) ([]tree.ACL, error) {
	s = strings.TrimSuffix(s, "\n")
	if s == "" {
		return nil, fmt.Errorf("%w: empty ACL", ErrInvalid)
	}
	acl, err := tree.ParseACL(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return acl, nil
}

func equalACL(a, b []tree.ACL) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
