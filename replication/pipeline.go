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
	fut raft.ApplyFuture    // submitted on this replica, the leader
	fwd chan forwardOutcome // forwarded to the leader
	// reads is the read path that a forwarded write's Wait waits on
	// until this replica applied it.
	reads *readIndex
	err   error // set when the write never reached Raft
}

// submitter is the write path's entry (stages 2 and 4 of
// docs/write-path.md): on the leader it stamps a write and hands it to
// raft, on a follower it queues the write for the forwarder. It has no
// state of its own; it runs on the caller's goroutine (a client
// connection's reader, a FUSE request's, or a leader's stream reader for
// a follower's writes), over what it is given here.
type submitter struct {
	standalone bool
	isLeader   func() bool
	readOnly   func() bool
	// owners refuses the writes of a moved or closed session on the
	// leader, and hears of every close it logs.
	owners *sessionOwners
	raft   *raft.Raft
	// fwd queues a follower's writes for the leader; nil when
	// standalone.
	fwd          *forwarder
	reads        *readIndex
	writeTimeout time.Duration
	stop         <-chan struct{}
}

// Submit hands op to the log on behalf of a session and returns without
// waiting for it to be applied. Calls made one after another from one
// goroutine reach the log in that order: on the leader Raft takes entries
// from a single queue, and a follower forwards them as one ordered stream.
// The context bounds only the wait for a place in the queue.
func (r *Replica) Submit(ctx context.Context, session int64, id tree.Identity, op tree.Op) *Proposal {
	return r.writes.submit(ctx, 0, session, id, op)
}

// submit is Submit on behalf of owner, the client connection (0 for
// none), whose token the command carries for the tree's SessionMoved
// check.
func (w *submitter) submit(ctx context.Context, owner, session int64, id tree.Identity, op tree.Op) *Proposal {
	cmd := Command{Session: session, Owner: owner, Identity: id, Op: op}
	if w.isLeader() || w.standalone {
		if err := w.owners.check(session, owner); err != nil {
			return &Proposal{err: err}
		}
		return w.local(cmd)
	}
	if w.readOnly() {
		return &Proposal{err: ErrReadOnly}
	}
	data, err := EncodeCommand(cmd)
	if err != nil {
		return &Proposal{err: err}
	}
	p := &pendingForward{data: data, session: session, owner: owner, done: make(chan forwardOutcome, 1)}
	select {
	case w.fwd.queue <- p:
	case <-ctx.Done():
		return &Proposal{err: fmt.Errorf("%w: %v", ErrTimeout, ctx.Err())}
	case <-w.stop:
		return &Proposal{err: ErrClosed}
	}
	return &Proposal{reads: w.reads, fwd: p.done}
}

// local stamps the leader's time into cmd and appends it to the log. The
// tree never reads a clock, so every replica computes the same ctime and
// mtime.
func (w *submitter) local(cmd Command) *Proposal {
	if c, ok := cmd.Op.(tree.CloseSession); ok {
		w.owners.closing(c.ID)
	}
	cmd.Time = time.Now().UnixMilli()
	data, err := EncodeCommand(cmd)
	if err != nil {
		return &Proposal{err: err}
	}
	return &Proposal{fut: w.raft.Apply(data, w.writeTimeout)}
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
		if err := p.reads.wait(ctx, out.index); err != nil {
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
	return r.writes.propose(ctx, session, id, op)
}

// propose is Propose's loop, which retries what no leader took.
func (w *submitter) propose(ctx context.Context, session int64, id tree.Identity, op tree.Op) (tree.Result, error) {
	for {
		res, _, err := w.submit(ctx, 0, session, id, op).Wait(ctx)
		if !errors.Is(err, ErrNotLeader) {
			return res, err
		}
		select {
		case <-ctx.Done():
			return res, err
		case <-w.stop:
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
