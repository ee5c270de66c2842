package tree

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
)

// updateGolden rewrites the golden files from the current encoders. Use it
// only to add a case or a new encoding version, never to make a changed
// encoding pass: data directories on disk hold the old bytes.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/*.golden")

// goldenNodes covers every field of a node record with distinct values, so
// that two fields swapped in the encoding change the bytes.
var goldenNodes = []struct {
	name string
	rec  NodeRecord
}{
	{"node-file", NodeRecord{Czxid: 0x1234, Mzxid: 0x1240, Pzxid: 0x1235, Ctime: 1764979200123, Mtime: 1764979260456,
		Version: 7, Aversion: 2, Cversion: 3, NumChildren: 0, EphemeralOwner: 0, Kind: KindFile,
		Data: []byte("worker_processes 4;\n"), ACL: OpenACL}},
	{"node-dir-acl", NodeRecord{Czxid: 5, Mzxid: 9, Pzxid: 11, Ctime: 100, Mtime: 90,
		Version: 1, Aversion: 4, Cversion: 6, NumChildren: 2, Kind: KindDir, Data: []byte{},
		ACL: []ACL{{Perms: PermRead | PermAdmin, ID: ID{Scheme: "digest", ID: "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="}}, {Perms: PermRead, ID: ID{Scheme: "ip", ID: "10.0.0.0/8"}}}}},
	{"node-ephemeral", NodeRecord{Czxid: 20, Mzxid: 20, Pzxid: 20, Ctime: 200, Mtime: 200, EphemeralOwner: 0x100000000000ab, Data: nil, ACL: OpenACL}},
	{"node-container", NodeRecord{Czxid: 21, Mzxid: 21, Pzxid: 30, Ctime: 201, Mtime: 201, Cversion: 1, NumChildren: 1, EphemeralOwner: ContainerOwner, Kind: KindDir, ACL: OpenACL}},
	{"node-ttl", NodeRecord{Czxid: 22, Mzxid: 22, Pzxid: 22, Ctime: 202, Mtime: 202, EphemeralOwner: TTLOwner(60000), Data: []byte("t"), ACL: OpenACL}},
}

var goldenSessions = []struct {
	name string
	s    Session
}{
	{"session", Session{ID: 0x100000000000ab, Timeout: 30000, Password: []byte("0123456789abcdef")}},
	{"session-no-password", Session{ID: 1, Timeout: 4000}},
	{"session-owner", Session{ID: 0x200000000000cd, Timeout: 10000, Password: []byte("fedcba9876543210"), Owner: 0x0200019ae2c4a107}},
}

// goldenDecodeOnly are older encodings that this build no longer writes but
// must still read: version 1 node values, which kept data as length+bytes.
var goldenDecodeOnly = map[string]NodeRecord{
	"node-v1": {Czxid: 3, Mzxid: 4, Pzxid: 3, Ctime: 10, Mtime: 12, Version: 1, Data: []byte("abc"), ACL: OpenACL},
}

// TestRecordGolden pins the tree's record encodings, which every data
// directory holds. A change that is not a new encoding version must fail
// here, even if encoder and decoder change together.
func TestRecordGolden(t *testing.T) {
	const file = "testdata/records.golden"
	encode := map[string][]byte{}
	for _, tc := range goldenNodes {
		encode[tc.name] = EncodeNode(tc.rec)
	}
	for _, tc := range goldenSessions {
		encode[tc.name] = EncodeSession(tc.s)
	}
	if *updateGolden {
		old := readGolden(t, file)
		var buf bytes.Buffer
		buf.WriteString("# Tree record values (node encoding 2; session encoding 1, or 2 with an owner; node-v1 is decode-only): name, then hex. Never edit an existing line.\n")
		for _, tc := range goldenNodes {
			fmt.Fprintf(&buf, "%s %x\n", tc.name, encode[tc.name])
		}
		for _, tc := range goldenSessions {
			fmt.Fprintf(&buf, "%s %x\n", tc.name, encode[tc.name])
		}
		for name := range goldenDecodeOnly {
			fmt.Fprintf(&buf, "%s %x\n", name, old[name])
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := readGolden(t, file)
	for name, got := range encode {
		if want, ok := golden[name]; !ok {
			t.Errorf("%s: missing from %s", name, file)
		} else if !bytes.Equal(got, want) {
			t.Errorf("%s: encoding changed\n got %x\nwant %x", name, got, want)
		}
	}
	for _, tc := range goldenNodes {
		got, err := DecodeNode(golden[tc.name])
		if err != nil || !reflect.DeepEqual(got, tc.rec) {
			t.Errorf("%s: golden bytes decode to %+v, %v; want %+v", tc.name, got, err, tc.rec)
		}
	}
	for _, tc := range goldenSessions {
		got, err := DecodeSession(tc.s.ID, golden[tc.name])
		if err != nil || !reflect.DeepEqual(got, tc.s) {
			t.Errorf("%s: golden bytes decode to %+v, %v; want %+v", tc.name, got, err, tc.s)
		}
	}
	for name, want := range goldenDecodeOnly {
		got, err := DecodeNode(golden[name])
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: golden bytes decode to %+v, %v; want %+v", name, got, err, want)
		}
	}
}

// readGolden reads a file of "name hex" lines; # starts a comment. A
// missing file reads as empty, so that -update-golden can create it.
func readGolden(t *testing.T, file string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	f, err := os.Open(file)
	if os.IsNotExist(err) && *updateGolden {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
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
