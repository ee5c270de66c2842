package chaos

import (
	"errors"
	"fmt"
	"math/rand"
	"net"
	"strings"
	"sync"
	"time"

	"zkfs/tree"
	"zkfs/wire"
)

// The SessionMoved check. A ZooKeeper session belongs to the connection
// that last opened or resumed it: when a client moves its session to
// another replica, the requests still on their way from its old
// connection must not be applied after, or among, the ones it sends on
// the new one. ZooKeeper's leader answers them with SessionMoved; the
// old server may also just drop the connection.
//
// A movedClient opens a session on one replica (the old connection),
// sends creates on it, resumes the session on another replica (the new
// connection) while they are in flight, and goes on sending creates on
// the old connection: right after the move, and again once a create on
// the new connection has been acknowledged. Then it reads back, through
// the new connection after a sync, which of the old connection's creates
// were applied and when (their czxid). The guarantees:
//   - a create on the old connection sent after the move completed is
//     never applied (ZooKeeper's follower revalidates the session with the
//     leader before it answers the connect, so the leader refuses the old
//     connection's writes from then on);
//   - no create of the old connection is applied after the new
//     connection's first acknowledged write;
//   - every answer is true: SessionMoved means not applied, OK means
//     applied.
//
// go-zookeeper cannot pin a session to a connection, so the client speaks
// the protocol itself, with the records of package wire.

const (
	movedParent = "/chaos/moved"
	// movedSessionTimeout is long enough that a cycle never needs pings.
	movedSessionTimeout = 10 * time.Second
)

// Phases of the old connection's creates, by when the client sent them.
const (
	phaseBefore    = "before"     // before the new connection was asked for
	phaseAfterMove = "after-move" // after the new connection's handshake
	phaseAfterNew  = "after-new"  // after the new connection's first write was acknowledged
)

// movedWrite is one create sent on the old connection.
type movedWrite struct {
	Name  string `json:"name"`
	Phase string `json:"phase"`
	// Code is the reply's error code; Lost means no reply came (the
	// connection closed or the client gave up).
	Code  int32 `json:"code"`
	Lost  bool  `json:"lost,omitempty"`
	Czxid int64 `json:"czxid,omitempty"` // from the reply, when OK
	// Applied is what the read-back found: "yes", "no", or "" when it
	// could not read back; AppliedZxid is the node's czxid.
	Applied     string `json:"applied,omitempty"`
	AppliedZxid int64  `json:"appliedZxid,omitempty"`
	Sent        int64  `json:"sent"`
}

// movedCycle is one move of one session, with what came of it.
type movedCycle struct {
	Client  int           `json:"client"`
	Session int64         `json:"session"`
	From    int           `json:"from"`
	To      int           `json:"to"`
	Base    string        `json:"base"` // the parent of the cycle's nodes
	Start   int64         `json:"start"`
	Moved   int64         `json:"moved"`   // when the new connection's handshake completed
	Outcome string        `json:"outcome"` // moved, refused, expired, read-only, or no-session
	NewZxid int64         `json:"newZxid"` // czxid of the new connection's first write, 0 if none
	NewCode int32         `json:"newCode"` // its reply code
	NewLost bool          `json:"newLost"` // no reply came
	Writes  []*movedWrite `json:"writes"`
	Checked bool          `json:"checked"` // the read-back ran
}

// movedClient moves sessions between replicas until stop.
type movedClient struct {
	run *run
	id  int
	rng *rand.Rand
}

func (mc *movedClient) loop(stop <-chan struct{}) {
	for !stopped(stop) {
		if c := mc.cycle(); c != nil {
			mc.run.rec.addMoved(c)
			mc.check(c)
		}
		sleep(stop, time.Duration(100+mc.rng.Intn(400))*time.Millisecond)
	}
}

