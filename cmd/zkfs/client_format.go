package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
)

// javaDate is the layout of Java's Date.toString, which zkCli.sh uses for
// ctime and mtime, in the local time zone as the JVM does.
const javaDate = "Mon Jan 02 15:04:05 MST 2006"

// writeStat prints a stat block as zkCli.sh does. Zxids and the session id
// are printed as Java's Long.toHexString prints them: lower case, no
// padding, two's complement for negative values.
func writeStat(w io.Writer, s *zk.Stat) {
	hex := func(v int64) string { return "0x" + strconv.FormatUint(uint64(v), 16) }
	date := func(ms int64) string { return time.UnixMilli(ms).Format(javaDate) }
	fmt.Fprintf(w, "cZxid = %s\n", hex(s.Czxid))
	fmt.Fprintf(w, "ctime = %s\n", date(s.Ctime))
	fmt.Fprintf(w, "mZxid = %s\n", hex(s.Mzxid))
	fmt.Fprintf(w, "mtime = %s\n", date(s.Mtime))
	fmt.Fprintf(w, "pZxid = %s\n", hex(s.Pzxid))
	fmt.Fprintf(w, "cversion = %d\n", s.Cversion)
	fmt.Fprintf(w, "dataVersion = %d\n", s.Version)
	fmt.Fprintf(w, "aclVersion = %d\n", s.Aversion)
	fmt.Fprintf(w, "ephemeralOwner = %s\n", hex(s.EphemeralOwner))
	fmt.Fprintf(w, "dataLength = %d\n", s.DataLength)
	fmt.Fprintf(w, "numChildren = %d\n", s.NumChildren)
}

// writeList prints names as Java prints a List: "[a, b]".
func writeList(w io.Writer, names []string) {
	fmt.Fprintf(w, "[%s]\n", strings.Join(names, ", "))
}

// permLetters are the permission letters in the order zkCli.sh prints them.
var permLetters = []struct {
	letter byte
	perm   int32
}{
	{'c', zk.PermCreate},
	{'d', zk.PermDelete},
	{'r', zk.PermRead},
	{'w', zk.PermWrite},
	{'a', zk.PermAdmin},
}

func permString(perms int32) string {
	var b strings.Builder
	for _, p := range permLetters {
		if perms&p.perm != 0 {
			b.WriteByte(p.letter)
		}
	}
	return b.String()
}

// writeACL prints ACL entries as zkCli.sh's getAcl does.
func writeACL(w io.Writer, acl []zk.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "'%s,'%s\n: %s\n", a.Scheme, a.ID, permString(a.Perms))
	}
}

// parseACL reads zkCli.sh's ACL syntax: comma-separated scheme:id:perms
// entries. The id is everything between the first and the last colon, so
// digest ids (user:hash) and IPv6 addresses need no quoting. Unlike zkCli.sh,
// which warns and drops unknown permission letters, an unknown letter is an
// error: a typo must not silently grant less (or nothing).
func parseACL(s string) ([]zk.ACL, error) {
	var acl []zk.ACL
	for _, entry := range strings.Split(s, ",") {
		first := strings.IndexByte(entry, ':')
		last := strings.LastIndexByte(entry, ':')
		if first < 0 || first == last {
			return nil, usagef("%s does not have the form scheme:id:perm", entry)
		}
		perms, err := parsePerms(entry[last+1:])
		if err != nil {
			return nil, err
		}
		acl = append(acl, zk.ACL{Scheme: entry[:first], ID: entry[first+1 : last], Perms: perms})
	}
	return acl, nil
}

func parsePerms(s string) (int32, error) {
	var perms int32
	for i := 0; i < len(s); i++ {
		found := false
		for _, p := range permLetters {
			if s[i] == p.letter {
				perms |= p.perm
				found = true
			}
		}
		if !found {
			return 0, usagef("Unknown perm type: %c", s[i])
		}
	}
	return perms, nil
}

// validatePath applies ZooKeeper's client-side path rules (tree's), with the
// messages zkCli.sh prints, so that a bad path is a usage error caught before
// any connection is made. A sequential create may end in "/": the server
// appends the sequence number.
func validatePath(path string, sequential bool) error {
	checked := path
	if sequential {
		checked += "1"
	}
	var pe *tree.PathError
	if err := tree.ValidatePath(checked); errors.As(err, &pe) {
		if pe.Index < 0 {
			return usagef("%s", pe.Reason)
		}
		return usagef("Invalid path string \"%s\" caused by %s @%d", checked, pe.Reason, pe.Index)
	}
	return nil
}
