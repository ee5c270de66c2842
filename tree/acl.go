package tree

import (
	"crypto/sha1"
	"encoding/base64"
	"strconv"
	"strings"
)

// fixupACL validates an ACL list the way ZooKeeper's PrepRequestProcessor
// does on create and setACL: duplicates go, world:anyone stays, "auth"
// expands to the caller's authenticated ids, and every other entry must name
// a known scheme with a well-formed id.
func fixupACL(acl []ACL, id Identity) ([]ACL, error) {
	if len(acl) == 1 && acl[0].ID.Scheme == "world" && acl[0].ID.ID == "anyone" {
		return acl, nil // the common case, and nothing to fix
	}
	uniq := make([]ACL, 0, len(acl))
	for _, a := range acl {
		dup := false
		for _, u := range uniq {
			if u == a {
				dup = true
				break
			}
		}
		if !dup {
			uniq = append(uniq, a)
		}
	}
	if len(uniq) == 0 {
		return nil, ErrInvalidACL
	}
	out := make([]ACL, 0, len(uniq))
	for _, a := range uniq {
		switch {
		case a.ID.Scheme == "world" && a.ID.ID == "anyone":
			out = append(out, a)
		case a.ID.Scheme == "auth":
			expanded := false
			for _, cid := range id.IDs {
				if authenticatedScheme(cid.Scheme) {
					out = append(out, ACL{Perms: a.Perms, ID: cid})
					expanded = true
				}
			}
			if !expanded {
				return nil, ErrInvalidACL
			}
		case a.ID.Scheme == "digest":
			if !validDigestID(a.ID.ID) {
				return nil, ErrInvalidACL
			}
			out = append(out, a)
		case a.ID.Scheme == "ip":
			if !validIPExpr(a.ID.ID) {
				return nil, ErrInvalidACL
			}
			out = append(out, a)
		case a.ID.Scheme == "x509" && a.ID.ID != "":
			// A certificate subject (X509AuthenticationProvider, which
			// checks no format).
			out = append(out, a)
		default:
			return nil, ErrInvalidACL
		}
	}
	return out, nil
}

// authenticatedScheme tells which of a caller's ids an "auth" ACL entry
// expands to: ZooKeeper takes those whose provider says isAuthenticated, which
// excludes ip, and skips schemes without a provider (world, super).
func authenticatedScheme(scheme string) bool {
	switch scheme {
	case "world", "ip", "super":
		return false
	}
	return true
}

// DigestID returns the digest ACL id of the credentials "user:password", as
// ZooKeeper's DigestAuthenticationProvider.generateDigest computes it: the
// user name, a colon, and the base64 SHA-1 of the whole string. A string
// without a colon is hashed whole, as ZooKeeper does.
func DigestID(userPassword string) string {
	user, _, _ := strings.Cut(userPassword, ":")
	sum := sha1.Sum([]byte(userPassword))
	return user + ":" + base64.StdEncoding.EncodeToString(sum[:])
}

// validDigestID mirrors DigestAuthenticationProvider.isValid: Java's
// id.split(":") must give exactly two parts, and Java drops trailing empty
// parts, so "u:h:" is accepted while "u:" is not.
func validDigestID(id string) bool {
	parts := strings.Split(id, ":")
	if id != "" {
		for len(parts) > 0 && parts[len(parts)-1] == "" {
			parts = parts[:len(parts)-1]
		}
	}
	return len(parts) == 2
}

// validIPExpr mirrors IPAuthenticationProvider.isValid in ZooKeeper 3.8,
// which only knows IPv4: "a.b.c.d" with an optional "/bits".
func validIPExpr(expr string) bool {
	addr, bits, ok := parseIPExpr(expr)
	return ok && addr != nil && bits >= 0
}

// parseIPExpr splits "addr[/bits]"; bits is 32 when absent.
func parseIPExpr(expr string) (addr []byte, bits int, ok bool) {
	a, b, hasBits := strings.Cut(expr, "/")
	addr = parseIPv4(a)
	if addr == nil {
		return nil, 0, false
	}
	bits = 32
	if hasBits {
		n, err := parseJavaInt(b)
		if err != nil || n < 0 || n > 32 {
			return nil, 0, false
		}
		bits = n
	}
	return addr, bits, true
}

// parseIPv4 parses four dot-separated decimal bytes as Java's
// Integer.parseInt does (a leading sign and leading zeros are accepted).
func parseIPv4(s string) []byte {
	parts := strings.Split(s, ".")
	if len(parts) != 4 {
		return nil
	}
	b := make([]byte, 4)
	for i, p := range parts {
		n, err := parseJavaInt(p)
		if err != nil || n < 0 || n > 255 {
			return nil
		}
		b[i] = byte(n)
	}
	return b
}

