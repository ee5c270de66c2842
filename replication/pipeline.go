package replication

import (
	"context"
	"errors"
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
	r   *Replica
	fut raft.ApplyFuture    // submitted on this replica, the leader
	fwd chan forwardOutcome // forwarded to the leader
	err error               // set when the write never reached Raft
}

// Submit hands op to the log on behalf of a session and returns without
// waiting for it to be applied. Calls made one after another from one
// goroutine reach the log in that order: on the leader Raft takes entries
// from a single queue, and a follower forwards them as one ordered stream.
// The context bounds only the wait for a place in the queue.
func (r *Replica) Submit(ctx context.Context, session int64, id tree.Identity, op tree.Op) *Proposal {
	return r.submit(ctx, 0, session, id, op)
}

func (r *Replica) submit(ctx context.Context, owner, session int64, id tree.Identity, op tree.Op) *Proposal {
	cmd := Command{Session: session, Identity: id, Op: op}
	if r.IsLeader() || r.standalone() {
		if err := r.sessions.owners.check(session, owner); err != nil {
			return &Proposal{err: err}
		}
		return r.submitLocal(cmd)
	}
	if r.ReadOnly() {
		return &Proposal{err: ErrReadOnly}
	}
	data, err := EncodeCommand(cmd)
	if err != nil {
		return &Proposal{err: err}
	}
	p := &pendingForward{data: data, session: session, owner: owner, done: make(chan forwardOutcome, 1)}
	select {
	case r.fwd.queue <- p:
	case <-ctx.Done():
		return &Proposal{err: fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())}
	case <-r.stop:
		return &Proposal{err: ErrClosed}
	}
	return &Proposal{r: r, fwd: p.done}
}

// submitLocal stamps the leader's time into cmd and appends it to the log.
// The tree never reads a clock, so every replica computes the same ctime
// and mtime.
func (r *Replica) submitLocal(cmd Command) *Proposal {
	if c, ok := cmd.Op.(tree.CloseSession); ok {
		r.sessions.owners.closing(c.ID)
	}
	cmd.Time = time.Now().UnixMilli()
	data, err := EncodeCommand(cmd)
	if err != nil {
		return &Proposal{err: err}
	}
	return &Proposal{r: r, fut: r.raft.Apply(data, r.cfg.WriteTimeout)}
}

// Wait returns the proposal's result and its zxid (the Raft index of its
// log entry, which ZooKeeper clients see in the reply header). It returns
// only once this replica has applied the write, so a read that follows on
// the same replica sees it. If ctx ends first the outcome is unknown and
// Wait returns ErrTimeout; the write may still be applied later.
func (p *Proposal) Wait(ctx context.Context) (tree.Result, int64, error) {
	if p.err != nil {
		return tree.Result{}, 0, p.err
	}
	if p.fwd != nil {
		var out forwardOutcome
		select {
		case out = <-p.fwd:
		case <-ctx.Done():
			return tree.Result{}, 0, fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())
		}
		if out.err != nil {
			return tree.Result{}, 0, out.err
		}
		if err := p.r.reads.wait(ctx, out.index); err != nil {
			return tree.Result{}, 0, err
		}
		return out.result, int64(out.index), nil
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

// Propose replicates one operation on behalf of a session and returns the
// result of applying it, once this replica has applied it.
//
// A write refused because leadership moved (ErrNotLeader) was not applied,
// so Propose tries again, against the new leader, until ctx ends.
func (r *Replica) Propose(ctx context.Context, session int64, id tree.Identity, op tree.Op) (tree.Result, error) {
	for {
		res, _, err := r.Submit(ctx, session, id, op).Wait(ctx)
		if !errors.Is(err, ErrNotLeader) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-r.stop:
			return res, ErrClosed
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// proposeFunc replicates one operation and returns its result once this
// replica has applied it (Replica.Propose). The stages that write to the
// log on their own account (membership, sessions) get it passed in, so
// that they depend on the write path's entry and not on the whole
// replica.
type proposeFunc func(ctx context.Context, session int64, id tree.Identity, op tree.Op) (tree.Result, error)

// LastZxid returns the zxid that ZooKeeper puts in the header of every
// read reply: the last applied Raft index. It counts Raft's own entries
// too, so that every replica that applied the same prefix of the log
// reports the same value, whether it applied live or reloaded its store.
func (r *Replica) LastZxid() int64 {
	return int64(r.AppliedIndex())
}
