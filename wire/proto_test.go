package wire

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"testing"

	"zkfs/tree"
)

var sampleStat = Stat{
	Czxid: 0x100000002, Mzxid: 0x100000007, Ctime: 1700000000123, Mtime: 1700000000456,
	Version: 3, Cversion: 2, Aversion: 1, EphemeralOwner: 0x7200000abc, DataLength: 5,
	NumChildren: 2, Pzxid: 0x100000009,
}

var sampleACL = []ACL{
	{Perms: tree.PermAll, ID: ID{Scheme: "world", ID: "anyone"}},
	{Perms: tree.PermRead | tree.PermAdmin, ID: ID{Scheme: "digest", ID: "bob:0123456789abcdef="}},
}

// records holds one filled-in value of every record type, several for
// records with optional or variant parts.
func records() []Record {
	return []Record{
		&ConnectRequest{ProtocolVersion: 0, LastZxidSeen: 0x2a, TimeOut: 30000, SessionID: 0x7200000abc, Passwd: bytes.Repeat([]byte{9}, 16), ReadOnly: true},
		&ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), OmitReadOnly: true},
		&ConnectResponse{TimeOut: 30000, SessionID: 0x7200000abc, Passwd: bytes.Repeat([]byte{1}, 16), ReadOnly: true},
		&ConnectResponse{TimeOut: 4000, SessionID: 1, Passwd: make([]byte, 16), OmitReadOnly: true},
		&RequestHeader{Xid: 17, Type: OpGetData},
		&RequestHeader{Xid: XidPing, Type: OpPing},
		&ReplyHeader{Xid: 17, Zxid: 0x100000007, Err: tree.CodeNoNode},
		&MultiHeader{Type: OpCreate, Done: false, Err: -1},
		&AuthPacket{Type: 0, Scheme: "digest", Auth: []byte("bob:secret")},
		&GetSASLRequest{Token: []byte{1, 2, 3}},
		&SetSASLRequest{Token: []byte{}},
		&SetSASLResponse{Token: []byte("server token")},
		&PingRequest{},
		&CloseSessionRequest{},
		&WhoAmIRequest{},
		&WhoAmIResponse{ClientInfo: []ClientInfo{{AuthScheme: "ip", User: "127.0.0.1"}, {AuthScheme: "digest", User: "bob"}}},
		&WhoAmIResponse{},
		&ClientInfo{AuthScheme: "sasl", User: "zk@EXAMPLE.COM"},
		&WatcherEvent{Type: EventNodeDataChanged, State: StateSyncConnected, Path: "/a/b"},
		&CreateRequest{Path: "/a/seq-", Data: []byte("x"), ACL: sampleACL, Mode: tree.ModeEphemeralSequential},
		&CreateRequest{Path: "/empty", Data: nil, ACL: tree.OpenACL, Mode: tree.ModeContainer},
		&CreateTTLRequest{Path: "/ttl", Data: []byte{}, ACL: tree.OpenACL, Mode: tree.ModePersistentWithTTL, TTL: 60000},
		&CreateResponse{Path: "/a/seq-0000000001"},
		&Create2Response{Path: "/a", Stat: sampleStat},
		&DeleteRequest{Path: "/a", Version: -1},
		&ExistsRequest{Path: "/a", Watch: true},
		&ExistsResponse{Stat: sampleStat},
		&GetDataRequest{Path: "/a", Watch: false},
		&GetDataResponse{Data: []byte("hello"), Stat: sampleStat},
		&GetDataResponse{Data: nil, Stat: sampleStat},
		&SetDataRequest{Path: "/a", Data: []byte("new"), Version: 3},
		&SetDataResponse{Stat: sampleStat},
		&GetACLRequest{Path: "/a"},
		&GetACLResponse{ACL: sampleACL, Stat: sampleStat},
		&SetACLRequest{Path: "/a", ACL: sampleACL, Version: -1},
		&SetACLResponse{Stat: sampleStat},
		&GetChildrenRequest{Path: "/", Watch: true},
		&GetChildrenResponse{Children: []string{"zookeeper", "a"}},
		&GetChildrenResponse{},
		&GetChildren2Request{Path: "/a", Watch: true},
		&GetChildren2Response{Children: []string{"b", "c"}, Stat: sampleStat},
		&GetAllChildrenNumberRequest{Path: "/a"},
		&GetAllChildrenNumberResponse{TotalNumber: 12},
		&GetEphemeralsRequest{PrefixPath: "/"},
		&GetEphemeralsResponse{Ephemerals: []string{"/a/e1", "/b"}},
		&CheckVersionRequest{Path: "/a", Version: 2},
		&SyncRequest{Path: "/a"},
		&SyncResponse{Path: "/a"},
		&ErrorResponse{Err: tree.CodeOK},
		&ReconfigRequest{JoiningServers: "server.4=10.0.0.4:2888:3888;2181", LeavingServers: "3", NewMembers: "", CurConfigID: -1},
		&SetWatches{RelativeZxid: 0x44, DataWatches: []string{"/a"}, ExistWatches: []string{"/b", "/c"}, ChildWatches: nil},
		&SetWatches2{RelativeZxid: 0x45, DataWatches: []string{"/a"}, ChildWatches: []string{"/"}, PersistentWatches: []string{"/p"}, PersistentRecursiveWatches: []string{"/r", "/s"}},
		&AddWatchRequest{Path: "/a", Mode: AddWatchPersistentRecursive},
		&CheckWatchesRequest{Path: "/a", Type: WatcherData},
		&RemoveWatchesRequest{Path: "/a", Type: WatcherAny},
		&MultiRequest{Ops: []MultiOp{
			{Op: OpCreate, Req: &CreateRequest{Path: "/m", Data: []byte("m"), ACL: tree.OpenACL}},
			{Op: OpCreate2, Req: &CreateRequest{Path: "/m/s-", ACL: tree.OpenACL, Mode: tree.ModePersistentSequential}},
			{Op: OpCreateContainer, Req: &CreateRequest{Path: "/c", ACL: tree.OpenACL, Mode: tree.ModeContainer}},
			{Op: OpCreateTTL, Req: &CreateTTLRequest{Path: "/t", ACL: tree.OpenACL, Mode: tree.ModePersistentWithTTL, TTL: 1000}},
			{Op: OpSetData, Req: &SetDataRequest{Path: "/m", Data: []byte("n"), Version: 0}},
			{Op: OpCheck, Req: &CheckVersionRequest{Path: "/m", Version: 1}},
			{Op: OpDelete, Req: &DeleteRequest{Path: "/m/s-0000000000", Version: -1}},
		}},
		&MultiRequest{},
		&MultiReadRequest{Ops: []MultiOp{
			{Op: OpGetData, Req: &GetDataRequest{Path: "/a"}},
			{Op: OpGetChildren, Req: &GetChildrenRequest{Path: "/"}},
		}},
		&MultiResponse{Results: []MultiResult{
			{Op: OpCreate, Path: "/m"},
			{Op: OpCreate2, Path: "/m/s-0000000000", Stat: sampleStat},
			{Op: OpSetData, Stat: sampleStat},
			{Op: OpCheck},
			{Op: OpDelete},
		}},
		&MultiResponse{Results: []MultiResult{
			{Op: OpError, Err: tree.CodeOK},
			{Op: OpError, Err: tree.CodeBadVersion},
			{Op: OpError, Err: tree.CodeRuntimeInconsistency},
		}},
		&MultiResponse{Results: []MultiResult{
			{Op: OpGetData, Data: []byte("d"), Stat: sampleStat},
			{Op: OpGetChildren, Children: []string{"x", "y"}},
			{Op: OpError, Err: tree.CodeNoNode},
			{Op: OpGetData, Data: nil, Stat: sampleStat},
		}},
		&MultiResponse{},
	}
}

