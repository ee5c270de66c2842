package tree

import (
	"errors"
	"reflect"
	"testing"
)

func TestNodeCodecRoundTrip(t *testing.T) {
	tests := []NodeRecord{
		{},
		{Czxid: 1, Mzxid: 1, Pzxid: 1, Ctime: 1700000000000, Mtime: 1700000000000},
		{Czxid: 1 << 40, Mzxid: 5, Pzxid: -1, Ctime: -3, Mtime: 1 << 62, Version: -1, Cversion: 1 << 30, Aversion: -1,
			NumChildren: 3, EphemeralOwner: ContainerOwner, Kind: KindDir, Data: []byte{0, 1, 2},
			ACL: []ACL{{PermAll, ID{"world", "anyone"}}, {PermRead, ID{"digest", "a:b"}}}},
		{EphemeralOwner: TTLOwner(MaxTTL), Data: make([]byte, 1000)},
		{EphemeralOwner: 0x1000000abcdef},
	}
	for i, want := range tests {
		enc := EncodeNode(want)
		if enc[0] != nodeEncodingV2 {
			t.Errorf("%d: first byte %d", i, enc[0])
		}
		got, err := DecodeNode(enc)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%d: decoded %+v, want %+v", i, got, want)
		}
		// Every truncation, and any trailing byte, is an error.
		for n := 0; n < len(enc); n++ {
			if _, err := DecodeNode(enc[:n]); !errors.Is(err, ErrCorruptRecord) {
				t.Errorf("%d: truncated to %d: %v", i, n, err)
			}
		}
		if _, err := DecodeNode(append(enc, 0)); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%d: trailing byte: %v", i, err)
		}
	}
	small := EncodeNode(NodeRecord{Czxid: 1 << 33, Mzxid: 1 << 33, Pzxid: 1 << 33, Ctime: 1700000000000, Mtime: 1700000000000,
		ACL: OpenACL, Data: make([]byte, 100)})
	if len(small) > 140 {
		t.Errorf("a 100-byte node encodes to %d bytes", len(small))
	}
}

func TestDecodeNodeRejects(t *testing.T) {
	valid := EncodeNode(NodeRecord{Data: []byte("x")})
	tests := []struct {
		name  string
		value []byte
	}{
		{"empty", nil},
		{"version 3", append([]byte{3}, valid[1:]...)},
		{"bad kind", EncodeNode(NodeRecord{Kind: 7})},
		{"negative children", EncodeNode(NodeRecord{NumChildren: -1})},
		{"huge acl count", append(valid[:len(valid)-1], 0xff, 0xff, 0xff, 0x7f)},
	}
	for _, tt := range tests {
		if _, err := DecodeNode(tt.value); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

func TestSessionCodec(t *testing.T) {
	want := Session{ID: 0x1234, Timeout: 30000, Password: []byte("0123456789abcdef")}
	enc := EncodeSession(want)
	got, err := DecodeSession(0x1234, enc)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("DecodeSession = %+v, %v; want %+v", got, err, want)
	}
	for n := 0; n < len(enc); n++ {
		if _, err := DecodeSession(1, enc[:n]); !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("truncated to %d: %v", n, err)
		}
	}
}

func TestTakeChanges(t *testing.T) {
	tr := New(Config{})
	var paths []string
	for _, r := range tr.TakeChanges() {
		paths = append(paths, r.Path)
	}
	if want := []string{"/", "/zookeeper", "/zookeeper/config", "/zookeeper/quota"}; !reflect.DeepEqual(paths, want) {
		t.Errorf("first changes %v, want %v", paths, want)
	}
	if got := tr.TakeChanges(); len(got) != 0 {
		t.Errorf("changes twice: %v", got)
	}
	mustApply(t, tr, hdr(1), CreateSession{ID: 9, Timeout: 10})
	mustApply(t, tr, Header{Zxid: 2, Session: 9}, Create{Path: "/e", ACL: OpenACL, Mode: ModeEphemeral})
	mustApply(t, tr, hdr(3), Create{Path: "/b", ACL: OpenACL})
	tr.Apply(hdr(4), Create{Path: "/b", ACL: OpenACL}) // fails: no change
	got := tr.TakeChanges()
	type key struct {
		typ  RecordType
		path string
		id   int64
		gone bool
	}
	var keys []key
	for _, r := range got {
		keys = append(keys, key{r.Type, r.Path, r.Session, r.Value == nil})
	}
	want := []key{{RecordNode, "/", 0, false}, {RecordNode, "/b", 0, false}, {RecordNode, "/e", 0, false}, {RecordSession, "", 9, false}}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("changes %v, want %v", keys, want)
	}
	nr, err := DecodeNode(got[0].Value)
	if err != nil || nr.NumChildren != 3 || nr.Cversion != 2 || nr.Pzxid != 3 {
		t.Errorf("root record %+v, %v", nr, err)
	}
	mustApply(t, tr, hdr(5), CloseSession{ID: 9})
	keys = nil
	for _, r := range tr.TakeChanges() {
		keys = append(keys, key{r.Type, r.Path, r.Session, r.Value == nil})
	}
	want = []key{{RecordNode, "/", 0, false}, {RecordNode, "/e", 0, true}, {RecordSession, "", 9, true}}
	if !reflect.DeepEqual(keys, want) {
		t.Errorf("changes after close %v, want %v", keys, want)
	}
}

