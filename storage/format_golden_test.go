package storage

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"zkfs/tree"
)

// updateGolden rewrites testdata/format.golden from the current encoders.
// Use it only to add a case or a new version, never to make a changed
// encoding pass: data directories on disk hold the old bytes.
var updateGolden = flag.Bool("update-golden", false, "rewrite testdata/format.golden")

// goldenLogs covers every field and flag of the log entry encoding with
// distinct values.
var goldenLogs = []struct {
	name string
	log  raft.Log
}{
	{"log-command", raft.Log{Index: 300, Term: 7, Type: raft.LogCommand, Data: []byte{3, 1, 2, 3}, AppendedAt: time.Unix(1764979200, 123456789)}},
	{"log-ext", raft.Log{Index: 1 << 40, Term: 2, Type: raft.LogConfiguration, Data: []byte{}, Extensions: []byte("ext")}},
	{"log-noop", raft.Log{Index: 1, Term: 1, Type: raft.LogNoop}},
}

// goldenKeys returns the key layout's encodings; storage/keys.go owns them.
func goldenKeys(t *testing.T) map[string][]byte {
	t.Helper()
	node := func(p string) []byte {
		k, err := nodeKey(p)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	return map[string][]byte{
		"key-log":          logKey(0x0102030405060708),
		"key-stable":       stableKey([]byte("CurrentTerm")),
		"key-session":      sessionKey(0x100000000000ab),
		"key-node-root":    node("/"),
		"key-node-top":     node("/app"),
		"key-node-nested":  node("/app/nginx.conf"),
		"key-meta-layout":  metaLayoutKey,
		"key-meta-applied": metaAppliedKey,
		"value-applied":    appliedValue(0x0a0b0c),
	}
}

// TestFormatGolden pins the key layout and the Raft log entry encoding. A
// change that is not a new layoutVersion or logCodecVersion must fail here,
// even if encoder and decoder change together.
func TestFormatGolden(t *testing.T) {
	const file = "testdata/format.golden"
	encode := goldenKeys(t)
	for _, tc := range goldenLogs {
		encode[tc.name] = appendLog(nil, &tc.log)
	}
	if *updateGolden {
		var buf bytes.Buffer
		buf.WriteString("# Key layout 1 and raft log entry encoding 1: name, then hex. Never edit an existing line.\n")
		for _, name := range sortedNames(encode) {
			fmt.Fprintf(&buf, "%s %x\n", name, encode[name])
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
	for _, tc := range goldenLogs {
		var got raft.Log
		if err := decodeLog(golden[tc.name], &got); err != nil {
			t.Errorf("%s: golden bytes no longer decode: %v", tc.name, err)
			continue
		}
		if !got.AppendedAt.Equal(tc.log.AppendedAt) {
			t.Errorf("%s: AppendedAt = %v, want %v", tc.name, got.AppendedAt, tc.log.AppendedAt)
		}
		got.AppendedAt, tc.log.AppendedAt = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, tc.log) {
			t.Errorf("%s: golden bytes decode to %+v, want %+v", tc.name, got, tc.log)
		}
	}
}

// TestOpenDataDirV1 opens a data directory written by zkfs at 567176b (a
// standalone replica, filled through the client port, stopped with SIGTERM)
// and checks the tree, the log and the stable store it holds. A new build
// must keep reading it, or bump the layout version and convert.
func TestOpenDataDirV1(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pebble")
	copyDir(t, "testdata/datadir-v1/pebble", dir)
	s, err := Open(dir, Options{Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tr, applied, err := s.LoadTree(tree.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if applied != 40 {
		t.Errorf("applied index = %d, want 40", applied)
	}
	for _, tc := range []struct {
		path    string
		data    string
		version int32
	}{
		{"/app", "config-root", 0},
		{"/app/nginx.conf", "worker_processes 8;", 1},
		{"/app/seq-0000000001", "a", 0},
		{"/app/seq-0000000002", "b", 0},
		{"/cont/child", "y", 0},
		{"/ttl", "t", 0},
		{"/empty", "", 0},
	} {
		data, st, err := tr.Get(tc.path)
		if err != nil || string(data) != tc.data || st.Version != tc.version {
			t.Errorf("Get(%s) = %q, version %d, %v; want %q, version %d", tc.path, data, st.Version, err, tc.data, tc.version)
		}
	}
	if st, err := tr.Stat("/cont"); err != nil || st.EphemeralOwner != 0 || st.NumChildren != 1 {
		t.Errorf("Stat(/cont) = %+v, %v", st, err)
	}
	if ttl, err := tr.TTL("/ttl"); err != nil || ttl != 600000 {
		t.Errorf("TTL(/ttl) = %d, %v; want 600000", ttl, err)
	}
	acl, _, err := tr.GetACL("/secret")
	want := []tree.ACL{{Perms: tree.PermAll, ID: tree.ID{Scheme: "digest", ID: "u:Jq7wMyA/w2Vd5WIDAKdu4OIIFEQ="}}}
	if err != nil || !reflect.DeepEqual(acl, want) {
		t.Errorf("GetACL(/secret) = %v, %v; want %v", acl, err, want)
	}
	first, err1 := s.FirstIndex()
	last, err2 := s.LastIndex()
	if err1 != nil || err2 != nil || first != 1 || last != 40 {
		t.Fatalf("log bounds = %d..%d (%v, %v), want 1..40", first, last, err1, err2)
	}
	for i := first; i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil || l.Index != i {
			t.Fatalf("GetLog(%d) = index %d, %v", i, l.Index, err)
		}
	}
	if term, err := s.GetUint64([]byte("CurrentTerm")); err != nil || term == 0 {
		t.Errorf("CurrentTerm = %d, %v", term, err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.MkdirAll(to, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		src, err := os.Open(filepath.Join(from, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Create(filepath.Join(to, e.Name()))
		if err == nil {
			_, err = io.Copy(dst, src)
			if cerr := dst.Close(); err == nil {
				err = cerr
			}
		}
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}

func sortedNames(m map[string][]byte) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// readGolden reads a file of "name hex" lines; # starts a comment.
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
