package tree

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// checkInvariants verifies the tree's internal indexes against each other.
func checkInvariants(t *testing.T, tr *Tree) {
	t.Helper()
	refs := map[*aclEntry]int{}
	containers, ttls := 0, 0
	ephemerals := map[int64]int{}
	for path, n := range tr.nodes {
		if n.path != path {
			t.Fatalf("node %q keyed as %q", n.path, path)
		}
		refs[n.acl]++
		if path != "/" {
			p := tr.nodes[Parent(path)]
			if p == nil {
				t.Fatalf("%q: parent missing", path)
			}
			if int(n.idx) >= p.numChildren() || p.children()[n.idx] != n {
				t.Fatalf("%q: index %d in parent is stale", path, n.idx)
			}
			if p.kind != KindDir {
				t.Fatalf("%q has a child but is not a directory", p.path)
			}
			if ephemeralKind(p.owner) == ephemeralNormal {
				t.Fatalf("%q is a child of an ephemeral", path)
			}
		}
		// Every child present was created, except those a new server
		// starts with.
		if int(n.cversion) < n.numChildren() && path != "/" && path != "/zookeeper" {
			t.Fatalf("%q: %d creates but %d children", path, n.cversion, n.numChildren())
		}
		switch ephemeralKind(n.owner) {
		case ephemeralNormal:
			ephemerals[n.owner]++
			s := tr.sessions[n.owner]
			if s == nil {
				t.Fatalf("%q owned by missing session %#x", path, n.owner)
			}
			if _, ok := s.ephemerals[path]; !ok {
				t.Fatalf("%q missing from its session", path)
			}
		case ephemeralContainer:
			containers++
			if _, ok := tr.containers[n]; !ok {
				t.Fatalf("container %q not indexed", path)
			}
		case ephemeralTTL:
			ttls++
			if _, ok := tr.ttls[n]; !ok {
				t.Fatalf("TTL node %q not indexed", path)
			}
		}
	}
	if containers != len(tr.containers) || ttls != len(tr.ttls) {
		t.Fatalf("indexes hold %d containers and %d TTL nodes, tree %d and %d", len(tr.containers), len(tr.ttls), containers, ttls)
	}
	for id, s := range tr.sessions {
		if len(s.ephemerals) != ephemerals[id] {
			t.Fatalf("session %#x lists %d ephemerals, owns %d", id, len(s.ephemerals), ephemerals[id])
		}
	}
	if len(refs) != len(tr.acls) {
		t.Fatalf("ACL cache holds %d lists, nodes use %d", len(tr.acls), len(refs))
	}
	for e, n := range refs {
		if tr.acls[e.key] != e || e.refs != n {
			t.Fatalf("ACL %v: %d refs counted, %d used", e.list, e.refs, n)
		}
	}
}

// state is everything observable about a tree, for comparisons.
func state(t *testing.T, tr *Tree) string {
	t.Helper()
	var b strings.Builder
	err := tr.Records(func(r Record) error {
		fmt.Fprintf(&b, "%d %q %d %x\n", r.Type, r.Path, r.Session, r.Value)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	paths := make([]string, 0, len(tr.nodes))
	for p := range tr.nodes {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		data, st, _ := tr.Get(p)
		kids, _, _ := tr.Children(p)
		acl, _, _ := tr.GetACL(p)
		k, _ := tr.Kind(p)
		ttl, _ := tr.TTL(p)
		fmt.Fprintf(&b, "%s %q %+v %v %v %d %d\n", p, data, st, kids, acl, k, ttl)
	}
	for _, s := range tr.Sessions() {
		fmt.Fprintf(&b, "session %+v %v\n", s, tr.Ephemerals(s.ID))
	}
	fmt.Fprintf(&b, "last %d reapable %v count %d\n", tr.LastZxid(), tr.Reapable(1<<50), tr.NodeCount())
	return b.String()
}

// opGen turns random numbers into plausible commands: paths from a small
// set, so that creates collide, deletes find nodes and multis fail halfway.
type opGen struct {
	r     *rand.Rand
	paths []string
	sess  []int64
	next  int64
}

func newOpGen(seed uint64) *opGen {
	return &opGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), paths: []string{"/a", "/b", "/a/x", "/a/y", "/b/z", "/a/x/q", "/zookeeper/u"}}
}