// newLike returns a new zero record of the same type as r.
func newLike(r Record) Record {
	return reflect.New(reflect.TypeOf(r).Elem()).Interface().(Record)
}

func TestRecordsRoundTrip(t *testing.T) {
	for i, r := range records() {
		t.Run(fmt.Sprintf("%d-%T", i, r), func(t *testing.T) {
			b := Marshal(nil, r)
			got := newLike(r)
			d := NewDecoder(b)
			if err := got.Decode(d); err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if d.Remaining() != 0 {
				t.Errorf("%d bytes left over", d.Remaining())
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("round trip:\n got %+v\nwant %+v", got, r)
			}
			if b2 := Marshal(nil, got); !bytes.Equal(b2, b) {
				t.Errorf("re-encoding differs:\n got %x\nwant %x", b2, b)
			}
		})
	}
}

// TestRecordsTruncated cuts every record's encoding at every length and
// expects ErrMalformed, except where the protocol makes the shorter form
// valid (the optional readOnly byte).
func TestRecordsTruncated(t *testing.T) {
	for i, r := range records() {
		b := Marshal(nil, r)
		for n := 0; n < len(b); n++ {
			got := newLike(r)
			err := got.Decode(NewDecoder(b[:n]))
			if optionalReadOnly(r) && n == len(b)-1 {
				if err != nil {
					t.Errorf("%d %T without readOnly: %v", i, r, err)
				}
				continue
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("%d %T cut to %d of %d bytes: err = %v", i, r, n, len(b), err)
			}
		}
	}
}

