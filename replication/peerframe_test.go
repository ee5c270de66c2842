package replication

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"zkfs/tree"
)

var updateFrames = flag.Bool("update-frames", false, "rewrite testdata/peer_frames.txt")

// sampleFrames holds one frame of every type, with the values that
// exercise each field's encoding.
func sampleFrames(t testing.TB) []struct {
	name string
	f    *peerFrame
} {
	cmd, err := EncodeCommand(Command{Session: 7, Op: tree.SetData{Path: "/a", Data: []byte("x"), Version: -1}})
	if err != nil {
		t.Fatal(err)
	}
	st := tree.Stat{Czxid: 3, Mzxid: 9, Ctime: 1700000000000, Mtime: 1700000000001, Version: 2, Cversion: -1,
		Aversion: 0, EphemeralOwner: 0x1234, DataLength: 1, NumChildren: 0, Pzxid: 3}
	return []struct {
		name string
		f    *peerFrame
	}{
		{"hello", &peerFrame{typ: frameHello, version: peerVersion, serverID: "12"}},
		{"forward", &peerFrame{typ: frameForward, id: 300, commands: [][]byte{cmd, cmd},
			owners: []sessionOwner{{session: 7, owner: 0x0100000000000001}, {session: 0, owner: 0}}}},
		{"forward-empty", &peerFrame{typ: frameForward, id: 1, commands: [][]byte{}, owners: []sessionOwner{}}},
		{"forward-reply", &peerFrame{typ: frameForwardReply, id: 300, outcomes: []forwardOutcome{
			{index: 9, result: tree.Result{Path: "/a", Stat: st}},
			{err: ErrNotLeader},
			{err: ErrTimeout},
			{index: 10, result: tree.Result{Err: tree.ErrDataTooLarge}},
			{index: 11, result: tree.Result{Err: tree.ErrRuntimeInconsistency, Multi: []tree.Result{
				{Path: "/m", Stat: st}, {Err: tree.ErrBadVersion}, {Err: tree.ErrRuntimeInconsistency}}}},
		}}},
		{"touch", &peerFrame{typ: frameTouch, sessions: []int64{0x0100000000000001, -1}}},
		{"read-index", &peerFrame{typ: frameReadIndex, id: 2}},
		{"read-index-reply", &peerFrame{typ: frameReadIndexReply, id: 2, index: 12345}},
		{"read-index-refused", &peerFrame{typ: frameReadIndexReply, id: 3, code: codeNotLeader}},
		{"reconfig", &peerFrame{typ: frameReconfig, id: 4,
			add:    []Peer{{ID: "4", RaftAddr: "127.0.0.4:2888", RPCAddr: "127.0.0.4:3888", ClientAddr: "127.0.0.4:2181", Observer: true}},
			remove: []string{"2"}}},
		{"reconfig-reply", &peerFrame{typ: frameReconfigReply, id: 4, code: codeBadReconfig, msg: "server 4 is already a member"}},
		{"committed", &peerFrame{typ: frameCommitted, index: 1 << 40, term: 7}},
	}
}

// TestPeerFramesGolden pins every frame's bytes: a change to the encoding
// shows here, and must come with a new peerVersion.
func TestPeerFramesGolden(t *testing.T) {
	path := filepath.Join("testdata", "peer_frames.txt")
	var out strings.Builder
	for _, s := range sampleFrames(t) {
		fmt.Fprintf(&out, "%s %x\n", s.name, appendFrame(nil, s.f))
	}
	if *updateFrames {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != string(want) {
		t.Errorf("frames differ from %s (run with -update-frames after bumping peerVersion):\ngot:\n%s\nwant:\n%s", path, out.String(), want)
	}
	// Each golden frame decodes to its sample.
	samples := sampleFrames(t)
	for i, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		name, hx, _ := strings.Cut(line, " ")
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatal(err)
		}
		f, _, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if i < len(samples) && !reflect.DeepEqual(f, samples[i].f) {
			t.Errorf("%s: decoded %+v, want %+v", name, f, samples[i].f)
		}
	}
}

