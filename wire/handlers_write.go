package wire

import "zkfs/tree"

// writeOp converts a write request into the tree operation to propose and
// the function that turns its result into the reply body. It returns a nil
// op for requests that are not writes.
func (c *conn) writeOp(op OpCode, req Request) (tree.Op, func(tree.Result) (Record, error)) {
	switch r := req.(type) {
	case *CreateRequest:
		return tree.Create{Path: r.Path, Data: r.Data, ACL: r.ACL, Mode: r.Mode}, createReply(op)
	case *CreateTTLRequest:
		return tree.Create{Path: r.Path, Data: r.Data, ACL: r.ACL, Mode: r.Mode, TTL: r.TTL}, createReply(op)
	case *DeleteRequest:
		return tree.Delete{Path: r.Path, Version: r.Version}, func(res tree.Result) (Record, error) {
			return nil, res.Err
		}
	case *SetDataRequest:
		return tree.SetData{Path: r.Path, Data: r.Data, Version: r.Version}, func(res tree.Result) (Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &SetDataResponse{Stat: res.Stat}, nil
		}
	case *SetACLRequest:
		return tree.SetACL{Path: r.Path, ACL: r.ACL, Version: r.Version}, func(res tree.Result) (Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &SetACLResponse{Stat: res.Stat}, nil
		}
	case *CheckVersionRequest:
		return tree.Check{Path: r.Path, Version: r.Version}, func(res tree.Result) (Record, error) {
			if res.Err != nil {
				return nil, res.Err
			}
			return &SetDataResponse{Stat: res.Stat}, nil
		}
	case *MultiRequest:
		ops := make([]tree.Op, len(r.Ops))
		kinds := make([]OpCode, len(r.Ops))
		for i, m := range r.Ops {
			sub, _ := c.writeOp(m.Op, m.Req)
			ops[i], kinds[i] = sub, m.Op
		}
		return tree.Multi{Ops: ops}, func(res tree.Result) (Record, error) {
			return multiReply(kinds, res), nil
		}
	}
	return nil, nil
}

func createReply(op OpCode) func(tree.Result) (Record, error) {
	return func(res tree.Result) (Record, error) {
		if res.Err != nil {
			return nil, res.Err
		}
		if op == OpCreate {
			return &CreateResponse{Path: res.Path}, nil
		}
		return &Create2Response{Path: res.Path, Stat: res.Stat}, nil
	}
}

// multiReply builds a multi's response. The header of a failed multi still
// says OK: the failure is in the results, every one of them an error
// result, as ZooKeeper sends it.
func multiReply(kinds []OpCode, res tree.Result) *MultiResponse {
	out := make([]MultiResult, len(kinds))
	for i, op := range kinds {
		var r tree.Result
		if i < len(res.Multi) {
			r = res.Multi[i]
		}
		if res.Err != nil {
			out[i] = MultiResult{Op: OpError, Err: codeOf(r.Err)}
			continue
		}
		switch op {
		case OpCreate:
			out[i] = MultiResult{Op: OpCreate, Path: r.Path}
		case OpCreate2, OpCreateContainer, OpCreateTTL:
			out[i] = MultiResult{Op: op, Path: r.Path, Stat: r.Stat}
		case OpSetData:
			out[i] = MultiResult{Op: OpSetData, Stat: r.Stat}
		default:
			out[i] = MultiResult{Op: op}
		}
	}
	return &MultiResponse{Results: out}
}
