package replication

import (
	"context"
	"errors"
	"fmt"
	"net/rpc"
	"sync"
	"sync/atomic"
	"time"

	"zkfs/tree"
)

const (
	dialTimeout = 2 * time.Second
	// maxForwardBatch bounds the commands in one forwarded call.
	maxForwardBatch = 256
	// seqWait bounds how long the leader holds a batch that arrived ahead
	// of its predecessor; past it the follower starts a new stream.
	seqWait = 5 * time.Second
)

// ForwardBatchArgs carries a follower's writes, in the order its clients
// issued them. Stream identifies one follower incarnation; Seq numbers its
// batches so that the leader submits them in order even though net/rpc
// serves concurrent calls on separate goroutines.
type ForwardBatchArgs struct {
	Stream   string
	Seq      uint64
	Commands [][]byte
}

// ForwardBatchReply holds one outcome per command; Errs[i] is non-empty
// when command i did not reach the log.
type ForwardBatchReply struct {
	Indexes []uint64
	Results []ResultMsg
	Errs    []string
}

// streamState orders the batches of one forwarding stream on the leader.
type streamState struct {
	next     uint64
	cond     *sync.Cond
	lastUsed time.Time
}

// forwardStreams is the leader's side of forwarding.
type forwardStreams struct {
	mu      sync.Mutex
	streams map[string]*streamState
}

// ForwardBatch submits a follower's batch once every earlier batch of its
// stream has been submitted, then waits for the outcomes.
func (s *PeerService) ForwardBatch(args ForwardBatchArgs, reply *ForwardBatchReply) error {
	r := s.r
	if !r.IsLeader() {
		return ErrNotLeader
	}
	fs := &r.streams
	fs.mu.Lock()
	if fs.streams == nil {
		fs.streams = make(map[string]*streamState)
	}
	st, ok := fs.streams[args.Stream]
	if !ok {
		// Every stream starts at 0; a batch that arrives ahead of the
		// first one waits for it like any other.
		st = &streamState{cond: sync.NewCond(&fs.mu)}
		fs.streams[args.Stream] = st
	}
	st.lastUsed = time.Now()
	deadline := time.Now().Add(seqWait)
	timer := time.AfterFunc(seqWait, func() {
		fs.mu.Lock()
		st.cond.Broadcast()
		fs.mu.Unlock()
	})
	for st.next < args.Seq && time.Now().Before(deadline) {
		st.cond.Wait()
	}
	timer.Stop()
	if st.next != args.Seq {
		fs.mu.Unlock()
		return fmt.Errorf("replication: forwarded batch %d out of order (expected %d)", args.Seq, st.next)
	}
	props := make([]*Proposal, len(args.Commands))
	for i, b := range args.Commands {
		cmd, err := DecodeCommand(b)
		if err != nil {
			props[i] = &Proposal{err: err}
			continue
		}
		props[i] = r.submitLocal(cmd)
	}
	st.next++
	st.cond.Broadcast()
	for id, o := range fs.streams {
		if time.Since(o.lastUsed) > time.Minute {
			delete(fs.streams, id) // a follower that restarted or moved on
		}
	}
	fs.mu.Unlock()

	reply.Indexes = make([]uint64, len(props))
	reply.Results = make([]ResultMsg, len(props))
	reply.Errs = make([]string, len(props))
	ctx := r.rpcContext()
	for i, p := range props {
		res, zxid, err := p.Wait(ctx)
		if err != nil {
			reply.Errs[i] = err.Error()
			continue
		}
		reply.Indexes[i] = uint64(zxid)
		reply.Results[i] = toMsg(res)
	}
	return nil
}

// rpcContext bounds the leader's wait for a forwarded write.
func (r *Replica) rpcContext() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), r.cfg.WriteTimeout)
	go func() {
		select {
		case <-ctx.Done():
		case <-r.stop:
		}
		cancel()
	}()
	return ctx
}

// pendingForward is one write waiting in a follower's forward queue.
type pendingForward struct {
	data []byte
	done chan forwardOutcome
}

