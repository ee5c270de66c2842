package zkserver

import (
	"context"
	"errors"
	"time"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"
)

// slot is one request on its way through a connection. Replies leave in
// slot order, which is request order.
type slot struct {
	xid   int32
	op    wire.OpCode
	start time.Time

	// A write is proposed when it arrives and answered when its turn comes.
	prop   *replication.Proposal
	finish func(tree.Result) (wire.Record, error)

	// Anything else runs when its turn comes: first block, outside any
	// lock (sync, closeSession), then run under the tree's read lock, so
	// that what it reads and the events queued around it agree.
	block func() error
	run   func(t *tree.Tree) (wire.Record, error)
	// err answers the request without running anything.
	err error
	// fixedZxid replaces the last zxid in the header by zxid: ZooKeeper
	// sends 0 for auth and -1 for an unknown opcode.
	fixedZxid bool
	zxid      int64
	// then runs after the reply is queued.
	then func()
	// done is closed once the slot has run; writes behind it wait for it.
	done chan struct{}
}

// processLoop answers the connection's requests in order.
func (c *conn) processLoop() {
	defer c.wg.Done()
	for {
		var s *slot
		select {
		case s = <-c.slots:
		case <-c.done:
			return
		}
		if !c.out.waitRoom() {
			return
		}
		if s.prop != nil {
			if !c.answerWrite(s) {
				return
			}
			continue
		}
		if !c.answerOrdered(s) {
			return
		}
	}
}

// answerWrite waits for a proposed write and queues its reply.
func (c *conn) answerWrite(s *slot) bool {
	res, zxid, err := s.prop.Wait(c.ctx)
	if errors.Is(err, replication.ErrSessionMoved) || errors.Is(err, tree.ErrSessionExpired) {
		// Not applied, and the client must hear why: the session is
		// now another connection's, or closed.
		zxid := c.srv.rep.LastZxid()
		c.out.pushWriteReply(zxid, c.replyFrame(s, zxid, nil, err))
		return true
	}
	if err != nil {
		// The write may or may not be applied: only a lost connection
		// tells the client that truthfully (it sees ConnectionLoss).
		c.out.abandonWrite()
		if !c.closed.Load() {
			c.log.Warn("write outcome unknown; closing the connection", "op", s.op, "err", err)
		}
		c.close()
		return false
	}
	// The mount of this replica must show the write before the client
	// hears of it (replication.AwaitFences).
	c.srv.rep.AwaitFences(uint64(zxid))
	body, rerr := s.finish(res)
	c.out.pushWriteReply(zxid, c.replyFrame(s, zxid, body, rerr))
	return true
}

// answerOrdered runs a non-write request and queues its reply.
func (c *conn) answerOrdered(s *slot) bool {
	err := s.err
	if err == nil && s.block != nil {
		err = s.block()
		if connectionError(err) {
			if !c.closed.Load() {
				c.log.Warn("closing the connection", "op", s.op, "err", err)
			}
			c.close()
			return false
		}
	}
	expired := false
	c.srv.rep.Read(func(t *tree.Tree) {
		// A session the log expired is over the moment the replica
		// applies that: its ephemeral nodes are gone, so no reply may
		// tell the client the session still lives (sweepSessions closes
		// the connection, but only on its next tick).
		if c.session != 0 && !c.endingSession.Load() && !c.local {
			if _, ok := t.Session(c.session); !ok {
				expired = true
				return
			}
		}
		var body wire.Record
		if err == nil && s.run != nil {
			body, err = s.run(t)
		}
		zxid := t.LastZxid()
		if s.fixedZxid {
			zxid = s.zxid
		}
		c.out.push(c.replyFrame(s, zxid, body, err))
	})
	if expired {
		c.log.Info("session expired; closing its connection")
		c.close()
		return false
	}
	if s.done != nil {
		close(s.done)
	}
	if s.then != nil {
		s.then()
	}
	return true
}

// codeOf is CodeOf for the server: it adds the replica's errors that
// ZooKeeper has a code for.
func codeOf(err error) int32 {
	if errors.Is(err, replication.ErrSessionMoved) {
		return tree.CodeSessionMoved
	}
	return wire.CodeOf(err)
}

// replyFrame encodes a reply and records the request's latency. A reply
// with an error code has no body.
func (c *conn) replyFrame(s *slot, zxid int64, body wire.Record, err error) []byte {
	code := codeOf(err)
	if code != tree.CodeOK {
		body = nil
	}
	c.stats.record(s.xid, zxid, s.op, time.Since(s.start))
	c.srv.stats.latency.record(time.Since(s.start))
	c.srv.metrics.record(s.op, code, time.Since(s.start))
	return wire.AppendFrame(nil, &wire.ReplyHeader{Xid: s.xid, Zxid: zxid, Err: code}, body)
}

// dispatch turns one request into a slot. Writes are proposed here, in
// arrival order; everything else runs in the processor.
func (c *conn) dispatch(h wire.RequestHeader, req wire.Request, err error) readState {
	s := &slot{xid: h.Xid, op: h.Type, start: time.Now()}
	if err != nil {
		if errors.Is(err, wire.ErrUnknownOpcode) {
			c.log.Info("unknown opcode; answering Unimplemented", "op", int32(h.Type))
			s.fixedZxid, s.zxid = true, -1
		} else {
			c.log.Warn("malformed request; answering MarshallingError", "op", h.Type, "err", err)
		}
		s.err = err
		return c.ordered(s, readOn)
	}
	if c.readOnly && (h.Type.IsWrite() || h.Type == wire.OpSync) {
		s.err = wire.ErrNotReadOnly
		return c.ordered(s, readOn)
	}
	switch r := req.(type) {
	case *wire.AuthPacket:
		return c.auth(s, r)
	case *wire.CloseSessionRequest:
		c.endingSession.Store(true)
		s.block = func() error {
			if c.local {
				return nil // in no log: it ends with the connection
			}
			ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
			defer cancel()
			err := c.srv.rep.CloseSession(ctx, c.session)
			if err == nil {
				c.log.Info("session closed by the client")
			}
			return err
		}
		s.then = c.out.closeWhenDrained
		return c.ordered(s, readDrain)
	case *wire.GetSASLRequest:
		s.err = wire.ErrUnknownOpcode
		return c.ordered(s, readOn)
	case *wire.ReconfigRequest:
		return c.reconfig(s, r)
	}
	if op, finish := c.writeOp(h.Type, req); op != nil {
		return c.write(s, op, finish)
	}
	c.readOp(s, req, c.ident())
	return c.ordered(s, readOn)
}

// ordered queues a non-write slot.
func (c *conn) ordered(s *slot, next readState) readState {
	s.done = make(chan struct{})
	if !c.enqueue(s) {
		return readStop
	}
	c.lastOrdered = s.done
	return next
}

// write proposes a write and queues its slot.
func (c *conn) write(s *slot, op tree.Op, finish func(tree.Result) (wire.Record, error)) readState {
	if c.lastOrdered != nil {
		select {
		case <-c.lastOrdered:
			c.lastOrdered = nil
		case <-c.done:
			return readStop
		}
	}
	c.out.beginWrite()
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	s.prop = c.srv.rep.SubmitAs(ctx, c.owner, c.session, c.ident(), op)
	cancel()
	s.finish = finish
	if !c.enqueue(s) {
		return readStop
	}
	return readOn
}
