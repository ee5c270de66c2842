package storage

import (
	"fmt"
	"math/rand"
	"testing"

	"zkfs/tree"
)

// op is one command of a test workload: what the replication layer would
// put in one Raft entry.
type op struct {
	session int64
	op      tree.Op
}

// genOps returns a random workload of n commands, numbered from 1 like Raft
// entries (ops[0] is unused). The commands do not depend on the tree's
// state, so the same seed always gives the same stream; many of them fail
// (a parent that is gone, a session that is closed), which the tree turns
// into a no-op that still consumes its zxid.
func genOps(seed int64, n int) []op {
	rng := rand.New(rand.NewSource(seed))
	names := []string{"a", "b", "ab", "a-", "c", "zk"}
	paths := []string{"/"}
	var sessions []int64
	nextSession := int64(0x100)
	pick := func() string { return paths[rng.Intn(len(paths))] }
	child := func() string {
		p := pick()
		c := "/" + names[rng.Intn(len(names))]
		if p != "/" {
			c = p + c
		}
		paths = append(paths, c)
		return c
	}
	data := func() []byte {
		b := make([]byte, rng.Intn(40))
		rng.Read(b)
		return b
	}
	ops := make([]op, n+1)
	for i := 1; i <= n; i++ {
		var o op
		switch r := rng.Intn(100); {
		case r < 8 || len(sessions) == 0:
			nextSession++
			sessions = append(sessions, nextSession)
			o.op = tree.CreateSession{ID: nextSession, Timeout: 30000, Password: data()}
		case r < 12:
			o.op = tree.CloseSession{ID: sessions[rng.Intn(len(sessions))]}
		case r < 50:
			c := tree.Create{Path: child(), Data: data(), ACL: tree.OpenACL}
			switch rng.Intn(5) {
			case 0:
				c.Mode = tree.ModeEphemeral
				o.session = sessions[rng.Intn(len(sessions))]
			case 1:
				c.Mode = tree.ModePersistentSequential
			case 2:
				c.Kind = tree.KindDir
			}
			o.op = c
		case r < 75:
			o.op = tree.SetData{Path: pick(), Data: data(), Version: -1}
		case r < 90:
			o.op = tree.Delete{Path: pick(), Version: -1}
		case r < 95:
			o.op = tree.SetKind{Path: pick(), Kind: tree.Kind(rng.Intn(2))}
		default:
			o.op = tree.Multi{Ops: []tree.Op{
				tree.Create{Path: child(), Data: data(), ACL: tree.OpenACL},
				tree.SetData{Path: pick(), Data: data(), Version: -1},
			}}
		}
		ops[i] = o
	}
	return ops
}

// apply applies ops[i] at zxid i, as the replication layer does.
func apply(t *tree.Tree, ops []op, i uint64) {
	t.Apply(tree.Header{
		Zxid:     int64(i),
		Time:     1_700_000_000_000 + int64(i)*1000,
		Session:  ops[i].session,
		Identity: tree.Identity{Super: true},
	}, ops[i].op)
}

// dump is a tree's full state in a comparable form.
type dump struct {
	lastZxid int64
	records  []string
}

func dumpTree(tb testing.TB, t *tree.Tree) dump {
	tb.Helper()
	d := dump{lastZxid: t.LastZxid()}
	err := t.Records(func(r tree.Record) error {
		d.records = append(d.records, fmt.Sprintf("%s=%x", recordName(r), r.Value))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

func (d dump) equal(e dump) bool {
	if d.lastZxid != e.lastZxid || len(d.records) != len(e.records) {
		return false
	}
	for i := range d.records {
		if d.records[i] != e.records[i] {
			return false
		}
	}
	return true
}

func (d dump) String() string {
	return fmt.Sprintf("zxid %d, %d records %v", d.lastZxid, len(d.records), d.records)
}

// refDumps applies ops to a fresh tree and returns its state after each
// index: refDumps(...)[i] is the tree at applied index i.
func refDumps(tb testing.TB, ops []op) []dump {
	t := tree.New(tree.Config{})
	out := []dump{dumpTree(tb, t)}
	for i := 1; i < len(ops); i++ {
		apply(t, ops, uint64(i))
		out = append(out, dumpTree(tb, t))
	}
	return out
}
