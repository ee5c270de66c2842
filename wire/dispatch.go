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

// DecodeRequest decodes the body of a request of type op (the bytes after
// the RequestHeader). For an opcode it does not know it returns an error
// wrapping ErrUnknownOpcode; for a bad body, one wrapping ErrMalformed.
// Trailing bytes after the body are ignored, as ZooKeeper ignores them.
func DecodeRequest(op OpCode, body []byte) (Request, error) {
	newReq := ops[op].request
	if newReq == nil {
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
	info := ops[op]
	if info.request == nil {
		return nil, false
	}
	newResp := info.response
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