// parseJavaInt accepts what Java's Integer.parseInt accepts for ASCII input:
// an optional sign followed by decimal digits.
func parseJavaInt(s string) (int, error) {
	if s == "" || s == "+" || s == "-" {
		return 0, strconv.ErrSyntax
	}
	digits := s
	if s[0] == '+' || s[0] == '-' {
		digits = s[1:]
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, strconv.ErrSyntax
		}
	}
	n, err := strconv.ParseInt(s, 10, 32)
	return int(n), err
}

// maskIPv4 clears every bit after the first bits.
func maskIPv4(b []byte, bits int) {
	for i := range b {
		switch {
		case bits >= 8:
			bits -= 8
		case bits <= 0:
			b[i] = 0
		default:
			b[i] &= ^byte(0xff >> bits)
			bits = 0
		}
	}
}

// ipMatches mirrors IPAuthenticationProvider.matches: the client address,
// masked like the ACL's address, must equal it.
func ipMatches(clientAddr, expr string) bool {
	want, bits, ok := parseIPExpr(expr)
	if !ok {
		return false
	}
	got := parseIPv4(clientAddr)
	if got == nil {
		return false
	}
	maskIPv4(want, bits)
	maskIPv4(got, bits)
	return string(want) == string(got)
}

// permitted mirrors ZooKeeperServer.checkACL: super and empty ACLs pass,
// world:anyone grants to everyone, digest and x509 need an equal id and ip
// a matching address.
func permitted(acl []ACL, perm int32, id Identity) bool {
	if id.Super || len(acl) == 0 {
		return true
	}
	for _, cid := range id.IDs {
		if cid.Scheme == "super" {
			return true
		}
	}
	for _, a := range acl {
		if a.Perms&perm == 0 {
			continue
		}
		if a.ID.Scheme == "world" && a.ID.ID == "anyone" {
			return true
		}
		for _, cid := range id.IDs {
			if cid.Scheme != a.ID.Scheme {
				continue
			}
			switch a.ID.Scheme {
			case "ip":
				if ipMatches(cid.ID, a.ID.ID) {
					return true
				}
			case "digest", "x509":
				if cid.ID == a.ID.ID {
					return true
				}
			}
		}
	}
	return false
}

// CheckPerm reports whether id may perform perm (one of the Perm bits) on the
// node at path, for the read paths that the wire layer and the mount serve
// without going through Apply. It returns ErrNoNode or ErrNoAuth.
func (t *Tree) CheckPerm(path string, perm int32, id Identity) error {
	n := t.nodes[path]
	if n == nil {
		return ErrNoNode
	}
	if !permitted(n.acl.list, perm, id) {
		return ErrNoAuth
	}
	return nil
}

// aclEntry is one distinct ACL list shared by every node that uses it, as
// ZooKeeper's ReferenceCountedACLCache does: most trees use a handful of ACLs,
// and a slice per node would dominate the memory of small nodes.
type aclEntry struct {
	list []ACL
	key  string
	refs int
}

// aclCache interns ACL lists.
type aclCache map[string]*aclEntry

// acquire returns the shared entry for list and takes a reference.
func (c aclCache) acquire(list []ACL) *aclEntry {
	var buf [64]byte
	key := AppendACL(buf[:0], list)
	e := c[string(key)] // no allocation: the compiler borrows key's bytes
	if e == nil {
		cp := make([]ACL, len(list))
		copy(cp, list)
		e = &aclEntry{list: cp, key: string(key)}
		c[e.key] = e
	}
	e.refs++
	return e
}

// acquireEncoded returns the shared entry whose list encodes as enc, with a
// reference taken, or nil if there is none. The key is the canonical
// encoding of a valid list, so a hit needs no decoding nor validating.
func (c aclCache) acquireEncoded(enc []byte) *aclEntry {
	e := c[string(enc)]
	if e != nil {
		e.refs++
	}
	return e
}

// retain takes another reference on an entry, re-adding it if the last
// reference was dropped meanwhile (a rolled-back multi does this).
func (c aclCache) retain(e *aclEntry) {
	if e.refs == 0 {
		c[e.key] = e
	}
	e.refs++
}

// release drops a reference.
func (c aclCache) release(e *aclEntry) {
	e.refs--
	if e.refs == 0 {
		delete(c, e.key)
	}
}

// GetACLAs returns a node's ACL as ZooKeeper 3.8 answers a client's getACL:
// the caller needs READ or ADMIN, and without ADMIN the digest entries show
// "user:x" instead of the password hash (RedactACL). The mount's
// user.zk.acl uses it too, so that no interface shows more.
func (t *Tree) GetACLAs(path string, id Identity) ([]ACL, Stat, error) {
	n, err := t.lookup(path)
	if err != nil {
		return nil, Stat{}, err
	}
	if !permitted(n.acl.list, PermRead|PermAdmin, id) {
		return nil, Stat{}, ErrNoAuth
	}
	if permitted(n.acl.list, PermAdmin, id) {
		return n.acl.list, n.stat(), nil
	}
	return RedactACL(n.acl.list), n.stat(), nil
}
