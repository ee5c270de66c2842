package replication

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// Proposal is a write handed to Raft whose outcome is not known yet. The
// client protocol pipelines a connection's writes: it submits each one as
// it arrives, so that they take log positions in arrival order, and waits
// for the outcomes in the same order.
type Proposal struct {
	fut raft.ApplyFuture
	err error // set when the write never reached Raft
}

// Submit hands op to Raft on behalf of a session and returns without
// waiting for it to be applied. Calls made one after another from one
// goroutine reach the log in that order, because Raft takes entries from a
// single queue. The context bounds only the wait for a place in that queue.
func (r *Replica) Submit(ctx context.Context, session int64, id tree.Identity, op tree.Op) *Proposal {
	data, err := EncodeCommand(Command{Time: time.Now().UnixMilli(), Session: session, Identity: id, Op: op})
	if err != nil {
		return &Proposal{err: err}
	}
	return &Proposal{fut: r.raft.Apply(data, timeoutOf(ctx))}
}

// Wait returns the proposal's result and its zxid (the Raft index of its
// log entry, which ZooKeeper clients see in the reply header). If ctx ends
// first the outcome is unknown and Wait returns ErrTimeout; the write may
// still be applied later.
func (p *Proposal) Wait(ctx context.Context) (tree.Result, int64, error) {
	if p.err != nil {
		return tree.Result{}, 0, p.err
	}
	if ctx.Done() != nil {
		done := make(chan struct{})
		go func() {
			p.fut.Error()
			close(done)
		}()
		select {
		case <-done:
		case <-ctx.Done():
			return tree.Result{}, 0, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
		}
	}
	if err := p.fut.Error(); err != nil {
		return tree.Result{}, 0, raftError(err)
	}
	res, ok := p.fut.Response().(applyResult)
	if !ok {
		return tree.Result{}, 0, fmt.Errorf("replication: entry %d was not applied as a command", p.fut.Index())
	}
	return res.result, int64(p.fut.Index()), nil
}

// LastZxid returns the zxid of the last applied command, which ZooKeeper
// puts in the header of every read reply.
func (r *Replica) LastZxid() int64 {
	var z int64
	r.Read(func(t *tree.Tree) { z = t.LastZxid() })
	return z
}
