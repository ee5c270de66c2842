package wire

import (
	"errors"
	"reflect"
	"testing"

	"zkfs/tree"
)

func TestDecodeRequestTypes(t *testing.T) {
	tests := []struct {
		op   OpCode
		want Request
	}{
		{OpCreate, &CreateRequest{Path: "/a"}},
		{OpCreate2, &CreateRequest{Path: "/a"}},
		{OpCreateContainer, &CreateRequest{Path: "/a", Mode: 4}},
		{OpCreateTTL, &CreateTTLRequest{Path: "/a", Mode: 5, TTL: 9}},
		{OpDelete, &DeleteRequest{Path: "/a", Version: -1}},
		{OpExists, &ExistsRequest{Path: "/a", Watch: true}},
		{OpGetData, &GetDataRequest{Path: "/a", Watch: true}},
		{OpSetData, &SetDataRequest{Path: "/a", Data: []byte("x"), Version: 1}},
		{OpGetACL, &GetACLRequest{Path: "/a"}},
		{OpSetACL, &SetACLRequest{Path: "/a", ACL: sampleACL, Version: 2}},
		{OpGetChildren, &GetChildrenRequest{Path: "/a"}},
		{OpGetChildren2, &GetChildren2Request{Path: "/a", Watch: true}},
		{OpGetAllChildrenNumber, &GetAllChildrenNumberRequest{Path: "/a"}},
		{OpGetEphemerals, &GetEphemeralsRequest{PrefixPath: "/a"}},
		{OpCheck, &CheckVersionRequest{Path: "/a", Version: 3}},
		{OpSync, &SyncRequest{Path: "/a"}},
		{OpMulti, &MultiRequest{Ops: []MultiOp{{Op: OpCheck, Req: &CheckVersionRequest{Path: "/a"}}}}},
		{OpMultiRead, &MultiReadRequest{Ops: []MultiOp{{Op: OpGetChildren, Req: &GetChildrenRequest{Path: "/a"}}}}},
		{OpPing, &PingRequest{}},
		{OpCloseSession, &CloseSessionRequest{}},
		{OpWhoAmI, &WhoAmIRequest{}},
		{OpAuth, &AuthPacket{Scheme: "digest", Auth: []byte("u:p")}},
		{OpSASL, &GetSASLRequest{Token: []byte{1}}},
		{OpSetWatches, &SetWatches{RelativeZxid: 5, DataWatches: []string{"/a"}}},
		{OpSetWatches2, &SetWatches2{RelativeZxid: 5, PersistentWatches: []string{"/a"}}},
		{OpAddWatch, &AddWatchRequest{Path: "/a", Mode: AddWatchPersistent}},
		{OpCheckWatches, &CheckWatchesRequest{Path: "/a", Type: WatcherChildren}},
		{OpRemoveWatches, &RemoveWatchesRequest{Path: "/a", Type: WatcherAny}},
		{OpReconfig, &ReconfigRequest{JoiningServers: "server.1=h:1:2", CurConfigID: -1}},
	}
	covered := map[OpCode]bool{}
	for _, tt := range tests {
		covered[tt.op] = true
		got, err := DecodeRequest(tt.op, Marshal(nil, tt.want))
		if err != nil {
			t.Errorf("%v: %v", tt.op, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%v: got %#v, want %#v", tt.op, got, tt.want)
		}
	}
	for op, info := range ops {
		if info.request != nil && !covered[op] {
			t.Errorf("dispatch table serves %v but the test does not cover it", op)
		}
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	tests := []struct {
		name string
		op   OpCode
		body []byte
		want error
	}{
		{"unknown opcode", 55, nil, ErrUnknownOpcode},
		{"server-internal createSession", OpCreateSession, nil, ErrUnknownOpcode},
		{"server-internal deleteContainer", OpDeleteContainer, []byte{0, 0, 0, 0}, ErrUnknownOpcode},
		{"notification is not a request", OpNotification, nil, ErrUnknownOpcode},
		{"empty getData", OpGetData, nil, ErrMalformed},
		{"getData missing watch", OpGetData, []byte{0, 0, 0, 1, '/'}, ErrMalformed},
		{"create with lying ACL count", OpCreate, []byte{0, 0, 0, 1, '/', 0, 0, 0, 0, 0x7f, 0, 0, 0, 0, 0, 0, 0}, ErrMalformed},
		{"multi without terminator", OpMulti, Marshal(nil, &MultiHeader{Type: OpDelete, Err: -1}, &DeleteRequest{Path: "/a"}), ErrMalformed},
		{"multiRead with a write", OpMultiRead, Marshal(nil, &MultiRequest{Ops: []MultiOp{{Op: OpDelete, Req: &DeleteRequest{Path: "/a"}}}}), ErrBadMultiOp},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := DecodeRequest(tt.op, tt.body)
			if !errors.Is(err, tt.want) || r != nil {
				t.Errorf("DecodeRequest = %v, %v; want %v", r, err, tt.want)
			}
		})
	}
	// The server answers an unknown opcode with Unimplemented and a bad body
	// with MarshallingError.
	_, err := DecodeRequest(55, nil)
	if got := CodeOf(err); got != tree.CodeUnimplemented {
		t.Errorf("CodeOf(unknown opcode) = %d", got)
	}
	_, err = DecodeRequest(OpGetData, nil)
	if got := CodeOf(err); got != tree.CodeMarshallingError {
		t.Errorf("CodeOf(malformed) = %d", got)
	}
}