func (g *opGen) path() string {
	if g.r.IntN(10) == 0 {
		return []string{"/", "/bad/", "/zookeeper", "/nope/child"}[g.r.IntN(4)]
	}
	return g.paths[g.r.IntN(len(g.paths))]
}

func (g *opGen) acl() []ACL {
	switch g.r.IntN(6) {
	case 0:
		return []ACL{{Perms: PermRead | PermCreate | PermDelete, ID: ID{"world", "anyone"}}}
	case 1:
		return []ACL{{Perms: PermAll, ID: ID{"digest", "u:h"}}, {Perms: PermRead, ID: ID{"world", "anyone"}}}
	case 2:
		return nil
	}
	return OpenACL
}

func (g *opGen) version() int32 { return int32(g.r.IntN(4)) - 1 }

func (g *opGen) session() int64 {
	if len(g.sess) == 0 || g.r.IntN(8) == 0 {
		return 0x7777
	}
	return g.sess[g.r.IntN(len(g.sess))]
}

func (g *opGen) simple() Op {
	switch g.r.IntN(5) {
	case 0, 1:
		c := Create{Path: g.path(), Data: []byte(fmt.Sprint(g.r.IntN(100))), ACL: g.acl(), Mode: Mode(g.r.IntN(7)), Kind: Kind(g.r.IntN(2))}
		if c.Mode >= ModePersistentWithTTL {
			c.TTL = int64(g.r.IntN(3000))
		}
		return c
	case 2:
		return Delete{Path: g.path(), Version: g.version()}
	case 3:
		return SetData{Path: g.path(), Data: bytes.Repeat([]byte{'d'}, g.r.IntN(20)), Version: g.version()}
	}
	return Check{Path: g.path(), Version: g.version()}
}

func (g *opGen) op() (Op, int64) {
	sess := g.session()
	switch g.r.IntN(14) {
	case 0:
		g.next++
		id := 0x1000 + g.next
		g.sess = append(g.sess, id)
		return CreateSession{ID: id, Timeout: int32(g.r.IntN(5000)), Password: []byte{byte(id)}}, 0
	case 1:
		return CloseSession{ID: sess}, 0
	case 2:
		ops := make([]Op, g.r.IntN(4))
		for i := range ops {
			ops[i] = g.simple()
		}
		return Multi{Ops: ops}, sess
	case 3:
		return SetACL{Path: g.path(), ACL: g.acl(), Version: g.version()}, sess
	case 4:
		return Reap{Path: g.path()}, 0
	case 5:
		return SetKind{Path: g.path(), Kind: Kind(g.r.IntN(2))}, sess
	}
	return g.simple(), sess
}

// identities alternate between anonymous, a digest user and super.
func (g *opGen) identity() Identity {
	switch g.r.IntN(4) {
	case 0:
		return Identity{IDs: []ID{{"digest", "u:h"}}}
	case 1:
		return Identity{Super: true}
	}
	return Identity{}
}

// persist applies a TakeChanges batch to a store the way the storage layer does.
func persist(store map[string][]byte, recs []Record) {
	for _, r := range recs {
		key := recordKey(r)
		if r.Value == nil {
			delete(store, key)
		} else {
			store[key] = append([]byte(nil), r.Value...)
		}
	}
}

