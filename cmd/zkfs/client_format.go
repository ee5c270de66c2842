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

// writeACL prints ACL entries as zkCli.sh's getAcl does.
func writeACL(w io.Writer, acl []zk.ACL) {
	for _, a := range acl {
		fmt.Fprintf(w, "'%s,'%s\n: %s\n", a.Scheme, a.ID, tree.FormatPerms(a.Perms))
	}
}

// parseACL reads zkCli.sh's ACL syntax (tree.ParseACL), with the messages
// zkCli.sh prints, into go-zookeeper's ACL type.
func parseACL(s string) ([]zk.ACL, error) {
	acl, err := tree.ParseACL(s)
	var te *tree.ACLTextError
	switch {
	case errors.As(err, &te) && te.Letter != 0:
		return nil, usagef("Unknown perm type: %c", te.Letter)
	case errors.As(err, &te):
		return nil, usagef("%s does not have the form scheme:id:perm", te.Entry)
	case err != nil:
		return nil, err
	}
	out := make([]zk.ACL, len(acl))
	for i, a := range acl {
		out[i] = zk.ACL{Scheme: a.ID.Scheme, ID: a.ID.ID, Perms: a.Perms}
	}
	return out, nil
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
