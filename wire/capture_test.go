package wire

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"os"
	"strings"
	"testing"

	"zkfs/tree"
)

// capturedPacket is one line of testdata/capture-zk-3.8.0.txt.
type capturedPacket struct {
	line   int
	conn   string
	client string
	c2s    bool
	data   []byte
}

func loadCapture(t testing.TB) []capturedPacket {
	t.Helper()
	f, err := os.Open("testdata/capture-zk-3.8.0.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pkts []capturedPacket
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) != 4 {
			t.Fatalf("line %d: %d fields", n, len(fields))
		}
		b, err := hex.DecodeString(fields[3])
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		pkts = append(pkts, capturedPacket{n, fields[0], fields[1], fields[2] == "c2s", b})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(pkts) == 0 {
		t.Fatal("empty capture")
	}
	return pkts
}

// decodedPacket is a captured packet split into its records.
type decodedPacket struct {
	capturedPacket
	first bool // the connect request or response
	req   RequestHeader
	reply ReplyHeader
	op    OpCode // for replies: the opcode of the request answered
	body  Record // nil when the packet has no body
}

// decodeCapture decodes every captured packet, pairing replies with their
// requests by xid, and fails the test on any packet it cannot decode.
func decodeCapture(t *testing.T, pkts []capturedPacket) []decodedPacket {
	t.Helper()
	type connState struct {
		sentConnect, gotConnect bool
		pending                 map[int32]OpCode
	}
	conns := map[string]*connState{}
	var out []decodedPacket
	for _, p := range pkts {
		cs := conns[p.conn]
		if cs == nil {
			cs = &connState{pending: map[int32]OpCode{}}
			conns[p.conn] = cs
		}
		dp := decodedPacket{capturedPacket: p}
		d := NewDecoder(p.data)
		var err error
		switch {
		case p.c2s && !cs.sentConnect:
			cs.sentConnect, dp.first = true, true
			var r ConnectRequest
			err = r.Decode(d)
			dp.body = &r
		case !p.c2s && !cs.gotConnect:
			cs.gotConnect, dp.first = true, true
			var r ConnectResponse
			err = r.Decode(d)
			dp.body = &r
		case p.c2s:
			if err = dp.req.Decode(d); err != nil {
				break
			}
			cs.pending[dp.req.Xid] = dp.req.Type
			dp.body, err = DecodeRequest(dp.req.Type, p.data[8:])
		default:
			if err = dp.reply.Decode(d); err != nil {
				break
			}
			rest := p.data[16:]
			if dp.reply.Xid == XidNotification {
				dp.op = OpNotification
				var ev WatcherEvent
				err = ev.Decode(NewDecoder(rest))
				dp.body = &ev
				break
			}
			op, ok := cs.pending[dp.reply.Xid]
			if !ok {
				t.Fatalf("line %d: reply to unknown xid %d", p.line, dp.reply.Xid)
			}
			delete(cs.pending, dp.reply.Xid)
			dp.op = op
			if dp.reply.Err != tree.CodeOK {
				if len(rest) != 0 {
					t.Errorf("line %d: %v error reply %d has a %d-byte body", p.line, op, dp.reply.Err, len(rest))
				}
				break
			}
			dp.body, err = DecodeResponse(op, rest)
			if err == nil && dp.body == nil && len(rest) != 0 {
				t.Errorf("line %d: %v reply has an unexpected %d-byte body", p.line, op, len(rest))
			}
		}
		if err != nil {
			t.Fatalf("line %d (%s %s): %v", p.line, p.client, map[bool]string{true: "c2s", false: "s2c"}[p.c2s], err)
		}
		out = append(out, dp)
	}
	return out
}

// reencode encodes a decoded packet back to bytes.
func (dp *decodedPacket) reencode() []byte {
	switch {
	case dp.first:
		return Marshal(nil, dp.body)
	case dp.c2s:
		return Marshal(nil, &dp.req, dp.body)
	default:
		return Marshal(nil, &dp.reply, dp.body)
	}
}

// TestCapturedPackets decodes every packet that real clients and a real
// ZooKeeper 3.8.0 exchanged, and checks that encoding the records gives the
// same bytes back.
func TestCapturedPackets(t *testing.T) {
	seen := map[OpCode]bool{}
	for _, dp := range decodeCapture(t, loadCapture(t)) {
		if dp.c2s && !dp.first {
			seen[dp.req.Type] = true
		}
		got := dp.reencode()
		if !bytes.Equal(got, dp.data) {
			if nullString(dp.body) {
				continue
			}
			t.Errorf("line %d (%s): %T re-encodes differently\n got %x\nwant %x", dp.line, dp.client, dp.body, got, dp.data)
		}
	}
	// The capture must keep exercising the bulk of the protocol.
	for _, op := range []OpCode{OpCreate, OpCreate2, OpCreateContainer, OpCreateTTL, OpDelete,
		OpExists, OpGetData, OpSetData, OpGetACL, OpSetACL, OpGetChildren, OpGetChildren2,
		OpSync, OpPing, OpMulti, OpMultiRead, OpAuth, OpSetWatches, OpSetWatches2, OpAddWatch,
		OpCheckWatches, OpRemoveWatches, OpGetEphemerals, OpGetAllChildrenNumber, OpWhoAmI,
		OpReconfig, OpCloseSession} {
		if !seen[op] {
			t.Errorf("capture has no %v request", op)
		}
	}
}

// nullString reports records in which a client sent a null ustring: Go has
// no null string, so those come back as empty strings, a difference no
// server acts on.
func nullString(r Record) bool {
	switch r := r.(type) {
	case *ReconfigRequest:
		return true
	case *WatcherEvent:
		return r.Path == ""
	}
	return false
}