type forwardOutcome struct {
	index  uint64
	result tree.Result
	err    error
}

// forwarder sends a follower's writes to the leader in batches, keeping
// the order in which they were submitted.
type forwarder struct {
	r      *Replica
	queue  chan *pendingForward
	stream string
	seq    uint64
	// reset asks the run loop to start a new stream: a stream with a
	// failed batch cannot keep its order at the leader.
	reset atomic.Bool
}

func (f *forwarder) run() {
	defer f.r.wg.Done()
	for {
		var first *pendingForward
		select {
		case first = <-f.queue:
		case <-f.r.stop:
			return
		}
		batch := []*pendingForward{first}
	fill:
		for len(batch) < maxForwardBatch {
			select {
			case p := <-f.queue:
				batch = append(batch, p)
			default:
				break fill
			}
		}
		f.send(batch)
	}
}

// send hands one batch to the leader without waiting for its outcome, so
// that the next batch can follow while this one commits.
func (f *forwarder) send(batch []*pendingForward) {
	if f.reset.Swap(false) {
		f.newStream()
	}
	fail := func(err error) {
		for _, p := range batch {
			p.done <- forwardOutcome{err: err}
		}
	}
	// While the leader is unknown or unreachable (an election after its
	// death) the batch waits, up to the write timeout: nothing was sent,
	// so retrying cannot apply a write twice. Later batches queue behind
	// it, which keeps their order.
	deadline := time.Now().Add(f.r.cfg.WriteTimeout)
	var addr string
	var cl *rpc.Client
	for {
		var err error
		addr, err = f.r.leaderRPCAddr(time.Until(deadline))
		if err == nil {
			if cl, err = f.r.clients.get(addr); err == nil {
				break
			}
			err = fmt.Errorf("%w: cannot reach the leader at %s: %v", ErrTimeout, addr, err)
		}
		if errors.Is(err, ErrClosed) || time.Now().After(deadline) {
			f.newStream()
			fail(err)
			return
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-f.r.stop:
			fail(ErrClosed)
			return
		}
	}
	args := ForwardBatchArgs{Stream: f.stream, Seq: f.seq}
	f.seq++
	for _, p := range batch {
		args.Commands = append(args.Commands, p.data)
	}
	reply := new(ForwardBatchReply)
	call := cl.Go("Peer.ForwardBatch", args, reply, make(chan *rpc.Call, 1))
	go func() {
		<-call.Done
		if call.Error != nil {
			if isTransportError(call.Error) {
				f.r.clients.drop(addr, cl)
			}
			f.reset.Store(true)
			if call.Error.Error() == ErrNotLeader.Error() {
				fail(fmt.Errorf("%w: leader changed", ErrNotLeader))
				return
			}
			fail(fmt.Errorf("%w: forwarding to the leader: %v", ErrTimeout, call.Error))
			return
		}
		for i, p := range batch {
			if reply.Errs[i] != "" {
				p.done <- forwardOutcome{err: fmt.Errorf("%w: %s", ErrTimeout, reply.Errs[i])}
				continue
			}
			p.done <- forwardOutcome{index: reply.Indexes[i], result: fromMsg(reply.Results[i])}
		}
	}()
}

func (f *forwarder) newStream() {
	f.stream = fmt.Sprintf("%s-%d", f.r.cfg.ID, time.Now().UnixNano())
	f.seq = 0
}

// leaderRPCAddr waits up to d for a known leader and returns its RPC
// address.
func (r *Replica) leaderRPCAddr(d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for {
		_, id := r.raft.LeaderWithID()
		if id != "" {
			if p, ok := r.peer(string(id)); ok {
				return p.RPCAddr, nil
			}
			return "", fmt.Errorf("replication: leader %s has no known address", id)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("%w: no leader", ErrTimeout)
		}
		select {
		case <-r.stop:
			return "", ErrClosed
		case <-time.After(10 * time.Millisecond):
		}
	}
}
