package wire

import (
	"errors"
	"fmt"
)

// ErrBadMultiOp reports an operation that may not appear in the multi being
// decoded: a read in a multi, a write in a multiRead, or an unknown type.
var ErrBadMultiOp = fmt.Errorf("%w: operation not allowed in this multi", ErrMalformed)

// MultiHeader precedes each operation of a multi request and each result of
// a multi response. A header with Done set ends the list; ZooKeeper writes
// it as {-1, true, -1}.
type MultiHeader struct {
	Type OpCode
	Done bool
	Err  int32
}

// Encode appends the header.
func (r *MultiHeader) Encode(e *Encoder) {
	e.Int(int32(r.Type))
	e.Bool(r.Done)
	e.Int(r.Err)
}

// Decode reads the header.
func (r *MultiHeader) Decode(d *Decoder) error {
	r.Type = OpCode(d.Int())
	r.Done = d.Bool()
	r.Err = d.Int()
	return d.Err()
}

// multiEnd terminates both multi requests and multi responses.
var multiEnd = MultiHeader{Type: -1, Done: true, Err: -1}

// MultiOp is one operation of a multi or multiRead. Op tells create, create2
// and createContainer apart, which share CreateRequest.
type MultiOp struct {
	Op OpCode
	// Req is *CreateRequest (OpCreate, OpCreate2, OpCreateContainer),
	// *CreateTTLRequest, *DeleteRequest, *SetDataRequest or
	// *CheckVersionRequest in a multi; *GetDataRequest or
	// *GetChildrenRequest in a multiRead.
	Req Request
}

func encodeMultiOps(e *Encoder, ops []MultiOp) {
	for _, op := range ops {
		// ZooKeeper's client sends -1 in the err field of request headers.
		h := MultiHeader{Type: op.Op, Err: -1}
		h.Encode(e)
		op.Req.Encode(e)
	}
	end := multiEnd
	end.Encode(e)
}

// decodeMultiOps reads the operations of a multi of the given kind; the
// opcode table says which operations each kind may hold (ZooKeeper refuses
// to mix reads and writes in one multi), and their bodies.
func decodeMultiOps(d *Decoder, kind multiKind) []MultiOp {
	var out []MultiOp
	for d.Err() == nil {
		var h MultiHeader
		if h.Decode(d) != nil || h.Done {
			break
		}
		info := ops[h.Type]
		if info.multi != kind || info.request == nil {
			d.Fail(fmt.Errorf("%w: %v", ErrBadMultiOp, h.Type))
			break
		}
		req := info.request()
		req.Decode(d)
		out = append(out, MultiOp{Op: h.Type, Req: req})
	}
	if d.Err() != nil {
		return nil
	}
	return out
}

// MultiRequest is the body of multi: writes applied all or nothing.
type MultiRequest struct {
	Ops []MultiOp
}

// Encode appends the request.
func (r *MultiRequest) Encode(e *Encoder) { encodeMultiOps(e, r.Ops) }

// Decode reads the request. It fails with ErrBadMultiOp for a read or an
// unknown operation.
func (r *MultiRequest) Decode(d *Decoder) error {
	r.Ops = decodeMultiOps(d, multiWrite)
	return d.Err()
}

// MultiReadRequest is the body of multiRead: reads answered together, each
// succeeding or failing on its own.
type MultiReadRequest struct {
	Ops []MultiOp
}

// Encode appends the request.
func (r *MultiReadRequest) Encode(e *Encoder) { encodeMultiOps(e, r.Ops) }

// Decode reads the request. It fails with ErrBadMultiOp for a write or an
// unknown operation.
func (r *MultiReadRequest) Decode(d *Decoder) error {
	r.Ops = decodeMultiOps(d, multiRead)
	return d.Err()
}

// MultiResult is one result of a multi or multiRead. Only the fields that
// belong to Op are sent:
//
//	OpCreate       Path
//	OpCreate2      Path, Stat (also for createContainer and createTTL)
//	OpDelete       nothing
//	OpCheck        nothing
//	OpSetData      Stat
//	OpGetData      Data, Stat
//	OpGetChildren  Children
//	OpError        Err
//
// When a multi fails, ZooKeeper reports every operation as OpError: Err 0
// for those before the failing one, its code for the failing one, and
// RuntimeInconsistency for those after.
type MultiResult struct {
	Op       OpCode
	Err      int32
	Path     string
	Stat     Stat
	Data     []byte
	Children []string
}

// MultiResponse answers multi and multiRead. Its reply header carries Err 0
// even when operations failed: the failures are in the results.
type MultiResponse struct {
	Results []MultiResult
}

// Encode appends the response. OpCreateContainer and OpCreateTTL results are
// sent as OpCreate2, the only type ZooKeeper's clients accept for them. An
// Op outside the table on MultiResult is a programming error and panics.
func (r *MultiResponse) Encode(e *Encoder) {
	for i := range r.Results {
		res := &r.Results[i]
		h := MultiHeader{Type: res.Op}
		switch res.Op {
		case OpCreateContainer, OpCreateTTL:
			h.Type = OpCreate2
		case OpError:
			h.Err = res.Err
		}
		h.Encode(e)
		switch h.Type {
		case OpCreate:
			e.String(res.Path)
		case OpCreate2:
			e.String(res.Path)
			e.Stat(&res.Stat)
		case OpDelete, OpCheck:
		case OpSetData:
			e.Stat(&res.Stat)
		case OpGetData:
			e.Buffer(res.Data)
			e.Stat(&res.Stat)
		case OpGetChildren:
			e.Strings(res.Children)
		case OpError:
			e.Int(res.Err)
		default:
			panic(fmt.Sprintf("wire: MultiResult with op %v cannot be encoded", res.Op))
		}
	}
	end := multiEnd
	end.Encode(e)
}

// errBadMultiResult reports a result type a multi response cannot hold.
var errBadMultiResult = errors.New("invalid result type in multi response")

// Decode reads the response.
func (r *MultiResponse) Decode(d *Decoder) error {
	r.Results = nil
	for d.Err() == nil {
		var h MultiHeader
		if h.Decode(d) != nil || h.Done {
			break
		}
		res := MultiResult{Op: h.Type}
		switch h.Type {
		case OpCreate:
			res.Path = d.String()
		case OpCreate2:
			res.Path = d.String()
			res.Stat = d.Stat()
		case OpDelete, OpCheck:
		case OpSetData:
			res.Stat = d.Stat()
		case OpGetData:
			res.Data = d.Buffer()
			res.Stat = d.Stat()
		case OpGetChildren:
			res.Children = d.Strings()
		case OpError:
			// The body's code is authoritative; Java clients read only it.
			res.Err = d.Int()
		default:
			d.Fail(fmt.Errorf("%w: %v", errBadMultiResult, h.Type))
		}
		r.Results = append(r.Results, res)
	}
	if d.Err() != nil {
		r.Results = nil
	}
	return d.Err()
}