func TestDecodeRequestIgnoresTrailingBytes(t *testing.T) {
	body := append(Marshal(nil, &SyncRequest{Path: "/a"}), 1, 2, 3)
	got, err := DecodeRequest(OpSync, body)
	if err != nil || !reflect.DeepEqual(got, &SyncRequest{Path: "/a"}) {
		t.Errorf("DecodeRequest = %#v, %v", got, err)
	}
}

func TestResponseTable(t *testing.T) {
	for op, info := range ops {
		if _, ok := NewResponse(op); ok != (info.request != nil) {
			t.Errorf("NewResponse(%v): known %v, but served %v", op, ok, info.request != nil)
		}
	}
	bodyless := []OpCode{OpDelete, OpPing, OpCloseSession, OpAuth, OpSetWatches, OpSetWatches2, OpCheckWatches, OpRemoveWatches}
	for _, op := range bodyless {
		r, ok := NewResponse(op)
		if !ok || r != nil {
			t.Errorf("NewResponse(%v) = %v, %v; want no body", op, r, ok)
		}
		if r, err := DecodeResponse(op, nil); r != nil || err != nil {
			t.Errorf("DecodeResponse(%v) = %v, %v", op, r, err)
		}
	}
	typed := map[OpCode]Record{
		OpCreate:          new(CreateResponse),
		OpCreate2:         new(Create2Response),
		OpCreateContainer: new(Create2Response),
		OpCreateTTL:       new(Create2Response),
		OpAddWatch:        new(ErrorResponse),
		OpReconfig:        new(GetDataResponse),
		OpMultiRead:       new(MultiResponse),
		OpSASL:            new(SetSASLResponse),
		OpCheck:           new(SetDataResponse),
	}
	for op, want := range typed {
		r, _ := NewResponse(op)
		if reflect.TypeOf(r) != reflect.TypeOf(want) {
			t.Errorf("NewResponse(%v) = %T, want %T", op, r, want)
		}
	}
	if _, err := DecodeResponse(55, nil); !errors.Is(err, ErrUnknownOpcode) {
		t.Errorf("DecodeResponse(55) = %v", err)
	}
	if _, err := DecodeResponse(OpExists, []byte{1}); !errors.Is(err, ErrMalformed) {
		t.Errorf("DecodeResponse(truncated exists) = %v", err)
	}
}

func TestParseRequest(t *testing.T) {
	pkt := Marshal(nil, &RequestHeader{Xid: 7, Type: OpExists}, &ExistsRequest{Path: "/a", Watch: true})
	h, r, err := ParseRequest(pkt)
	if err != nil || h != (RequestHeader{Xid: 7, Type: OpExists}) || !reflect.DeepEqual(r, &ExistsRequest{Path: "/a", Watch: true}) {
		t.Errorf("ParseRequest = %+v, %#v, %v", h, r, err)
	}

	h, r, err = ParseRequest(Marshal(nil, &RequestHeader{Xid: 8, Type: 55}))
	if !errors.Is(err, ErrUnknownOpcode) || h.Xid != 8 || r != nil {
		t.Errorf("unknown opcode: %+v, %v, %v; want the header back", h, r, err)
	}

	h, r, err = ParseRequest(Marshal(nil, &RequestHeader{Xid: 9, Type: OpGetData}))
	if !errors.Is(err, ErrMalformed) || h.Xid != 9 || r != nil {
		t.Errorf("missing body: %+v, %v, %v; want the header back", h, r, err)
	}

	for n := 0; n < 8; n++ {
		if _, _, err := ParseRequest(pkt[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("%d-byte packet: %v", n, err)
		}
	}
}

func TestOpNames(t *testing.T) {
	tests := []struct {
		op           OpCode
		name, abbrev string
		write        bool
	}{
		{OpCreate2, "create2", "CREA", true},
		{OpGetChildren2, "getChildren2", "GETC", false},
		{OpSync, "sync", "SYNC", false},
		{OpCreateSession, "createSession", "NA", false},
		{OpCode(55), "unknown(55)", "NA", false},
	}
	for _, tt := range tests {
		if got := tt.op.String(); got != tt.name {
			t.Errorf("%d: String() = %q, want %q", int32(tt.op), got, tt.name)
		}
		if got := tt.op.Abbrev(); got != tt.abbrev {
			t.Errorf("%v: Abbrev() = %q, want %q", tt.op, got, tt.abbrev)
		}
		if got := tt.op.IsWrite(); got != tt.write {
			t.Errorf("%v: IsWrite() = %v, want %v", tt.op, got, tt.write)
		}
	}
}
