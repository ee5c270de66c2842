package zkserver

import "sync"

// outQueue holds the frames waiting to be written to one client, and keeps
// replies and watch events in the order ZooKeeper delivers them: by zxid.
//
// Events are queued by the replica's listener the moment a change is
// applied, under the tree's write lock, and read replies are queued under
// its read lock, so a read's reply and the events around it are ordered by
// the tree itself. A write's reply only comes back after its entry was
// applied, by which time later entries may have produced events too; while
// a connection has writes in flight, events are therefore held back and
// released around each write's reply according to their zxids.
type outQueue struct {
	mu   sync.Mutex
	cond sync.Cond // wakes the writer and a processor waiting for room

	frames [][]byte
	size   int // bytes in frames, held, and the batch being written
	held   []heldFrame
	// pending counts writes proposed and not yet answered.
	pending int

	soft, hard int
	closed     bool
	// drain asks the writer to close the connection once frames are out,
	// as ZooKeeper does after closeSession or a failed auth.
	drain bool
	// overflow is called, once, when events would push size past hard.
	overflow  func()
	overflown bool
}

type heldFrame struct {
	zxid  int64
	frame []byte
}

func newOutQueue(soft, hard int, overflow func()) *outQueue {
	q := &outQueue{soft: soft, hard: hard, overflow: overflow}
	q.cond.L = &q.mu
	return q
}

// pushEvent queues a notification caused by the change at zxid. It never
// blocks: it runs in the replica's listener.
func (q *outQueue) pushEvent(zxid int64, frame []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.overflown {
		return
	}
	if q.size+len(frame) > q.hard {
		q.overflown = true
		go q.overflow()
		return
	}
	q.size += len(frame)
	if q.pending > 0 {
		q.held = append(q.held, heldFrame{zxid, frame})
		return
	}
	q.frames = append(q.frames, frame)
	q.cond.Broadcast()
}

// beginWrite records a write about to be proposed, so that events from
// then on wait for its reply.
func (q *outQueue) beginWrite() {
	q.mu.Lock()
	q.pending++
	q.mu.Unlock()
}

// pushWriteReply queues the reply to a write applied at zxid, after the held
// events up to that zxid. It releases the rest when no write is left.
func (q *outQueue) pushWriteReply(zxid int64, frame []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending--
	n := 0
	for n < len(q.held) && q.held[n].zxid <= zxid {
		q.frames = append(q.frames, q.held[n].frame)
		n++
	}
	q.held = q.held[n:]
	q.appendLocked(frame)
	if q.pending == 0 {
		q.releaseLocked()
	}
	q.cond.Broadcast()
}

// abandonWrite forgets a write whose reply will never be sent.
func (q *outQueue) abandonWrite() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending--
	if q.pending == 0 {
		q.releaseLocked()
		q.cond.Broadcast()
	}
}

// push queues a frame behind everything queued so far: the reply to an
// ordered request, or an event that setWatches fires.
func (q *outQueue) push(frame []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.releaseLocked()
	q.appendLocked(frame)
	q.cond.Broadcast()
}

func (q *outQueue) appendLocked(frame []byte) {
	if q.closed {
		return
	}
	q.frames = append(q.frames, frame)
	q.size += len(frame)
}

func (q *outQueue) releaseLocked() {
	for _, h := range q.held {
		q.frames = append(q.frames, h.frame)
	}
	q.held = nil
}

// waitRoom blocks while more than the soft limit is queued, so that a client
// that reads slowly slows down its own requests rather than growing the
// queue. It reports false once the queue is closed.
func (q *outQueue) waitRoom() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.size > q.soft && !q.closed {
		q.cond.Wait()
	}
	return !q.closed
}

// take waits for frames to write and returns them with their total size.
// It returns drain=true when the queue is empty and the connection should
// now close, and ok=false once the queue is closed.
func (q *outQueue) take() (batch [][]byte, n int, drain, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.frames) == 0 && !q.closed && !q.drain {
		q.cond.Wait()
	}
	if q.closed {
		return nil, 0, false, false
	}
	if len(q.frames) == 0 {
		return nil, 0, true, true
	}
	batch, q.frames = q.frames, nil
	for _, f := range batch {
		n += len(f)
	}
	return batch, n, false, true
}

// written gives back the room taken by a batch that is now on the socket.
func (q *outQueue) written(n int) {
	q.mu.Lock()
	q.size -= n
	q.cond.Broadcast()
	q.mu.Unlock()
}

// closeWhenDrained makes the writer close the connection after the frames
// queued so far.
func (q *outQueue) closeWhenDrained() {
	q.mu.Lock()
	q.drain = true
	q.cond.Broadcast()
	q.mu.Unlock()
}

// queued returns the bytes waiting, for the cons four-letter word.
func (q *outQueue) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.size
}

func (q *outQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.frames, q.held = nil, nil
	q.cond.Broadcast()
	q.mu.Unlock()
}
