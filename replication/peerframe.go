package replication

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"zkfs/tree"
)

// The peer stream's frames. A follower keeps one connection to the
// leader's peer port (the election port of `server.N`) and both sides
// send frames on it: a 4-byte big-endian length, then a one-byte frame
// type and its payload, varint-encoded like the log's commands. TCP keeps
// the frames in order, so the leader submits forwarded writes in the order
// the follower sent them with no sequence numbers of its own, and a new
// connection (after a leader change) starts with nothing to wait for.
//
// Frame types are never reused; peerVersion changes when a payload does.

// peerVersion is the stream protocol version both ends announce in hello.
const peerVersion = 3

// maxPeerFrame bounds a frame's length. A forwarded batch is capped well
// below it (maxForwardBytes) unless one command alone is larger.
const maxPeerFrame = 256 << 20

// frameType tags each frame.
type frameType uint8

const (
	// frameHello opens the stream, both ways: version and server id.
	frameHello frameType = 1
	// frameForward carries a batch of encoded commands, follower to leader.
	frameForward frameType = 2
	// frameForwardReply carries one outcome per command of a batch.
	frameForwardReply frameType = 3
	// frameTouch lists sessions that the follower's clients were active on.
	frameTouch frameType = 4
	// frameReadIndex asks for the leader's commit index (sync).
	frameReadIndex frameType = 5
	// frameReadIndexReply answers frameReadIndex.
	frameReadIndexReply frameType = 6
	// frameReconfig asks the leader to change the membership.
	frameReconfig frameType = 7
	// frameReconfigReply answers frameReconfig.
	frameReconfigReply frameType = 8
	// frameCommitted tells a follower the leader's applied index and the
	// term of its entry (commit.go).
	frameCommitted frameType = 9
	// Type 10 was frameClaim (version 2), which told the leader of a
	// session's new owner; a claim is a log entry since version 3.
)

// ErrBadFrame reports a peer frame that does not decode; the stream that
// carried it is closed.
var ErrBadFrame = errors.New("replication: malformed peer frame")

// peerCode is an outcome on the peer stream. Each code stands for exactly
// one sentinel error, which the wire package maps to ZooKeeper's code and
// the mount to an errno, each in its one place; no side ever looks at an
// error's text. Codes 1 to treeCodes are the tree's errors, by the numbers
// tree gives them (tree.ErrorNumber), so that the list of the tree's errors
// and which of them refines which live in tree alone; the codes above are
// replication's own (peerCodeErrs).
type peerCode uint8

// The codes. Append only.
const (
	codeOK peerCode = 0
	// treeCodes is the last of the tree's errors' codes, the highest
	// number tree gives (tree.MaxErrorNumber) when this stream version
	// was made. A new tree error needs a new peerVersion.
	treeCodes peerCode = 13
)

// replication's own codes, after the tree's.
const (
	// codeNotLeader: the write never reached the log; it may be retried.
	codeNotLeader peerCode = treeCodes + 1 + iota
	// codeUnknownOutcome: the write may or may not be applied
	// (ConnectionLoss to a ZooKeeper client).
	codeUnknownOutcome
	// codeClosed: the leader is shutting down.
	codeClosed
	// codeBadReconfig: a membership change that cannot be made.
	codeBadReconfig
	// codeBadCommand: a forwarded command that does not decode.
	codeBadCommand
	// codeSessionMoved: the write's connection no longer owns its session.
	codeSessionMoved
	// codeReadOnly: the leader is in read-only mode.
	codeReadOnly
	numPeerCodes
)

// peerCodeErrs maps replication's own codes to its errors.
var peerCodeErrs = []struct {
	code peerCode
	err  error
}{
	{codeNotLeader, ErrNotLeader},
	{codeUnknownOutcome, ErrTimeout},
	{codeClosed, ErrClosed},
	{codeBadReconfig, ErrBadReconfig},
	{codeBadCommand, ErrBadCommand},
	{codeSessionMoved, ErrSessionMoved},
	{codeReadOnly, ErrReadOnly},
}

