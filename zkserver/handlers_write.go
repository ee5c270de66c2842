package zkserver

import (
	"zkfs/tree"
	"zkfs/wire"
)

// writeOp converts a write request into the tree operation to propose and
// the function that turns its result into the reply body. It returns a nil
// op for requests that are not writes.
func (c *conn) writeOp(op wire.OpCode, req wire.Request) (tree.Op, func(tree.Result) (wire.Record, error)) {
	switch r := req.(type) {
	case *wire.CreateRequest:
		return tree.Create{Path: r.Path, Data: r.Data, ACL: r.ACL, Mode: r.Mode}, createReply(op)
	case *wire.CreateTTLRequest:
		return tree.Create{Path: r.Path, Data: r.Data, ACL: r.ACL, Mode: r.Mode, TTL: r.TTL}, createReply(op)
	case *wire.DeleteRequest:
		return tree.Delete{Path: r.Path, Version: r.Version}, func(res tree.Result) (wire.Record, error) {
			return nil, res.Err
		}
	case *wire.SetDataRequest:
		return tree.SetData{Path: r.Path, Data: r.Data, Version: r.Version}, func(res tree.Result) (wire.Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &wire.SetDataResponse{Stat: res.Stat}, nil
		}
	case *wire.SetACLRequest:
		return tree.SetACL{Path: r.Path, ACL: r.ACL, Version: r.Version}, func(res tree.Result) (wire.Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &wire.SetACLResponse{Stat: res.Stat}, nil
		}
	case *wire.CheckVersionRequest:
		return tree.Check{Path: r.Path, Version: r.Version}, func(res tree.Result) (wire.Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &wire.SetDataResponse{Stat: res.Stat}, nil
		}
	case *wire.MultiRequest:
		ops := make([]tree.Op, len(r.Ops))
		kinds := make([]wire.OpCode, len(r.Ops))
		for i, m := range r.Ops {
			sub, _ := c.writeOp(m.Op, m.Req)
			ops[i], kinds[i] = sub, m.Op
		}
		return tree.Multi{Ops: ops}, func(res tree.Result) (wire.Record, error) {
			return multiReply(kinds, res), nil
		}
	}
	return nil, nil
}

func createReply(op wire.OpCode) func(tree.Result) (wire.Record, error) {
	return func(res tree.Result) (wire.Record, error) {
		if res.Err != nil {
			return nil, res.Err
		}
		if op == wire.OpCreate {
			return &wire.CreateResponse{Path: res.Path}, nil
		}
		return &wire.Create2Response{Path: res.Path, Stat: res.Stat}, nil
	}
}

// multiReply builds a multi's response. The header of a failed multi still
// says OK: the failure is in the results, every one of them an error
// result, as ZooKeeper sends it.
func multiReply(kinds []wire.OpCode, res tree.Result) *wire.MultiResponse {
	out := make([]wire.MultiResult, len(kinds))
	for i, op := range kinds {
		var r tree.Result
		if i < len(res.Multi) {
			r = res.Multi[i]
		}
		if res.Err != nil {
			out[i] = wire.MultiResult{Op: wire.OpError, Err: codeOf(r.Err)}
			continue
		}
		switch op {
		case wire.OpCreate:
			out[i] = wire.MultiResult{Op: wire.OpCreate, Path: r.Path}
		case wire.OpCreate2, wire.OpCreateContainer, wire.OpCreateTTL:
			out[i] = wire.MultiResult{Op: op, Path: r.Path, Stat: r.Stat}
		case wire.OpSetData:
			out[i] = wire.MultiResult{Op: wire.OpSetData, Stat: r.Stat}
		default:
			out[i] = wire.MultiResult{Op: op}
		}
	}
	return &wire.MultiResponse{Results: out}
}
