package tree

import (
	"errors"
	"fmt"
	"reflect"
	"testing"
	"unsafe"
)

// open is an identity with no credentials beyond world:anyone.
var open = Identity{}

func hdr(zxid int64) Header { return Header{Zxid: zxid, Time: 1000 * zxid} }

func mustApply(t *testing.T, tr *Tree, h Header, op Op) Result {
	t.Helper()
	r, _ := tr.Apply(h, op)
	if r.Err != nil {
		t.Fatalf("apply %#v: %v", op, r.Err)
	}
	return r
}

func TestNewMatchesFreshZooKeeper(t *testing.T) {
	// Observed on ZooKeeper 3.8.0 standalone (Debian 3.8.0-11+deb12u2),
	// `get -s` and `getAcl` on a fresh data directory, 2026-11-22.
	tests := []struct {
		path string
		want Stat
		acl  []ACL
		kids []string
	}{
		{"/", Stat{Cversion: -1, NumChildren: 1}, OpenACL, []string{"zookeeper"}},
		{"/zookeeper", Stat{Cversion: -2, NumChildren: 2}, OpenACL, []string{"config", "quota"}},
		{"/zookeeper/quota", Stat{}, OpenACL, []string{}},
		{"/zookeeper/config", Stat{Aversion: -1}, []ACL{{Perms: PermRead, ID: ID{"world", "anyone"}}}, []string{}},
	}
	tr := New(Config{})
	for _, tt := range tests {
		kids, got, err := tr.Children(tt.path)
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		if got != tt.want {
			t.Errorf("%s: stat %+v, want %+v", tt.path, got, tt.want)
		}
		if !reflect.DeepEqual(kids, tt.kids) {
			t.Errorf("%s: children %q, want %q", tt.path, kids, tt.kids)
		}
		acl, _, _ := tr.GetACL(tt.path)
		if !reflect.DeepEqual(acl, tt.acl) {
			t.Errorf("%s: acl %v, want %v", tt.path, acl, tt.acl)
		}
		// zkCli.sh prints an empty line for these on ZooKeeper, not "null".
		if data, _, _ := tr.Get(tt.path); data == nil || len(data) != 0 {
			t.Errorf("%s: data %#v, want empty, not none", tt.path, data)
		}
	}
	if got, want := tr.NodeCount(), 4; got != want {
		t.Errorf("NodeCount() = %d, want %d", got, want)
	}
}

func TestCreateBasics(t *testing.T) {
	tr := New(Config{})
	r := mustApply(t, tr, hdr(5), Create{Path: "/a", Data: []byte("x"), ACL: OpenACL})
	if got, want := r.Path, "/a"; got != want {
		t.Errorf("path %q, want %q", got, want)
	}
	want := Stat{Czxid: 5, Mzxid: 5, Pzxid: 5, Ctime: 5000, Mtime: 5000, DataLength: 1}
	if r.Stat != want {
		t.Errorf("stat %+v, want %+v", r.Stat, want)
	}
	root, _ := tr.Stat("/")
	if root.Cversion != 0 || root.Pzxid != 5 || root.NumChildren != 2 {
		t.Errorf("root stat %+v", root)
	}
	r, _ = tr.Apply(hdr(6), Create{Path: "/a", ACL: OpenACL})
	if !errors.Is(r.Err, ErrNodeExists) {
		t.Errorf("second create: %v", r.Err)
	}
	if tr.LastZxid() != 6 {
		t.Errorf("LastZxid %d", tr.LastZxid())
	}
}