func optionalReadOnly(r Record) bool {
	switch r := r.(type) {
	case *ConnectRequest:
		return !r.OmitReadOnly
	case *ConnectResponse:
		return !r.OmitReadOnly
	}
	return false
}

// TestGoldenEncodings pins encodings against packets real clients sent to
// ZooKeeper 3.8.0 (see testdata/capture-zk-3.8.0.txt).
func TestGoldenEncodings(t *testing.T) {
	tests := []struct {
		name string
		recs []Record
		hex  string
	}{
		{
			"go-zookeeper create",
			[]Record{&RequestHeader{Xid: 1, Type: OpCreate}, &CreateRequest{Path: "/gz", Data: []byte("hello"), ACL: tree.OpenACL}},
			"0000000100000001000000032f677a0000000568656c6c6f000000010000001f00000005776f726c6400000006616e796f6e6500000000",
		},
		{
			"go-zookeeper connect, no readOnly byte",
			[]Record{&ConnectRequest{TimeOut: 4000, Passwd: make([]byte, 16), OmitReadOnly: true}},
			"00000000000000000000000000000fa000000000000000000000001000000000000000000000000000000000",
		},
		{
			"zkCli deleteall multi",
			[]Record{&RequestHeader{Xid: 42, Type: OpMulti}, &MultiRequest{Ops: []MultiOp{{Op: OpDelete, Req: &DeleteRequest{Path: "/clic", Version: -1}}}}},
			"0000002a0000000e0000000200ffffffff000000052f636c6963ffffffffffffffff01ffffffff",
		},
		{
			"java checkWatches",
			[]Record{&RequestHeader{Xid: 11, Type: OpCheckWatches}, &CheckWatchesRequest{Path: "/jv", Type: WatcherData}},
			"0000000b00000011000000032f6a7600000002",
		},
	}
	for _, tt := range tests {
		if got := hex.EncodeToString(Marshal(nil, tt.recs...)); got != tt.hex {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.hex)
		}
	}
}

func TestMultiRejectsWrongKind(t *testing.T) {
	read := Marshal(nil, &MultiReadRequest{Ops: []MultiOp{{Op: OpGetData, Req: &GetDataRequest{Path: "/a"}}}})
	write := Marshal(nil, &MultiRequest{Ops: []MultiOp{{Op: OpDelete, Req: &DeleteRequest{Path: "/a", Version: -1}}}})
	unknown := Marshal(nil, &MultiHeader{Type: OpSync, Err: -1}, &SyncRequest{Path: "/a"}, &MultiHeader{Type: -1, Done: true, Err: -1})

	tests := []struct {
		name string
		rec  Record
		in   []byte
	}{
		{"read in multi", new(MultiRequest), read},
		{"write in multiRead", new(MultiReadRequest), write},
		{"sync in multi", new(MultiRequest), unknown},
		{"sync in multiRead", new(MultiReadRequest), unknown},
	}
	for _, tt := range tests {
		err := tt.rec.Decode(NewDecoder(tt.in))
		if !errors.Is(err, ErrBadMultiOp) || !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrBadMultiOp", tt.name, err)
		}
	}
}