// codeOf returns the code for err: the tree's error it is or wraps, most
// precise first, else replication's. An error with no code of its own
// leaves a write's outcome unknown to the follower.
func codeOf(err error) peerCode {
	if err == nil {
		return codeOK
	}
	if n, ok := tree.ErrorNumber(err); ok && peerCode(n) <= treeCodes {
		return peerCode(n)
	}
	for _, c := range peerCodeErrs {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return codeUnknownOutcome
}

// errOf returns the sentinel error for code; nil for codeOK.
func errOf(c peerCode) error {
	if c == codeOK {
		return nil
	}
	if c <= treeCodes {
		if err := tree.ErrorOfNumber(uint8(c)); err != nil {
			return err
		}
	}
	for _, e := range peerCodeErrs {
		if e.code == c {
			return e.err
		}
	}
	return fmt.Errorf("%w: the leader sent unknown code %d", ErrTimeout, c)
}

// peerFrame is one decoded frame. Only the fields of its type are set.
type peerFrame struct {
	typ frameType

	version  uint64 // hello
	serverID string // hello

	id uint64 // forward, read index and reconfig requests and replies

	commands [][]byte         // forward
	owners   []sessionOwner   // forward: one per command
	outcomes []forwardOutcome // forward reply

	sessions []int64 // touch

	code  peerCode // read index and reconfig replies
	index uint64   // read index reply, committed
	term  uint64   // committed
	msg   string   // reconfig reply: why it was refused

	add    []Peer   // reconfig
	remove []string // reconfig
}

// appendFrame appends f, length prefix included.
func appendFrame(b []byte, f *peerFrame) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, byte(f.typ))
	switch f.typ {
	case frameHello:
		b = binary.AppendUvarint(b, f.version)
		b = tree.AppendString(b, f.serverID)
	case frameForward:
		b = binary.AppendUvarint(b, f.id)
		b = binary.AppendUvarint(b, uint64(len(f.commands)))
		for i, c := range f.commands {
			b = append(binary.AppendUvarint(b, uint64(len(c))), c...)
			var o sessionOwner
			if i < len(f.owners) {
				o = f.owners[i]
			}
			b = binary.AppendVarint(binary.AppendVarint(b, o.session), o.owner)
		}
	case frameForwardReply:
		b = binary.AppendUvarint(b, f.id)
		b = binary.AppendUvarint(b, uint64(len(f.outcomes)))
		for _, o := range f.outcomes {
			c := codeOf(o.err)
			b = append(b, byte(c))
			if c == codeOK {
				b = binary.AppendUvarint(b, o.index)
				b = appendResult(b, o.result)
			}
		}
	case frameTouch:
		b = binary.AppendUvarint(b, uint64(len(f.sessions)))
		for _, s := range f.sessions {
			b = binary.AppendVarint(b, s)
		}
	case frameReadIndex:
		b = binary.AppendUvarint(b, f.id)
	case frameReadIndexReply:
		b = binary.AppendUvarint(b, f.id)
		b = append(b, byte(f.code))
		b = binary.AppendUvarint(b, f.index)
	case frameReconfig:
		b = binary.AppendUvarint(b, f.id)
		b = binary.AppendUvarint(b, uint64(len(f.add)))
		for _, p := range f.add {
			b = tree.AppendString(b, p.ID)
			b = tree.AppendString(b, p.RaftAddr)
			b = tree.AppendString(b, p.RPCAddr)
			b = tree.AppendString(b, p.ClientAddr)
			b = appendBool(b, p.Observer)
		}
		b = binary.AppendUvarint(b, uint64(len(f.remove)))
		for _, id := range f.remove {
			b = tree.AppendString(b, id)
		}
	case frameReconfigReply:
		b = binary.AppendUvarint(b, f.id)
		b = append(b, byte(f.code))
		b = tree.AppendString(b, f.msg)
	case frameCommitted:
		b = binary.AppendUvarint(b, f.index)
		b = binary.AppendUvarint(b, f.term)
	}
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}

// appendResult encodes a tree result; a multi's results follow their
// parent's.
func appendResult(b []byte, r tree.Result) []byte {
	b = append(b, byte(codeOf(r.Err)))
	b = tree.AppendString(b, r.Path)
	s := r.Stat
	for _, v := range []int64{s.Czxid, s.Mzxid, s.Ctime, s.Mtime, int64(s.Version), int64(s.Cversion),
		int64(s.Aversion), s.EphemeralOwner, int64(s.DataLength), int64(s.NumChildren), s.Pzxid} {
		b = binary.AppendVarint(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(r.Multi)))
	for _, m := range r.Multi {
		b = appendResult(b, m)
	}
	return b
}

// readFrame reads one frame from br; buf is reused for the body when it is
// large enough. The frame's byte slices point into the returned buffer.
func readFrame(br *bufio.Reader, buf []byte) (*peerFrame, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return nil, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > maxPeerFrame {
		return nil, buf, fmt.Errorf("%w: length %d", ErrBadFrame, n)
	}
	if cap(buf) < int(n) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(br, buf); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, buf, err
	}
	f, err := decodeFrame(buf)
	return f, buf, err
}