func TestLoaderRejects(t *testing.T) {
	node := func(r NodeRecord) []byte {
		if r.ACL == nil {
			r.ACL = OpenACL
		}
		return EncodeNode(r)
	}
	root := Record{Type: RecordNode, Path: "/", Value: node(NodeRecord{NumChildren: 1, Kind: KindDir})}
	tests := []struct {
		name    string
		records []Record
		addErr  bool
	}{
		{"no root", nil, false},
		{"missing parent", []Record{root, {Type: RecordNode, Path: "/a/b", Value: node(NodeRecord{})}}, false},
		{"child count", []Record{root}, false},
		{"child count high", []Record{root, {Type: RecordNode, Path: "/a", Value: node(NodeRecord{})}, {Type: RecordNode, Path: "/b", Value: node(NodeRecord{})}}, false},
		{"file with children", []Record{
			{Type: RecordNode, Path: "/", Value: node(NodeRecord{NumChildren: 1})},
			{Type: RecordNode, Path: "/a", Value: node(NodeRecord{})},
		}, false},
		{"ephemeral without session", []Record{root, {Type: RecordNode, Path: "/a", Value: node(NodeRecord{EphemeralOwner: 5})}}, false},
		{"child of ephemeral", []Record{root,
			{Type: RecordSession, Session: 5, Value: EncodeSession(Session{})},
			{Type: RecordNode, Path: "/a", Value: node(NodeRecord{EphemeralOwner: 5, NumChildren: 1, Kind: KindDir})},
			{Type: RecordNode, Path: "/a/b", Value: node(NodeRecord{})},
		}, false},
		{"node twice", []Record{root, root}, true}, // root has children: found by Add
		{"leaf twice", []Record{root, {Type: RecordNode, Path: "/a", Value: node(NodeRecord{})}, {Type: RecordNode, Path: "/a", Value: node(NodeRecord{})}}, false},
		{"session twice", []Record{{Type: RecordSession, Session: 5, Value: EncodeSession(Session{})}, {Type: RecordSession, Session: 5, Value: EncodeSession(Session{})}}, true},
		{"deletion record", []Record{{Type: RecordNode, Path: "/"}}, true},
		{"bad path", []Record{{Type: RecordNode, Path: "/a/", Value: node(NodeRecord{})}}, true},
		{"corrupt value", []Record{{Type: RecordNode, Path: "/", Value: []byte{1, 2}}}, true},
		{"unknown type", []Record{{Type: 9, Value: []byte{1}}}, true},
		{"session 0", []Record{{Type: RecordSession, Session: 0, Value: EncodeSession(Session{})}}, true},
	}
	for _, tt := range tests {
		l := NewLoader(Config{})
		var err error
		for _, r := range tt.records {
			if err = l.Add(r); err != nil {
				break
			}
		}
		if (err != nil) != tt.addErr {
			t.Errorf("%s: Add error %v, want error %v", tt.name, err, tt.addErr)
			continue
		}
		if err == nil {
			_, err = l.Finish(1)
		}
		if !errors.Is(err, ErrCorruptRecord) {
			t.Errorf("%s: %v, want ErrCorruptRecord", tt.name, err)
		}
	}
}

func TestLoaderAcceptsAnyOrder(t *testing.T) {
	tr := New(Config{})
	mustApply(t, tr, hdr(1), CreateSession{ID: 77, Timeout: 5})
	for i, p := range []string{"/a", "/a/b", "/a/b/c", "/z"} {
		mustApply(t, tr, hdr(int64(i+2)), Create{Path: p, ACL: OpenACL})
	}
	mustApply(t, tr, Header{Zxid: 8, Session: 77}, Create{Path: "/a/b/e", ACL: OpenACL, Mode: ModeEphemeral})
	recs := tr.TakeChanges()
	// Children first, sessions last: the reverse of TakeChanges's order.
	l := NewLoader(Config{})
	for i := len(recs) - 1; i >= 0; i-- {
		if err := l.Add(recs[i]); err != nil {
			t.Fatal(err)
		}
	}
	got, err := l.Finish(8)
	if err != nil {
		t.Fatal(err)
	}
	if s1, s2 := state(t, got), state(t, tr); s1 != s2 {
		t.Errorf("loaded:\n%s\nwant:\n%s", s1, s2)
	}
	if eph := got.Ephemerals(77); !reflect.DeepEqual(eph, []string{"/a/b/e"}) {
		t.Errorf("ephemerals %v", eph)
	}
	if changes := got.TakeChanges(); len(changes) != 0 {
		t.Errorf("a loaded tree has %d pending changes", len(changes))
	}
}

func TestNodeRecordKeepsEmptyDataApartFromNone(t *testing.T) {
	tests := []struct {
		name string
		data []byte
	}{
		{"none", nil},
		{"empty", []byte{}},
		{"some", []byte("x")},
	}
	for _, tt := range tests {
		got, err := DecodeNode(EncodeNode(NodeRecord{Data: tt.data, ACL: OpenACL}))
		if err != nil {
			t.Fatal(err)
		}
		if (got.Data == nil) != (tt.data == nil) || string(got.Data) != string(tt.data) {
			t.Errorf("%s: got %#v, want %#v", tt.name, got.Data, tt.data)
		}
	}
	tr := New(Config{})
	tr.Apply(Header{Zxid: 1}, Create{Path: "/empty", Data: []byte{}, ACL: OpenACL})
	tr.Apply(Header{Zxid: 2}, Create{Path: "/none", ACL: OpenACL})
	if d, _, _ := tr.Get("/empty"); d == nil {
		t.Error("empty data came back as none")
	}
	if d, _, _ := tr.Get("/none"); d != nil {
		t.Errorf("no data came back as %#v", d)
	}
}
