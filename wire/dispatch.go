package wire

import (
	"errors"
	"fmt"
)

// ErrUnknownOpcode reports a request type zkfs does not serve. The request's
// header was read, so the server can answer Unimplemented and keep the
// connection, as ZooKeeper does.
var ErrUnknownOpcode = errors.New("wire: unknown opcode")

// Request is the body of a client request, one of the *...Request types of
// this package (plus SetWatches, SetWatches2 and AuthPacket).
type Request interface {
	Record
}

// requests maps each opcode a client may send to its body. Opcodes that
// share a body (create, create2, createContainer) share a type; the server
// tells them apart by the opcode.
var requests = map[OpCode]func() Request{
	OpCreate:               func() Request { return new(CreateRequest) },
	OpCreate2:              func() Request { return new(CreateRequest) },
	OpCreateContainer:      func() Request { return new(CreateRequest) },
	OpCreateTTL:            func() Request { return new(CreateTTLRequest) },
	OpDelete:               func() Request { return new(DeleteRequest) },
	OpExists:               func() Request { return new(ExistsRequest) },
	OpGetData:              func() Request { return new(GetDataRequest) },
	OpSetData:              func() Request { return new(SetDataRequest) },
	OpGetACL:               func() Request { return new(GetACLRequest) },
	OpSetACL:               func() Request { return new(SetACLRequest) },
	OpGetChildren:          func() Request { return new(GetChildrenRequest) },
	OpGetChildren2:         func() Request { return new(GetChildren2Request) },
	OpGetAllChildrenNumber: func() Request { return new(GetAllChildrenNumberRequest) },
	OpGetEphemerals:        func() Request { return new(GetEphemeralsRequest) },
	OpCheck:                func() Request { return new(CheckVersionRequest) },
	OpSync:                 func() Request { return new(SyncRequest) },
	OpMulti:                func() Request { return new(MultiRequest) },
	OpMultiRead:            func() Request { return new(MultiReadRequest) },
	OpPing:                 func() Request { return new(PingRequest) },
	OpCloseSession:         func() Request { return new(CloseSessionRequest) },
	OpWhoAmI:               func() Request { return new(WhoAmIRequest) },
	OpAuth:                 func() Request { return new(AuthPacket) },
	OpSASL:                 func() Request { return new(GetSASLRequest) },
	OpSetWatches:           func() Request { return new(SetWatches) },
	OpSetWatches2:          func() Request { return new(SetWatches2) },
	OpAddWatch:             func() Request { return new(AddWatchRequest) },
	OpCheckWatches:         func() Request { return new(CheckWatchesRequest) },
	OpRemoveWatches:        func() Request { return new(RemoveWatchesRequest) },
	OpReconfig:             func() Request { return new(ReconfigRequest) },
}

// responses maps each opcode to the body of its successful reply; nil means
// the reply is the header alone. Replies with a non-zero error code never
// have a body.
var responses = map[OpCode]func() Record{
	OpCreate:               func() Record { return new(CreateResponse) },
	OpCreate2:              func() Record { return new(Create2Response) },
	OpCreateContainer:      func() Record { return new(Create2Response) },
	OpCreateTTL:            func() Record { return new(Create2Response) },
	OpDelete:               nil,
	OpExists:               func() Record { return new(ExistsResponse) },
	OpGetData:              func() Record { return new(GetDataResponse) },
	OpSetData:              func() Record { return new(SetDataResponse) },
	OpGetACL:               func() Record { return new(GetACLResponse) },
	OpSetACL:               func() Record { return new(SetACLResponse) },
	OpGetChildren:          func() Record { return new(GetChildrenResponse) },
	OpGetChildren2:         func() Record { return new(GetChildren2Response) },
	OpGetAllChildrenNumber: func() Record { return new(GetAllChildrenNumberResponse) },
	OpGetEphemerals:        func() Record { return new(GetEphemeralsResponse) },
	// A check outside a multi is answered like setData: ZooKeeper 3.8's
	// FinalRequestProcessor does so, though its Java client never sends one.
	OpCheck:         func() Record { return new(SetDataResponse) },
	OpSync:          func() Record { return new(SyncResponse) },
	OpMulti:         func() Record { return new(MultiResponse) },
	OpMultiRead:     func() Record { return new(MultiResponse) },
	OpPing:          nil,
	OpCloseSession:  nil,
	OpWhoAmI:        func() Record { return new(WhoAmIResponse) },
	OpAuth:          nil,
	OpSASL:          func() Record { return new(SetSASLResponse) },
	OpSetWatches:    nil,
	OpSetWatches2:   nil,
	OpAddWatch:      func() Record { return new(ErrorResponse) },
	OpCheckWatches:  nil,
	OpRemoveWatches: nil,
	OpReconfig:      func() Record { return new(GetDataResponse) },
}

// DecodeRequest decodes the body of a request of type op (the bytes after
// the RequestHeader). For an opcode it does not know it returns an error
// wrapping ErrUnknownOpcode; for a bad body, one wrapping ErrMalformed.
// Trailing bytes after the body are ignored, as ZooKeeper ignores them.
func DecodeRequest(op OpCode, body []byte) (Request, error) {
	newReq, ok := requests[op]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOpcode, int32(op))
	}
	r := newReq()
	if err := r.Decode(NewDecoder(body)); err != nil {
		return nil, fmt.Errorf("%v request: %w", op, err)
	}
	return r, nil
}

// ParseRequest splits a request packet (a frame's payload, after the
// connect handshake) into its header and decoded body. The header is
// returned whenever its 8 bytes are there, even with an error, so that the
// server can answer the request's xid with CodeOf(err): Unimplemented for an
// unknown opcode, MarshallingError for a bad body.
func ParseRequest(pkt []byte) (RequestHeader, Request, error) {
	var h RequestHeader
	if err := h.Decode(NewDecoder(pkt)); err != nil {
		return RequestHeader{}, nil, fmt.Errorf("request header: %w", err)
	}
	r, err := DecodeRequest(h.Type, pkt[8:])
	return h, r, err
}

// NewResponse returns an empty response body for a successful request of
// type op, nil if such replies have no body. The boolean is false for an
// unknown opcode.
func NewResponse(op OpCode) (Record, bool) {
	newResp, ok := responses[op]
	if !ok {
		return nil, false
	}
	if newResp == nil {
		return nil, true
	}
	return newResp(), true
}

// DecodeResponse decodes the body of a successful reply to a request of type
// op; it returns nil for replies that have no body. It is the client's side
// of DecodeRequest, for tests and tools.
func DecodeResponse(op OpCode, body []byte) (Record, error) {
	r, ok := NewResponse(op)
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownOpcode, int32(op))
	}
	if r == nil {
		return nil, nil
	}
	if err := r.Decode(NewDecoder(body)); err != nil {
		return nil, fmt.Errorf("%v response: %w", op, err)
	}
	return r, nil
}