func TestPeerFrameRejects(t *testing.T) {
	good := appendFrame(nil, &peerFrame{typ: frameReadIndexReply, id: 2, index: 5})
	tests := []struct {
		name string
		body []byte
	}{
		{"unknown type", []byte{99}},
		{"truncated", good[4 : len(good)-1]},
		{"trailing", append(append([]byte{}, good[4:]...), 0)},
		{"unknown code", []byte{byte(frameReadIndexReply), 2, byte(numPeerCodes), 5}},
		{"lying count", []byte{byte(frameForward), 1, 0xff, 0xff, 0x03}},
		{"forward without owner", []byte{byte(frameForward), 1, 1, 1, 0xaa}},
		{"nested multi result", appendFrame(nil, &peerFrame{typ: frameForwardReply, id: 1, outcomes: []forwardOutcome{
			{result: tree.Result{Multi: []tree.Result{{Multi: []tree.Result{{}}}}}}}})[4:]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := decodeFrame(tt.body); !errors.Is(err, ErrBadFrame) {
				t.Errorf("got %v, want ErrBadFrame", err)
			}
		})
	}
	for _, n := range []uint32{0, maxPeerFrame + 1} {
		b := []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n), 1}
		if _, _, err := readFrame(bufio.NewReader(bytes.NewReader(b)), nil); !errors.Is(err, ErrBadFrame) {
			t.Errorf("length %d: got %v, want ErrBadFrame", n, err)
		}
	}
}

// TestPeerCodesMapOneToOne checks that every code decodes to the error
// that encodes to it, so no outcome changes on its way from the leader:
// the tree's errors by tree's own numbers, replication's by its table.
func TestPeerCodesMapOneToOne(t *testing.T) {
	if tree.MaxErrorNumber != int(treeCodes) {
		t.Fatalf("tree numbers %d errors, the stream carries %d: a new tree error needs its code and a new peerVersion", tree.MaxErrorNumber, treeCodes)
	}
	if codeNotLeader != 14 || codeReadOnly != 20 {
		t.Errorf("replication's codes moved: NotLeader %d, ReadOnly %d", codeNotLeader, codeReadOnly)
	}
	seen := map[error]peerCode{}
	for c := codeOK + 1; c < numPeerCodes; c++ {
		err := errOf(c)
		if errors.Is(err, ErrTimeout) && c != codeUnknownOutcome {
			t.Errorf("code %d has no error", c)
			continue
		}
		if prev, dup := seen[err]; dup {
			t.Errorf("%v has codes %d and %d", err, prev, c)
		}
		seen[err] = c
		if got := codeOf(err); got != c {
			t.Errorf("codeOf(%v) = %d, want %d", err, got, c)
		}
		if got := codeOf(fmt.Errorf("wrapped: %w", err)); got != c {
			t.Errorf("a wrapped %v codes as %d", err, got)
		}
	}
	if got := codeOf(tree.ErrDataTooLarge); got == codeOf(tree.ErrBadArguments) {
		t.Errorf("ErrDataTooLarge travels as ErrBadArguments (%d): the mount's EFBIG would be lost", got)
	}
	if got := codeOf(errors.New("something else")); got != codeUnknownOutcome {
		t.Errorf("an unlisted error codes as %d, want codeUnknownOutcome", got)
	}
}

// FuzzPeerFrame feeds arbitrary bytes to the stream decoder: it must never
// panic, and whatever it accepts must encode back to the same bytes.
func FuzzPeerFrame(f *testing.F) {
	for _, s := range sampleFrames(f) {
		f.Add(appendFrame(nil, s.f)[4:])
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fr, err := decodeFrame(body)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) {
				t.Fatalf("error %v does not wrap ErrBadFrame", err)
			}
			return
		}
		again := appendFrame(nil, fr)[4:]
		fr2, err := decodeFrame(again)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if !reflect.DeepEqual(fr, fr2) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v", fr, fr2)
		}
	})
}