// cycle runs one move. It returns nil when it could not even open the
// session.
func (mc *movedClient) cycle() *movedCycle {
	rn := mc.run
	from := rn.cluster.pick(mc.rng)
	to := from
	for to == from {
		to = rn.cluster.pick(mc.rng)
	}
	fromP, err := rn.clients.route(mc.id, from)
	if err != nil {
		return nil
	}
	toP, err := rn.clients.route(mc.id, to)
	if err != nil {
		return nil
	}
	old, err := dialRaw(fromP.Addr(), 0, nil, 0)
	if err != nil {
		return nil
	}
	defer old.close()
	c := &movedCycle{Client: mc.id, Session: old.session, From: from.id, To: to.id, Start: rn.rec.now(),
		Base: fmt.Sprintf("%s/c%d-%x", movedParent, mc.id, old.session)}
	name := func(tag string) string { return c.Base + "/" + tag }

	// A first write, so that the client has seen a zxid at which the
	// session exists: the replica it moves to then cannot call it
	// expired only because it has not applied its creation yet (it
	// turns the client away until it has caught up).
	if r := old.wait(old.create(c.Base), regTimeout); r.lost || r.code != tree.CodeOK {
		c.Outcome = "no-session"
		return c
	}

	var pending []*rawCall
	send := func(phase string, n int) {
		for i := 0; i < n; i++ {
			w := &movedWrite{Name: name(fmt.Sprintf("%s-%d", phase, i)), Phase: phase, Sent: rn.rec.now()}
			c.Writes = append(c.Writes, w)
			pending = append(pending, old.create(w.Name))
		}
	}
	send(phaseBefore, 1+mc.rng.Intn(3))

	nw, err := dialRawRetry(toP.Addr(), old.session, old.passwd, old.lastZxid(), 5*time.Second)
	switch {
	case errors.Is(err, errRawExpired):
		c.Outcome = "expired"
	case err != nil:
		c.Outcome = "refused"
	case nw.readOnly:
		// A read-only replica does not take the session over: the old
		// connection may go on writing, as in ZooKeeper.
		c.Outcome = "read-only"
		nw.close()
		nw = nil
	default:
		c.Outcome = "moved"
		c.Moved = rn.rec.now()
		defer nw.close()
	}
	if nw != nil {
		send(phaseAfterMove, 1+mc.rng.Intn(2))
		r := nw.wait(nw.create(name("new")), regTimeout)
		c.NewCode, c.NewLost, c.NewZxid = r.code, r.lost, r.czxid
		if !r.lost && r.code == tree.CodeOK {
			send(phaseAfterNew, 1+mc.rng.Intn(2))
		}
	}
	for i, call := range pending {
		r := old.wait(call, regTimeout)
		w := c.Writes[i]
		w.Code, w.Lost, w.Czxid = r.code, r.lost, r.czxid
	}
	old.close()
	if nw == nil {
		return c
	}
	// Read back through the new connection, which owns the session now;
	// the sync makes the replica catch up with the leader first.
	if r := nw.wait(nw.sync(movedParent), regTimeout); r.lost || r.code != tree.CodeOK {
		return c
	}
	for _, w := range c.Writes {
		r := nw.wait(nw.exists(w.Name), regTimeout)
		switch {
		case r.lost:
			return c
		case r.code == tree.CodeOK:
			w.Applied, w.AppliedZxid = "yes", r.czxid
		case r.code == tree.CodeNoNode:
			w.Applied = "no"
		default:
			return c
		}
	}
	c.Checked = true
	nw.wait(nw.closeSession(), 2*time.Second)
	return c
}