func load(t *testing.T, store map[string][]byte, last int64) *Tree {
	t.Helper()
	keys := make([]string, 0, len(store))
	for k := range store {
		keys = append(keys, k)
	}
	// Map order is random, which is the point: the loader takes any order.
	l := NewLoader(Config{})
	for _, k := range keys {
		r := Record{Type: RecordNode, Path: k, Value: store[k]}
		if strings.HasPrefix(k, "session ") {
			var id int64
			fmt.Sscanf(k, "session %v", &id)
			r = Record{Type: RecordSession, Session: id, Value: store[k]}
		}
		if err := l.Add(r); err != nil {
			t.Fatal(err)
		}
	}
	tr, err := l.Finish(last)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

func TestRandomOpsPersistAndReload(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			g := newOpGen(seed)
			live, twin := New(Config{MaxDataSize: 15}), New(Config{MaxDataSize: 15})
			store := map[string][]byte{}
			zxid, now := int64(0), int64(1000)
			for i := 0; i < 400; i++ {
				op, sess := g.op()
				zxid += 1 + int64(g.r.IntN(3))
				now += int64(g.r.IntN(1500))
				h := Header{Zxid: zxid, Time: now, Session: sess, Identity: g.identity()}
				r1, e1 := live.Apply(h, op)
				r2, e2 := twin.Apply(h, op)
				if !reflect.DeepEqual(r1, r2) || !reflect.DeepEqual(e1, e2) {
					t.Fatalf("op %d %#v: twins differ: %+v %v / %+v %v", i, op, r1, e1, r2, e2)
				}
				if r1.Err != nil && len(e1) > 0 {
					t.Fatalf("op %d: failed with events %v", i, e1)
				}
				checkInvariants(t, live)
				if g.r.IntN(5) == 0 || i == 399 {
					c1, c2 := live.TakeChanges(), twin.TakeChanges()
					if !reflect.DeepEqual(c1, c2) {
						t.Fatalf("op %d: twins' changes differ", i)
					}
					persist(store, c1)
					loaded := load(t, store, live.LastZxid())
					checkInvariants(t, loaded)
					if got, want := state(t, loaded), state(t, live); got != want {
						t.Fatalf("op %d: reloaded tree differs:\n%s\nlive:\n%s", i, got, want)
					}
				}
			}
		})
	}
}

// TestFailedOpsChangeNothing checks that every failing command, multi or
// not, leaves the state and the pending changes exactly as they were.
func TestFailedOpsChangeNothing(t *testing.T) {
	g := newOpGen(99)
	tr := New(Config{MaxDataSize: 15})
	zxid := int64(0)
	failures := 0
	for i := 0; i < 1500; i++ {
		op, sess := g.op()
		zxid++
		before := state(t, tr)
		pending := len(tr.dirtyNodes) + len(tr.dirtySessions)
		r, _ := tr.Apply(Header{Zxid: zxid, Time: int64(i) * 100, Session: sess, Identity: g.identity()}, op)
		if r.Err == nil {
			continue
		}
		failures++
		after := strings.Replace(state(t, tr), fmt.Sprintf("last %d ", zxid), fmt.Sprintf("last %d ", zxid-1), 1)
		if after != before {
			t.Fatalf("op %#v failed with %v but changed the tree", op, r.Err)
		}
		if got := len(tr.dirtyNodes) + len(tr.dirtySessions); got != pending {
			t.Fatalf("op %#v failed with %v but left %d pending changes, was %d", op, r.Err, got, pending)
		}
		if m, ok := op.(Multi); ok && len(m.Ops) > 0 {
			checkFailedMulti(t, r)
		}
	}
	if failures < 250 {
		t.Fatalf("only %d failures exercised", failures)
	}
}

func checkFailedMulti(t *testing.T, r Result) {
	t.Helper()
	failed := -1
	for i, sr := range r.Multi {
		switch {
		case failed < 0 && sr.Err != nil:
			failed = i
			if sr.Err != r.Err {
				t.Fatalf("multi error %v, first failing op %v", r.Err, sr.Err)
			}
		case failed < 0 && !reflect.DeepEqual(sr, Result{}):
			t.Fatalf("op %d before the failure reports %+v", i, sr)
		case failed >= 0 && sr.Err != ErrRuntimeInconsistency:
			t.Fatalf("op %d after the failure reports %v", i, sr.Err)
		}
	}
}

// FuzzApply decodes commands from the fuzzer's bytes and checks the
// invariants, the all-or-nothing rule and the reload after every command.
func FuzzApply(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(bytes.Repeat([]byte{2, 0, 1}, 20))
	f.Add([]byte("multi create delete set check session close reap kind"))
	f.Fuzz(func(t *testing.T, in []byte) {
		seed := uint64(len(in))
		if len(in) >= 8 {
			seed = binary.LittleEndian.Uint64(in)
		}
		g := newOpGen(seed)
		tr := New(Config{MaxDataSize: 15})
		store := map[string][]byte{}
		for i, b := range in {
			op, sess := g.op()
			h := Header{Zxid: int64(i + 1), Time: int64(i) * int64(b) * 10, Session: sess, Identity: g.identity()}
			tr.Apply(h, op)
			checkInvariants(t, tr)
		}
		persist(store, tr.TakeChanges())
		if got, want := state(t, load(t, store, tr.LastZxid())), state(t, tr); got != want {
			t.Fatalf("reloaded tree differs:\n%s\nlive:\n%s", got, want)
		}
	})
}
