package tree

// applyMulti applies the operations in order against the state the earlier
// ones left, as ZooKeeper's PrepRequestProcessor does with its pending change
// records, so a multi may delete and re-create a path, or create a child of
// a node it created. On the first failure everything is rolled back: earlier
// operations report success, the failing one its error, later ones
// ErrRuntimeInconsistency, and the multi's own Err is the first error.
func (t *Tree) applyMulti(h Header, op Multi) Result {
	var undo []func()
	t.undo = &undo
	results := make([]Result, len(op.Ops))
	var failed error
	for i, sub := range op.Ops {
		if failed != nil {
			results[i] = Result{Err: ErrRuntimeInconsistency}
			continue
		}
		var r Result
		switch sub := sub.(type) {
		case Create:
			r = t.applyCreate(h, sub)
		case Delete:
			r = t.applyDelete(h, sub)
		case SetData:
			r = t.applySetData(h, sub)
		case Check:
			r = t.applyCheck(h, sub)
		default:
			r = Result{Err: ErrBadArguments}
		}
		if r.Err != nil {
			failed = r.Err
			results[i] = Result{Err: r.Err}
			continue
		}
		results[i] = r
	}
	t.undo = nil
	if failed == nil {
		return Result{Multi: results}
	}
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i]()
	}
	for i := range results {
		if results[i].Err == nil {
			results[i] = Result{}
		}
	}
	t.events = nil
	return Result{Err: failed, Multi: results}
}
