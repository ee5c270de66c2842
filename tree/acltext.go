package tree

import (
	"fmt"
	"strings"
)

// permLetters are zkCli.sh's permission letters in its printing order.
var permLetters = []struct {
	letter byte
	perm   int32
}{
	{'c', PermCreate},
	{'d', PermDelete},
	{'r', PermRead},
	{'w', PermWrite},
	{'a', PermAdmin},
}

// ACLTextError reports ACL text that does not parse: an entry that is not
// scheme:id:perms, or an unknown permission letter. It matches ErrInvalidACL
// with errors.Is.
type ACLTextError struct {
	Entry  string // the entry at fault
	Letter byte   // the unknown permission letter, 0 for a malformed entry
}

// Error says what is wrong with the entry.
func (e *ACLTextError) Error() string {
	if e.Letter != 0 {
		return fmt.Sprintf("tree: unknown permission %q in ACL entry %q", e.Letter, e.Entry)
	}
	return fmt.Sprintf("tree: ACL entry %q is not scheme:id:perms", e.Entry)
}

// Unwrap makes an ACLTextError match ErrInvalidACL.
func (e *ACLTextError) Unwrap() error { return ErrInvalidACL }

// FormatPerms returns the permission letters of a mask in zkCli.sh's order,
// as "cdrwa".
func FormatPerms(perms int32) string {
	b := make([]byte, 0, len(permLetters))
	for _, l := range permLetters {
		if perms&l.perm != 0 {
			b = append(b, l.letter)
		}
	}
	return string(b)
}

// ParsePerms reads permission letters in any order. Unlike zkCli.sh, which
// warns and drops an unknown letter, it refuses one: a typo must not
// silently grant less (or nothing).
func ParsePerms(s string) (int32, error) {
	perms, bad := parsePerms(s)
	if bad != 0 {
		return 0, &ACLTextError{Entry: s, Letter: bad}
	}
	return perms, nil
}

// parsePerms returns the mask of s, or the first letter it does not know.
func parsePerms(s string) (perms int32, bad byte) {
	for i := 0; i < len(s); i++ {
		found := false
		for _, l := range permLetters {
			if s[i] == l.letter {
				perms |= l.perm
				found = true
			}
		}
		if !found {
			return 0, s[i]
		}
	}
	return perms, 0
}

// FormatACL formats an ACL in zkCli.sh's setAcl syntax: entries
// scheme:id:perms separated by commas.
func FormatACL(acl []ACL) string {
	parts := make([]string, len(acl))
	for i, a := range acl {
		parts[i] = a.ID.Scheme + ":" + a.ID.ID + ":" + FormatPerms(a.Perms)
	}
	return strings.Join(parts, ",")
}

// ParseACL reads zkCli.sh's ACL syntax: comma-separated scheme:id:perms
// entries. The id is everything between the first and the last colon, so
// digest ids (user:hash) and IPv6 addresses need no quoting. Whether a
// scheme and id are acceptable is decided when the ACL is applied, as for
// ZooKeeper's setAcl.
func ParseACL(s string) ([]ACL, error) {
	var acl []ACL
	for _, entry := range strings.Split(s, ",") {
		first := strings.IndexByte(entry, ':')
		last := strings.LastIndexByte(entry, ':')
		if first < 0 || first == last {
			return nil, &ACLTextError{Entry: entry}
		}
		perms, bad := parsePerms(entry[last+1:])
		if bad != 0 {
			return nil, &ACLTextError{Entry: entry, Letter: bad}
		}
		acl = append(acl, ACL{Perms: perms, ID: ID{Scheme: entry[:first], ID: entry[first+1 : last]}})
	}
	return acl, nil
}