func TestValidatePath(t *testing.T) {
	// The rules of ZooKeeper's PathUtils.validatePath; paths.txt checks the
	// server's use of them.
	tests := []struct {
		path string
		ok   bool
	}{
		{"/", true}, {"/a", true}, {"/a/b", true}, {"/a.b", true}, {"/...", true}, {"/a/..b", true},
		{"/a/b.", true}, {"/a/.b", true}, {"/\u00a0", true}, {"/\uf900", true}, {"/日本", true},
		{"", false}, {"a", false}, {"/a/", false}, {"//", false}, {"/a//b", false},
		{"/.", false}, {"/..", false}, {"/a/./b", false}, {"/a/../b", false}, {"/a/.", false},
		{"/a\x00", false}, {"/a\x01", false}, {"/a\x1f", false}, {"/a\x7f", false}, {"/a\u0080", false},
		{"/a\u009f", false}, {"/a\ud7ff", true}, {"/a\ue000", false}, {"/a\uf8ff", false},
		{"/a\ufff0", false}, {"/a\uffff", false}, {"/a\U00010000", false}, {"/a\xff", false},
	}
	for _, tt := range tests {
		err := ValidatePath(tt.path)
		if got := err == nil; got != tt.ok {
			t.Errorf("ValidatePath(%q) = %v, want ok=%v", tt.path, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrInvalidPath) || !errors.Is(err, ErrBadArguments)) {
			t.Errorf("ValidatePath(%q) = %v, want ErrInvalidPath wrapping ErrBadArguments", tt.path, err)
		}
	}
}