func TestMultiResponseRejectsUnknownType(t *testing.T) {
	in := Marshal(nil, &MultiHeader{Type: OpSync}, &SyncResponse{Path: "/a"}, &MultiHeader{Type: -1, Done: true, Err: -1})
	var r MultiResponse
	if err := r.Decode(NewDecoder(in)); !errors.Is(err, ErrMalformed) || r.Results != nil {
		t.Errorf("Decode = %v, results %v", err, r.Results)
	}
}

// TestMultiResponseCreateVariants checks that container and TTL creates are
// sent as create2, the only type ZooKeeper's clients accept for them.
func TestMultiResponseCreateVariants(t *testing.T) {
	for _, op := range []OpCode{OpCreateContainer, OpCreateTTL} {
		in := &MultiResponse{Results: []MultiResult{{Op: op, Path: "/c", Stat: sampleStat}}}
		var got MultiResponse
		if err := Unmarshal(Marshal(nil, in), &got); err != nil {
			t.Fatal(err)
		}
		want := MultiResult{Op: OpCreate2, Path: "/c", Stat: sampleStat}
		if len(got.Results) != 1 || !reflect.DeepEqual(got.Results[0], want) {
			t.Errorf("%v result decoded as %+v, want %+v", op, got.Results, want)
		}
	}
}

func TestMultiResponseEncodePanicsOnBadOp(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("encoding a sync result did not panic")
		}
	}()
	Marshal(nil, &MultiResponse{Results: []MultiResult{{Op: OpSync}}})
}

func TestConnectReadOnlyIsOptional(t *testing.T) {
	full := Marshal(nil, &ConnectRequest{TimeOut: 10, Passwd: []byte{}, ReadOnly: true})
	var r ConnectRequest
	if err := Unmarshal(full[:len(full)-1], &r); err != nil || !r.OmitReadOnly || r.ReadOnly {
		t.Errorf("without readOnly: %+v, %v", r, err)
	}
	if err := Unmarshal(full, &r); err != nil || r.OmitReadOnly || !r.ReadOnly {
		t.Errorf("with readOnly: %+v, %v", r, err)
	}
}

func TestStringers(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{OpCreate2.String(), "create2"},
		{OpCloseSession.String(), "closeSession"},
		{OpCode(55).String(), "unknown(55)"},
		{EventNodeChildrenChanged.String(), "NodeChildrenChanged"},
		{EventPersistentWatchRemoved.String(), "PersistentWatchRemoved"},
		{EventType(99).String(), "Unknown(99)"},
		{StateExpired.String(), "Expired"},
		{StateSyncConnected.String(), "SyncConnected"},
		{KeeperState(42).String(), "Unknown(42)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

// TestEventTypesMatchTree checks the wire's event numbers agree with the
// tree's, so the server may convert one to the other.
func TestEventTypesMatchTree(t *testing.T) {
	pairs := []struct {
		tree tree.EventType
		wire EventType
	}{
		{tree.EventNodeCreated, EventNodeCreated},
		{tree.EventNodeDeleted, EventNodeDeleted},
		{tree.EventNodeDataChanged, EventNodeDataChanged},
		{tree.EventNodeChildrenChanged, EventNodeChildrenChanged},
	}
	for _, p := range pairs {
		if int32(p.tree) != int32(p.wire) || p.tree.String() != p.wire.String() {
			t.Errorf("tree %v (%d) vs wire %v (%d)", p.tree, p.tree, p.wire, p.wire)
		}
	}
}