// check holds one cycle to the guarantees.
func (mc *movedClient) check(c *movedCycle) {
	rec := mc.run.rec
	for _, w := range c.Writes {
		if w.Code == tree.CodeSessionMoved {
			rec.countMoved(false, true)
		}
	}
	if c.Outcome != "moved" {
		return
	}
	rec.countMoved(true, false)
	if !c.Checked {
		return
	}
	newOK := !c.NewLost && c.NewCode == tree.CodeOK
	for _, w := range c.Writes {
		switch {
		case w.Applied == "yes" && w.Code == tree.CodeSessionMoved:
			rec.anomaly("session-moved-applied", "%s (session %#x, old connection to replica %d) was answered SessionMoved but applied at zxid %#x",
				w.Name, c.Session, c.From, w.AppliedZxid)
		case w.Applied == "no" && !w.Lost && w.Code == tree.CodeOK:
			rec.anomaly("session-moved-ack-lost", "%s (session %#x, old connection to replica %d) was acknowledged but is not there",
				w.Name, c.Session, c.From)
		case w.Applied == "yes" && w.Phase != phaseBefore:
			rec.anomaly("session-moved-old-write-applied", "%s was sent on session %#x's old connection (replica %d) %.3fs after the session moved to replica %d, and was applied at zxid %#x (answer %d%s)",
				w.Name, c.Session, c.From, secs(w.Sent-c.Moved), c.To, w.AppliedZxid, w.Code, lostNote(w.Lost))
		case w.Applied == "yes" && newOK && w.AppliedZxid > c.NewZxid:
			rec.anomaly("session-moved-interleaved", "%s, sent on session %#x's old connection (replica %d) before the move, was applied at zxid %#x, after the new connection's write (zxid %#x, replica %d)",
				w.Name, c.Session, c.From, w.AppliedZxid, c.NewZxid, c.To)
		}
	}
}

func lostNote(lost bool) string {
	if lost {
		return ", reply lost"
	}
	return ""
}

// checkMovedFinal looks, after the run, for creates of old connections
// that the read-back did not find, or that were refused, and that were
// applied later all the same.
func checkMovedFinal(rec *recorder, cycles []*movedCycle, children func(string) (map[string]bool, error)) error {
	for _, c := range cycles {
		if c.Outcome != "moved" || !c.Checked {
			continue
		}
		var present map[string]bool
		for _, w := range c.Writes {
			if w.Applied != "no" {
				continue
			}
			if present == nil {
				var err error
				if present, err = children(c.Base); err != nil {
					return err
				}
			}
			if present[strings.TrimPrefix(w.Name, c.Base+"/")] {
				rec.anomaly("session-moved-applied-late", "%s, sent on session %#x's old connection (replica %d, %s), was not there after the move to replica %d, yet was applied later (answer %d%s)",
					w.Name, c.Session, c.From, w.Phase, c.To, w.Code, lostNote(w.Lost))
			}
		}
	}
	return nil
}

// errRawExpired reports a connect answered with a zero session: expired,
// or a wrong password.
var errRawExpired = errors.New("session expired")

// rawConn is a bare client connection speaking ZooKeeper's protocol: one
// session on one server, no reconnection, no pings.
type rawConn struct {
	nc       net.Conn
	session  int64
	passwd   []byte
	readOnly bool

	mu      sync.Mutex
	xid     int32
	zxid    int64
	pending map[int32]*rawCall
	dead    bool
}

// rawCall is one request waiting for its reply.
type rawCall struct {
	op   wire.OpCode
	done chan struct{}
	rawReply
}

type rawReply struct {
	code  int32
	czxid int64 // the node's, for create2 and exists
	lost  bool  // no reply: the connection ended
}

// dialRaw connects to addr and opens (session 0) or resumes a session.
func dialRaw(addr string, session int64, passwd []byte, lastZxid int64) (*rawConn, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if passwd == nil {
		passwd = make([]byte, 16)
	}
	nc.SetDeadline(time.Now().Add(regTimeout))
	fr := wire.NewFrameReader(nc, 0)
	var resp wire.ConnectResponse
	if _, err = nc.Write(wire.AppendFrame(nil, &wire.ConnectRequest{ProtocolVersion: wire.ProtocolVersion,
		LastZxidSeen: lastZxid, TimeOut: int32(movedSessionTimeout / time.Millisecond), SessionID: session, Passwd: passwd})); err == nil {
		var pkt []byte
		if pkt, err = fr.Next(); err == nil {
			err = wire.Unmarshal(pkt, &resp)
		}
	}
	if err == nil && (resp.SessionID == 0 || resp.TimeOut <= 0) {
		err = errRawExpired
	}
	if err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{})
	c := &rawConn{nc: nc, session: resp.SessionID, passwd: resp.Passwd, readOnly: resp.ReadOnly, zxid: lastZxid, pending: map[int32]*rawCall{}}
	go c.read(fr)
	return c, nil
}