func TestFixupACL(t *testing.T) {
	alice := ID{"digest", "alice:h"}
	tests := []struct {
		name string
		acl  []ACL
		ids  []ID
		want []ACL
		err  error
	}{
		{"empty", nil, nil, nil, ErrInvalidACL},
		{"open", OpenACL, nil, OpenACL, nil},
		{"duplicates go", []ACL{OpenACL[0], OpenACL[0]}, nil, OpenACL, nil},
		{"same id other perms stay", []ACL{{1, ID{"world", "anyone"}}, {2, ID{"world", "anyone"}}}, nil, []ACL{{1, ID{"world", "anyone"}}, {2, ID{"world", "anyone"}}}, nil},
		{"world other", []ACL{{1, ID{"world", "x"}}}, nil, nil, ErrInvalidACL},
		{"unknown scheme", []ACL{{1, ID{"sasl", "x"}}}, nil, nil, ErrInvalidACL},
		{"auth without ids", []ACL{{1, ID{"auth", ""}}}, []ID{{"ip", "127.0.0.1"}}, nil, ErrInvalidACL},
		{"auth expands", []ACL{{3, ID{"auth", "ignored"}}}, []ID{{"ip", "127.0.0.1"}, alice, {"x509", "CN=a"}}, []ACL{{3, alice}, {3, ID{"x509", "CN=a"}}}, nil},
		{"digest ok", []ACL{{1, alice}}, nil, []ACL{{1, alice}}, nil},
		{"digest trailing colon", []ACL{{1, ID{"digest", "a:b:"}}}, nil, []ACL{{1, ID{"digest", "a:b:"}}}, nil},
		{"digest leading colon", []ACL{{1, ID{"digest", ":b"}}}, nil, []ACL{{1, ID{"digest", ":b"}}}, nil},
		{"digest no hash", []ACL{{1, ID{"digest", "a:"}}}, nil, nil, ErrInvalidACL},
		{"digest three parts", []ACL{{1, ID{"digest", "a:b:c"}}}, nil, nil, ErrInvalidACL},
		{"digest empty", []ACL{{1, ID{"digest", ""}}}, nil, nil, ErrInvalidACL},
		{"ip", []ACL{{1, ID{"ip", "10.0.0.1"}}}, nil, []ACL{{1, ID{"ip", "10.0.0.1"}}}, nil},
		{"ip mask", []ACL{{1, ID{"ip", "10.0.0.0/8"}}}, nil, []ACL{{1, ID{"ip", "10.0.0.0/8"}}}, nil},
		{"ip mask 33", []ACL{{1, ID{"ip", "10.0.0.0/33"}}}, nil, nil, ErrInvalidACL},
		{"ip v6", []ACL{{1, ID{"ip", "::1"}}}, nil, nil, ErrInvalidACL},
		{"ip short", []ACL{{1, ID{"ip", "10.0.0"}}}, nil, nil, ErrInvalidACL},
		{"ip byte", []ACL{{1, ID{"ip", "10.0.0.256"}}}, nil, nil, ErrInvalidACL},
		{"ip empty part", []ACL{{1, ID{"ip", "10..0.1"}}}, nil, nil, ErrInvalidACL},
	}
	for _, tt := range tests {
		got, err := fixupACL(tt.acl, Identity{IDs: tt.ids})
		if !errors.Is(err, tt.err) || (tt.err == nil && err != nil) {
			t.Errorf("%s: error %v, want %v", tt.name, err, tt.err)
			continue
		}
		if err == nil && !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPermitted(t *testing.T) {
	digest := []ACL{{PermRead, ID{"digest", "alice:h"}}}
	tests := []struct {
		name string
		acl  []ACL
		perm int32
		id   Identity
		want bool
	}{
		{"world", OpenACL, PermWrite, Identity{}, true},
		{"world lacks bit", []ACL{{PermRead, ID{"world", "anyone"}}}, PermWrite, Identity{}, false},
		{"any of the bits", []ACL{{PermAdmin, ID{"world", "anyone"}}}, PermRead | PermAdmin, Identity{}, true},
		{"empty acl", nil, PermAll, Identity{}, true},
		{"super flag", []ACL{{0, ID{"world", "anyone"}}}, PermRead, Identity{Super: true}, true},
		{"super id", []ACL{{0, ID{"world", "anyone"}}}, PermRead, Identity{IDs: []ID{{"super", ""}}}, true},
		{"digest match", digest, PermRead, Identity{IDs: []ID{{"digest", "alice:h"}}}, true},
		{"digest other", digest, PermRead, Identity{IDs: []ID{{"digest", "bob:h"}}}, false},
		{"ip exact", []ACL{{PermRead, ID{"ip", "10.1.2.3"}}}, PermRead, Identity{IDs: []ID{{"ip", "10.1.2.3"}}}, true},
		{"ip other", []ACL{{PermRead, ID{"ip", "10.1.2.3"}}}, PermRead, Identity{IDs: []ID{{"ip", "10.1.2.4"}}}, false},
		{"ip /8", []ACL{{PermRead, ID{"ip", "10.9.9.9/8"}}}, PermRead, Identity{IDs: []ID{{"ip", "10.1.2.4"}}}, true},
		{"ip /31", []ACL{{PermRead, ID{"ip", "10.0.0.2/31"}}}, PermRead, Identity{IDs: []ID{{"ip", "10.0.0.3"}}}, true},
		{"ip /31 out", []ACL{{PermRead, ID{"ip", "10.0.0.2/31"}}}, PermRead, Identity{IDs: []ID{{"ip", "10.0.0.4"}}}, false},
		{"ip /0", []ACL{{PermRead, ID{"ip", "1.2.3.4/0"}}}, PermRead, Identity{IDs: []ID{{"ip", "9.9.9.9"}}}, true},
		{"ip client v6", []ACL{{PermRead, ID{"ip", "1.2.3.4/0"}}}, PermRead, Identity{IDs: []ID{{"ip", "::1"}}}, false},
		{"ip bad expr", []ACL{{PermRead, ID{"ip", "1.2.3.4/x"}}}, PermRead, Identity{IDs: []ID{{"ip", "1.2.3.4"}}}, false},
		{"scheme must match", []ACL{{PermRead, ID{"ip", "1.2.3.4"}}}, PermRead, Identity{IDs: []ID{{"digest", "1.2.3.4"}}}, false},
	}
	for _, tt := range tests {
		if got := Permitted(tt.acl, tt.perm, tt.id); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestCheckPerm(t *testing.T) {
	tr := New(Config{})
	mustApply(t, tr, hdr(1), Create{Path: "/r", ACL: []ACL{{PermRead, ID{"world", "anyone"}}}})
	tests := []struct {
		path string
		perm int32
		want error
	}{
		{"/r", PermRead, nil},
		{"/r", PermWrite, ErrNoAuth},
		{"/nope", PermRead, ErrNoNode},
		{"/zookeeper/config", PermWrite, ErrNoAuth},
	}
	for _, tt := range tests {
		if got := tr.CheckPerm(tt.path, tt.perm, Identity{}); got != tt.want {
			t.Errorf("CheckPerm(%s, %d) = %v, want %v", tt.path, tt.perm, got, tt.want)
		}
	}
}

func TestApplyErrors(t *testing.T) {
	// Errors that the scenario files cannot reach through a real client,
	// in ZooKeeper's order of checks where several apply.
	tests := []struct {
		name string
		sess int64
		op   Op
		want error
	}{
		{"data too large", 0, Create{Path: "/x", Data: make([]byte, 11), ACL: OpenACL}, ErrDataTooLarge},
		{"data too large first", 0, Create{Path: "bad", Data: make([]byte, 11)}, ErrDataTooLarge},
		{"data at limit", 0, Create{Path: "/x", Data: make([]byte, 10), ACL: OpenACL}, nil},
		{"set too large", 0, SetData{Path: "/x", Data: make([]byte, 11), Version: -1}, ErrDataTooLarge},
		{"bad mode", 0, Create{Path: "/y", ACL: OpenACL, Mode: 7}, ErrBadArguments},
		{"bad kind", 0, Create{Path: "/y", ACL: OpenACL, Kind: 2}, ErrBadArguments},
		{"ephemeral no session", 0, Create{Path: "/y", ACL: OpenACL, Mode: ModeEphemeral}, ErrSessionExpired},
		{"ephemeral unknown session", 99, Create{Path: "/y", ACL: OpenACL, Mode: ModeEphemeralSequential}, ErrSessionExpired},
		{"session checked before path", 99, Create{Path: "y", ACL: OpenACL, Mode: ModeEphemeral}, ErrSessionExpired},
		{"ttl checked before session", 99, Create{Path: "/y", ACL: OpenACL, Mode: ModePersistentWithTTL}, ErrBadArguments},
		{"ttl too long", 0, Create{Path: "/y", ACL: OpenACL, Mode: ModePersistentSequentialWithTTL, TTL: MaxTTL + 1}, ErrBadArguments},
		{"ttl ignored for persistent", 0, Create{Path: "/y", ACL: OpenACL, TTL: -5}, nil},
		{"acl before parent", 0, Create{Path: "/nope/y"}, ErrInvalidACL},
		{"multi with setACL", 0, Multi{Ops: []Op{SetACL{Path: "/x", ACL: OpenACL, Version: -1}}}, ErrBadArguments},
		{"nested multi", 0, Multi{Ops: []Op{Multi{}}}, ErrBadArguments},
		{"close unknown session", 0, CloseSession{ID: 42}, ErrSessionExpired},
		{"session id 0", 0, CreateSession{ID: 0}, ErrBadArguments},
		{"session id like a container", 0, CreateSession{ID: ContainerOwner}, ErrBadArguments},
		{"session id like a TTL", 0, CreateSession{ID: TTLOwner(5)}, ErrBadArguments},
		{"session ok", 0, CreateSession{ID: 7, Timeout: 100}, nil},
		{"session twice", 0, CreateSession{ID: 7}, ErrBadArguments},
		{"reap bad path", 0, Reap{Path: "/x/"}, ErrInvalidPath},
		{"setkind bad kind", 0, SetKind{Path: "/x", Kind: 5}, ErrBadArguments},
		{"unknown op", 0, nil, ErrUnimplemented},
	}
	tr := New(Config{MaxDataSize: 10})
	for i, tt := range tests {
		r, evs := tr.Apply(Header{Zxid: int64(i + 1), Session: tt.sess}, tt.op)
		if !errors.Is(r.Err, tt.want) || (tt.want == nil) != (r.Err == nil) {
			t.Errorf("%s: %v, want %v", tt.name, r.Err, tt.want)
		}
		if r.Err != nil && len(evs) > 0 {
			t.Errorf("%s: failed with events %v", tt.name, evs)
		}
	}
}

func TestEmptyMulti(t *testing.T) {
	tr := New(Config{})
	tr.TakeChanges()
	r, evs := tr.Apply(hdr(3), Multi{})
	if r.Err != nil || len(r.Multi) != 0 || len(evs) != 0 {
		t.Fatalf("empty multi: %+v %v", r, evs)
	}
	if got := tr.TakeChanges(); len(got) != 0 {
		t.Errorf("empty multi left changes %v", got)
	}
	if tr.LastZxid() != 3 {
		t.Errorf("LastZxid %d", tr.LastZxid())
	}
}

func TestEvents(t *testing.T) {
	tr := New(Config{})
	mustApply(t, tr, Header{Zxid: 1}, CreateSession{ID: 5})
	mustApply(t, tr, Header{Zxid: 2}, Create{Path: "/d", ACL: OpenACL})
	secret := []ACL{{PermAll, ID{"digest", "a:b"}}}
	mustApply(t, tr, Header{Zxid: 3, Session: 5}, Create{Path: "/d/z", ACL: secret, Mode: ModeEphemeral})
	mustApply(t, tr, Header{Zxid: 4, Session: 5}, Create{Path: "/a", ACL: OpenACL, Mode: ModeEphemeral})
	r, evs := tr.Apply(Header{Zxid: 9}, CloseSession{ID: 5})
	if r.Err != nil {
		t.Fatal(r.Err)
	}
	want := []Event{
		{EventNodeDeleted, "/a", 9, OpenACL},
		{EventNodeChildrenChanged, "/", 9, OpenACL},
		{EventNodeDeleted, "/d/z", 9, secret},
		{EventNodeChildrenChanged, "/d", 9, OpenACL},
	}
	if !reflect.DeepEqual(evs, want) {
		t.Errorf("close session events\n got %v\nwant %v", evs, want)
	}
	if _, ok := tr.Session(5); ok {
		t.Error("session 5 still there")
	}
	_, evs = tr.Apply(Header{Zxid: 10}, SetACL{Path: "/d", ACL: secret, Version: -1})
	if len(evs) != 0 {
		t.Errorf("setACL events %v", evs)
	}
	_, evs = tr.Apply(Header{Zxid: 11}, SetKind{Path: "/d", Kind: KindDir})
	if len(evs) != 0 {
		t.Errorf("setKind events %v", evs)
	}
}

func TestSessions(t *testing.T) {
	tr := New(Config{})
	for i, id := range []int64{30, 10, 20} {
		mustApply(t, tr, hdr(int64(i+1)), CreateSession{ID: id, Timeout: int32(id), Password: []byte{byte(id)}})
	}
	var ids []int64
	for _, s := range tr.Sessions() {
		ids = append(ids, s.ID)
	}
	if want := []int64{10, 20, 30}; !reflect.DeepEqual(ids, want) {
		t.Errorf("Sessions() ids %v, want %v", ids, want)
	}
	got, ok := tr.Session(20)
	if want := (Session{ID: 20, Timeout: 20, Password: []byte{20}}); !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("Session(20) = %+v %v, want %+v", got, ok, want)
	}
	if tr.Ephemerals(99) != nil {
		t.Error("Ephemerals of an unknown session")
	}
}

func TestReapable(t *testing.T) {
	tr := New(Config{})
	h := func(z, now int64) Header { return Header{Zxid: z, Time: now} }
	mustApply(t, tr, h(1, 1000), Create{Path: "/t1", ACL: OpenACL, Mode: ModePersistentWithTTL, TTL: 100})
	mustApply(t, tr, h(2, 1050), Create{Path: "/c", ACL: OpenACL, Mode: ModeContainer})
	mustApply(t, tr, h(3, 1050), Create{Path: "/c/k", ACL: OpenACL})
	mustApply(t, tr, h(4, 1050), Create{Path: "/t0", ACL: OpenACL, Mode: ModePersistentSequentialWithTTL, TTL: 100})
	tests := []struct {
		now  int64
		want []string
	}{
		{1100, nil},
		{1101, []string{"/t1"}},
		{1151, []string{"/t00000000002", "/t1"}},
	}
	for _, tt := range tests {
		if got := tr.Reapable(tt.now); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Reapable(%d) = %v, want %v", tt.now, got, tt.want)
		}
	}
	mustApply(t, tr, h(5, 1200), Delete{Path: "/c/k", Version: -1})
	if got, want := tr.Reapable(1200), []string{"/c", "/t00000000002", "/t1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("after delete: %v, want %v", got, want)
	}
	// A Reap decided earlier is checked again at its own time.
	mustApply(t, tr, h(6, 1200), SetData{Path: "/t1", Version: -1})
	if r, _ := tr.Apply(h(7, 1250), Reap{Path: "/t1"}); !errors.Is(r.Err, ErrBadArguments) {
		t.Errorf("stale reap: %v", r.Err)
	}
	if r, _ := tr.Apply(h(8, 1301), Reap{Path: "/t1"}); r.Err != nil {
		t.Errorf("due reap: %v", r.Err)
	}
}

func TestAllChildrenNumber(t *testing.T) {
	tr := New(Config{})
	for i, p := range []string{"/a", "/a/b", "/a/b/c", "/a/d", "/e"} {
		mustApply(t, tr, hdr(int64(i+1)), Create{Path: p, ACL: OpenACL})
	}
	tests := []struct {
		path string
		want int
	}{{"/", 8}, {"/a", 3}, {"/a/b", 1}, {"/e", 0}, {"/zookeeper", 2}}
	for _, tt := range tests {
		if got, err := tr.AllChildrenNumber(tt.path); err != nil || got != tt.want {
			t.Errorf("AllChildrenNumber(%s) = %d, %v; want %d", tt.path, got, err, tt.want)
		}
	}
	if got, want := tr.NodeCount(), 9; got != want {
		t.Errorf("NodeCount() = %d, want %d", got, want)
	}
	if !tr.Exists("/a/b/c") || tr.Exists("/a/b/x") || tr.Exists("") {
		t.Error("Exists is wrong")
	}
}

func TestChildList(t *testing.T) {
	tr := New(Config{})
	for i, p := range []string{"/a", "/a/c", "/a/b", "/a/b/x", "/a/d"} {
		mustApply(t, tr, hdr(int64(i+1)), Create{Path: p, Data: []byte(p), ACL: OpenACL})
	}
	tests := []struct {
		path      string
		wantNames []string
		wantErr   error
	}{
		{"/a", []string{"b", "c", "d"}, nil},
		{"/a/b", []string{"x"}, nil},
		{"/a/c", []string{}, nil},
		{"/nope", nil, ErrNoNode},
	}
	for _, tt := range tests {
		got, self, err := tr.ChildList(tt.path)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("ChildList(%s) error %v, want %v", tt.path, err, tt.wantErr)
			continue
		}
		if err != nil {
			continue
		}
		if want, _ := tr.Stat(tt.path); self != want {
			t.Errorf("ChildList(%s) own stat %+v, want %+v", tt.path, self, want)
		}
		var names []string
		for _, c := range got {
			names = append(names, c.Name)
			cp := Join(tt.path, c.Name)
			wantStat, _ := tr.Stat(cp)
			wantKind, _ := tr.Kind(cp)
			if c.Stat != wantStat || c.Kind != wantKind {
				t.Errorf("ChildList(%s) %s: kind %v stat %+v, want %v %+v", tt.path, c.Name, c.Kind, c.Stat, wantKind, wantStat)
			}
		}
		if fmt.Sprint(names) != fmt.Sprint(tt.wantNames) {
			t.Errorf("ChildList(%s) names %v, want %v", tt.path, names, tt.wantNames)
		}
	}
}

func TestNodeSize(t *testing.T) {
	// A node is allocated per znode; 128 bytes is a size class, and the
	// next one up is 144. Memory per node is measured by
	// BenchmarkMemoryPerNode.
	if got := unsafe.Sizeof(node{}); got > 128 {
		t.Errorf("node is %d bytes, want at most 128", got)
	}
}