// decodeFrame decodes a frame's body (its type byte and payload). The
// commands of a forward frame alias body.
func decodeFrame(body []byte) (*peerFrame, error) {
	d := tree.NewDecoder(body, ErrBadFrame)
	f := &peerFrame{typ: frameType(d.Byte())}
	switch f.typ {
	case frameHello:
		f.version = d.Uvarint()
		f.serverID = d.Str()
	case frameForward:
		f.id = d.Uvarint()
		n := d.Count(3)
		f.commands = make([][]byte, 0, n)
		f.owners = make([]sessionOwner, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			f.commands = append(f.commands, d.Take(d.Uvarint()))
			f.owners = append(f.owners, sessionOwner{session: d.Varint(), owner: d.Varint()})
		}
	case frameForwardReply:
		f.id = d.Uvarint()
		n := d.Count(1)
		f.outcomes = make([]forwardOutcome, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			var o forwardOutcome
			c := readCode(&d)
			if c == codeOK {
				o.index = d.Uvarint()
				o.result = decodeResult(&d, 0)
			} else {
				o.err = errOf(c)
			}
			f.outcomes = append(f.outcomes, o)
		}
	case frameTouch:
		n := d.Count(1)
		f.sessions = make([]int64, 0, n)
		for i := 0; i < n && d.Err() == nil; i++ {
			f.sessions = append(f.sessions, d.Varint())
		}
	case frameReadIndex:
		f.id = d.Uvarint()
	case frameReadIndexReply:
		f.id = d.Uvarint()
		f.code = readCode(&d)
		f.index = d.Uvarint()
	case frameReconfig:
		f.id = d.Uvarint()
		n := d.Count(5)
		for i := 0; i < n && d.Err() == nil; i++ {
			f.add = append(f.add, Peer{ID: d.Str(), RaftAddr: d.Str(), RPCAddr: d.Str(),
				ClientAddr: d.Str(), Observer: d.Bool()})
		}
		n = d.Count(1)
		for i := 0; i < n && d.Err() == nil; i++ {
			f.remove = append(f.remove, d.Str())
		}
	case frameReconfigReply:
		f.id = d.Uvarint()
		f.code = readCode(&d)
		f.msg = d.Str()
	case frameCommitted:
		f.index = d.Uvarint()
		f.term = d.Uvarint()
	default:
		if d.Err() == nil {
			return nil, fmt.Errorf("%w: unknown type %d", ErrBadFrame, f.typ)
		}
	}
	if d.Err() == nil && len(d.Rest()) != 0 {
		d.Fail(fmt.Sprintf("%d trailing bytes", len(d.Rest())))
	}
	if d.Err() != nil {
		return nil, d.Err()
	}
	return f, nil
}

// maxResultDepth bounds a result's nesting: a multi's results hold no
// multi of their own.
const maxResultDepth = 1

func decodeResult(d *tree.Decoder, depth int) tree.Result {
	var r tree.Result
	c := readCode(d)
	if c != codeOK {
		r.Err = errOf(c)
	}
	r.Path = d.Str()
	s := &r.Stat
	s.Czxid, s.Mzxid, s.Ctime, s.Mtime = d.Varint(), d.Varint(), d.Varint(), d.Varint()
	s.Version, s.Cversion, s.Aversion = d.Int32(), d.Int32(), d.Int32()
	s.EphemeralOwner = d.Varint()
	s.DataLength, s.NumChildren = d.Int32(), d.Int32()
	s.Pzxid = d.Varint()
	n := d.Count(14) // the smallest result: code, empty path, 11 stat varints, count
	if n > 0 && depth >= maxResultDepth {
		d.Fail("nested multi result")
		return r
	}
	for i := 0; i < n && d.Err() == nil; i++ {
		r.Multi = append(r.Multi, decodeResult(d, depth+1))
	}
	return r
}

// readCode reads a peer code and rejects one this build does not know.
func readCode(d *tree.Decoder) peerCode {
	c := peerCode(d.Byte())
	if d.Err() == nil && c >= numPeerCodes {
		d.Fail(fmt.Sprintf("unknown code %d", c))
	}
	return c
}

// sessionOwner names the session of a forwarded write and the client
// connection that sent it (owners.go).
type sessionOwner struct {
	session, owner int64
}