// dialRawRetry resumes a session, trying again while the server turns the
// client away (it is behind the client's zxid, or not serving), for up to
// d. An expired session is final.
func dialRawRetry(addr string, session int64, passwd []byte, lastZxid int64, d time.Duration) (*rawConn, error) {
	deadline := time.Now().Add(d)
	for {
		c, err := dialRaw(addr, session, passwd, lastZxid)
		if err == nil || errors.Is(err, errRawExpired) || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// read delivers replies until the connection ends, then fails every
// request still waiting.
func (c *rawConn) read(fr *wire.FrameReader) {
	for {
		pkt, err := fr.Next()
		if err != nil {
			break
		}
		d := wire.NewDecoder(pkt)
		var h wire.ReplyHeader
		if h.Decode(d) != nil {
			break
		}
		c.mu.Lock()
		if h.Zxid > c.zxid {
			c.zxid = h.Zxid
		}
		call := c.pending[h.Xid]
		delete(c.pending, h.Xid)
		c.mu.Unlock()
		if call == nil {
			continue // a notification or a ping's answer
		}
		call.code = h.Err
		if h.Err == tree.CodeOK {
			switch call.op {
			case wire.OpCreate2:
				var r wire.Create2Response
				if r.Decode(d) == nil {
					call.czxid = r.Stat.Czxid
				}
			case wire.OpExists:
				var r wire.ExistsResponse
				if r.Decode(d) == nil {
					call.czxid = r.Stat.Czxid
				}
			}
		}
		close(call.done)
	}
	c.nc.Close()
	c.mu.Lock()
	c.dead = true
	calls := c.pending
	c.pending = map[int32]*rawCall{}
	c.mu.Unlock()
	for _, call := range calls {
		call.lost = true
		close(call.done)
	}
}

// send writes one request; its reply comes through wait.
func (c *rawConn) send(op wire.OpCode, req wire.Record) *rawCall {
	call := &rawCall{op: op, done: make(chan struct{})}
	c.mu.Lock()
	if c.dead {
		c.mu.Unlock()
		call.lost = true
		close(call.done)
		return call
	}
	c.xid++
	c.pending[c.xid] = call
	frame := wire.AppendFrame(nil, &wire.RequestHeader{Xid: c.xid, Type: op}, req)
	// Written under the lock, so that requests leave in xid order.
	c.nc.SetWriteDeadline(time.Now().Add(regTimeout))
	_, err := c.nc.Write(frame)
	c.mu.Unlock()
	if err != nil {
		c.nc.Close() // the reader then fails the call
	}
	return call
}

// wait returns the call's reply, or a lost one after d (closing the
// connection, since a reply that comes later cannot be told apart).
func (c *rawConn) wait(call *rawCall, d time.Duration) rawReply {
	select {
	case <-call.done:
	case <-time.After(d):
		c.nc.Close()
		<-call.done
	}
	return call.rawReply
}

func (c *rawConn) create(path string) *rawCall {
	return c.send(wire.OpCreate2, &wire.CreateRequest{Path: path,
		ACL: []wire.ACL{{Perms: tree.PermAll, ID: wire.ID{Scheme: "world", ID: "anyone"}}}})
}

func (c *rawConn) exists(path string) *rawCall {
	return c.send(wire.OpExists, &wire.ExistsRequest{Path: path})
}

func (c *rawConn) sync(path string) *rawCall {
	return c.send(wire.OpSync, &wire.SyncRequest{Path: path})
}

func (c *rawConn) closeSession() *rawCall {
	return c.send(wire.OpCloseSession, &wire.CloseSessionRequest{})
}

// lastZxid is the newest zxid the connection has seen, which a resuming
// client sends so that it never goes back in time.
func (c *rawConn) lastZxid() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.zxid
}

func (c *rawConn) close() { c.nc.Close() }
