// Package recipe holds the naming rules of kazoo's lock recipes (Lock,
// ReadLock, WriteLock and Election, which is a Lock), so that the locks
// the mount takes for flock(2) and fcntl(2), the `zkfs lock` and `zkfs
// elect` commands, and kazoo's own recipes on the same path exclude one
// another.
//
// A contender is an ephemeral sequential child of the lock node named
// PREFIX + NAME + SEQUENCE, where PREFIX is 32 hexadecimal digits unique to
// the contender (kazoo uses a UUID, so that a client that lost the reply to
// its create can find its node), NAME is "__lock__" for an exclusive
// contender and "__rlock__" for a shared one, and SEQUENCE is the server's
// ten-digit sequence number. Contenders queue in the order of their
// sequence numbers, compared as strings as kazoo does; each one waits for
// the last contender before it that it conflicts with. An exclusive
// contender conflicts with every contender, a shared one only with
// exclusive ones. Children with other names are not contenders.
//
// kazoo's plain Lock, and Election, treat only "__lock__" nodes as
// contenders, so they do not see shared contenders; an exclusive contender
// here behaves as kazoo's WriteLock, which excludes Lock, ReadLock and
// WriteLock holders alike.
package recipe

import (
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"sort"
)

// The contender names, after the prefix and before the sequence number.
const (
	ExclusiveName = "__lock__"
	SharedName    = "__rlock__"
)

// contenderRE matches a contender's name and captures its kind and its
// sequence number (ZooKeeper's counter may wrap to a negative number, which
// kazoo accepts too).
var contenderRE = regexp.MustCompile(`(__lock__|__rlock__)(-?\d{10})$`)

// Prefix returns a fresh contender prefix with the name for the kind of
// contender: the path to create, with sequential mode, is the lock node's
// path, "/", and this.
func Prefix(shared bool) string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	// Version 4 UUID bits, as kazoo's uuid4().hex has.
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	name := ExclusiveName
	if shared {
		name = SharedName
	}
	return hex.EncodeToString(b[:]) + name
}

// Contender is one contender for a lock.
type Contender struct {
	Name   string // the child's name
	Shared bool
	Seq    string // the sequence number, as named
}

// Contenders returns the contenders among a lock node's children, in queue
// order.
func Contenders(children []string) []Contender {
	var out []Contender
	for _, c := range children {
		m := contenderRE.FindStringSubmatch(c)
		if m == nil {
			continue
		}
		out = append(out, Contender{Name: c, Shared: m[1] == SharedName, Seq: m[2]})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out
}

// Predecessor returns the contender that self must wait for, "" when self
// holds the lock. found is false when self is not among the children (its
// node is gone, for example because its session expired).
func Predecessor(children []string, self string) (pred string, found bool) {
	all := Contenders(children)
	var me *Contender
	for i := range all {
		if all[i].Name == self {
			me = &all[i]
			break
		}
	}
	if me == nil {
		return "", false
	}
	for _, c := range all {
		if c.Name == self {
			break
		}
		if !me.Shared || !c.Shared {
			pred = c.Name
		}
	}
	return pred, true
}

// Holders returns the contenders that hold the lock now: the first
// contender if it is exclusive, or else every shared contender before the
// first exclusive one.
func Holders(children []string) []Contender {
	all := Contenders(children)
	if len(all) == 0 {
		return nil
	}
	if !all[0].Shared {
		return all[:1]
	}
	n := 0
	for n < len(all) && all[n].Shared {
		n++
	}
	return all[:n]
}
