package replication

import (
	"errors"
	"sync"
	"time"

	"zkfs/tree"
)

const (
	dialTimeout = 2 * time.Second
	// maxForwardBatch bounds the commands in one forwarded frame.
	maxForwardBatch = 256
	// maxForwardBytes bounds a forwarded frame's commands, unless the
	// first alone is larger.
	maxForwardBytes = 4 << 20
	// leaderRetry is how often a forwarder with no stream to a leader
	// (an election is under way) looks again.
	leaderRetry = 20 * time.Millisecond
)

// pendingForward is one write waiting in a follower's forward queue.
type pendingForward struct {
	data []byte
	// session and owner let the leader refuse a write whose session
	// moved (owners.go); owner 0 is never refused.
	session, owner int64
	done           chan forwardOutcome // buffered: the stream never blocks on it
}

// forwardOutcome is a forwarded write's outcome: its index and result, or
// why it has none.
type forwardOutcome struct {
	index  uint64
	result tree.Result
	err    error
}

// forwarder sends a follower's writes to the leader in batches, in the
// order in which they were submitted: one goroutine (run) writes every
// batch to the one stream, and the stream keeps the order. The queue and
// the retry timer are its own; the stream to the leader, read-only mode
// and the replica's lifetime are passed in.
type forwarder struct {
	queue chan *pendingForward
	retry *time.Timer

	link *leaderLink
	// readOnly reports whether the replica is cut off from its quorum,
	// so that a batch with no leader to go to fails at once.
	readOnly     func() bool
	writeTimeout time.Duration
	stop         <-chan struct{}
	wg           *sync.WaitGroup
}

func (f *forwarder) run() {
	defer f.wg.Done()
	f.retry = time.NewTimer(time.Hour)
	f.retry.Stop()
	for {
		var first *pendingForward
		select {
		case first = <-f.queue:
		case <-f.stop:
			return
		}
		batch := []*pendingForward{first}
		size := len(first.data)
	fill:
		for len(batch) < maxForwardBatch && size < maxForwardBytes {
			select {
			case p := <-f.queue:
				batch = append(batch, p)
				size += len(p.data)
			default:
				break fill
			}
		}
		f.send(batch)
	}
}

// send hands one batch to the leader without waiting for its outcome, so
// that the next batch can follow while this one commits. While no leader
// is known (an election after its death) the batch waits, up to the write
// timeout: nothing was sent, so it cannot be applied twice, and later
// batches queue behind it, which keeps their order.
func (f *forwarder) send(batch []*pendingForward) {
	deadline := time.Now().Add(f.writeTimeout)
	for {
		s, err := f.link.stream()
		if err == nil {
			frame := &peerFrame{typ: frameForward, commands: make([][]byte, len(batch)), owners: make([]sessionOwner, len(batch))}
			for i, p := range batch {
				frame.commands[i] = p.data
				frame.owners[i] = sessionOwner{session: p.session, owner: p.owner}
			}
			s.call(frame, &streamCall{fwd: batch, watch: true})
			return
		}
		if f.readOnly() {
			err = ErrReadOnly // nothing was sent: the writes were not applied
		}
		if errors.Is(err, ErrClosed) || errors.Is(err, ErrNotLeader) || errors.Is(err, ErrReadOnly) || time.Now().After(deadline) {
			for _, p := range batch {
				p.done <- forwardOutcome{err: err}
			}
			return
		}
		f.retry.Reset(leaderRetry)
		select {
		case <-f.retry.C:
		case <-f.link.waitChange():
			if !f.retry.Stop() {
				<-f.retry.C
			}
		case <-f.stop:
			for _, p := range batch {
				p.done <- forwardOutcome{err: ErrClosed}
			}
			return
		}
	}
}
