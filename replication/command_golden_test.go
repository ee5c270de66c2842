package replication

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"

	"zkfs/tree"
)

// updateGolden rewrites the golden files from the current encoders. Use it
// only when adding a case or a new format version, never to make a changed
// encoding pass: existing data directories and peers hold the old bytes.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// goldenCommands is one command of every type, with fields set to values that
// are distinct, so that two fields swapped in the encoding change the bytes.
var goldenCommands = []struct {
	name string
	cmd  Command
}{
	{"create", Command{Time: 1764979200123, Session: 0x1000000000002a, Identity: tree.Identity{IDs: []tree.ID{{Scheme: "digest", ID: "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="}}},
		Op: tree.Create{Path: "/app/lock-", Data: []byte("owner"), ACL: []tree.ACL{{Perms: tree.PermRead | tree.PermAdmin, ID: tree.ID{Scheme: "world", ID: "anyone"}}}, Mode: tree.ModeEphemeralSequential, Kind: tree.KindFile}}},
	{"create-ttl-dir", Command{Time: 7, Session: 3, Op: tree.Create{Path: "/t", Data: nil, ACL: tree.OpenACL, Mode: tree.ModePersistentWithTTL, TTL: 60000, Kind: tree.KindDir}}},
	{"delete", Command{Time: 8, Session: 4, Op: tree.Delete{Path: "/app/x", Version: 5}}},
	{"set-data", Command{Time: 9, Session: 5, Identity: tree.Identity{Super: true}, Op: tree.SetData{Path: "/app/conf", Data: []byte{0, 1, 2, 0xff}, Version: -1}}},
	{"set-acl", Command{Time: 10, Session: 6, Op: tree.SetACL{Path: "/secret", ACL: []tree.ACL{{Perms: tree.PermAll, ID: tree.ID{Scheme: "ip", ID: "127.0.0.1"}}, {Perms: tree.PermRead, ID: tree.ID{Scheme: "auth", ID: ""}}}, Version: 2}}},
	{"check", Command{Time: 11, Session: 7, Op: tree.Check{Path: "/c", Version: 3}}},
	{"multi", Command{Time: 12, Session: 8, Op: tree.Multi{Ops: []tree.Op{
		tree.Check{Path: "/m", Version: 1},
		tree.Create{Path: "/m/a", Data: []byte{}, ACL: tree.OpenACL, Mode: tree.ModePersistent},
		tree.SetData{Path: "/m", Data: []byte("d"), Version: 1},
		tree.Delete{Path: "/m/b", Version: -1},
	}}}},
	{"create-session", Command{Time: 13, Op: tree.CreateSession{ID: 0x100000000000ab, Timeout: 30000, Password: []byte("0123456789abcdef")}}},
	{"close-session", Command{Time: 14, Session: 0x100000000000ab, Op: tree.CloseSession{ID: 0x100000000000ab}}},
	{"reap", Command{Time: 15, Op: tree.Reap{Path: "/container"}}},
	{"set-kind", Command{Time: 16, Session: 9, Op: tree.SetKind{Path: "/app", Kind: tree.KindDir}}},
	{"claim-session", Command{Time: 17, Session: 0x100000000000ab, Op: tree.ClaimSession{ID: 0x100000000000ab, Owner: 0x0200019ae2c4a107}}},
	{"set-data-owner", Command{Time: 18, Session: 0x100000000000ab, Owner: 0x0300019ae2c4a10a, Op: tree.SetData{Path: "/app/conf", Data: []byte("v2"), Version: 4}}},
}

// TestCommandGolden pins the Raft command encoding. Every replica's log
// holds these bytes, so a change that is not a new payload version must fail
// here, even if encoder and decoder change together.
func TestCommandGolden(t *testing.T) {
	const file = "testdata/commands.golden"
	if *updateGolden {
		var buf bytes.Buffer
		buf.WriteString("# Raft command encodings, version 1 (version 2 when the command carries an owner): name, then hex. Never edit an existing line.\n")
		for _, tc := range goldenCommands {
			b, err := EncodeCommand(tc.cmd)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			fmt.Fprintf(&buf, "%s %x\n", tc.name, b)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readGolden(t, file)
	seen := map[CommandType]bool{}
	for _, tc := range goldenCommands {
		want, ok := golden[tc.name]
		if !ok {
			t.Errorf("%s: missing from %s", tc.name, file)
			continue
		}
		got, err := EncodeCommand(tc.cmd)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: encoding changed\n got %x\nwant %x", tc.name, got, want)
		}
		dec, err := DecodeCommand(want)
		if err != nil {
			t.Errorf("%s: golden bytes no longer decode: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(dec, tc.cmd) {
			t.Errorf("%s: golden bytes decode to\n%+v\nwant\n%+v", tc.name, dec, tc.cmd)
		}
		seen[CommandType(want[0])] = true
	}
	for ct := range opCodecs {
		if !seen[ct] {
			t.Errorf("command type %d has no golden encoding", ct)
		}
	}
}

// readGolden reads a file of "name hex" lines; # starts a comment.
func readGolden(t *testing.T, file string) map[string][]byte {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]byte{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, h, ok := strings.Cut(line, " ")
		b, err := hex.DecodeString(h)
		if !ok || err != nil {
			t.Fatalf("%s: bad line %q", file, line)
		}
		out[name] = b
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
