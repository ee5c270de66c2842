package storage

import (
	"bytes"
	"errors"
	"slices"
	"testing"
)

func TestNodeKeyRoundTrip(t *testing.T) {
	tests := []struct {
		path string
		want []byte
	}{
		{"/", []byte{prefixNode}},
		{"/a", append([]byte{prefixNode}, "/\x00a"...)},
		{"/ab", append([]byte{prefixNode}, "/\x00ab"...)},
		{"/a/b", append([]byte{prefixNode}, "/a\x00b"...)},
		{"/a/b/c", append([]byte{prefixNode}, "/a/b\x00c"...)},
		{"/zookeeper/quota", append([]byte{prefixNode}, "/zookeeper\x00quota"...)},
		{"/ü/名前", append([]byte{prefixNode}, "/ü\x00名前"...)},
		{"/a/seq0000000001", append([]byte{prefixNode}, "/a\x00seq0000000001"...)},
	}
	for _, tt := range tests {
		got, err := nodeKey(tt.path)
		if err != nil {
			t.Fatalf("nodeKey(%q): %v", tt.path, err)
		}
		if !bytes.Equal(got, tt.want) {
			t.Errorf("nodeKey(%q) = %q, want %q", tt.path, got, tt.want)
		}
		back, err := decodeNodeKey(got)
		if err != nil {
			t.Fatalf("decodeNodeKey(%q): %v", got, err)
		}
		if back != tt.path {
			t.Errorf("decodeNodeKey(nodeKey(%q)) = %q", tt.path, back)
		}
	}
}

func TestNodeKeyRejectsBadPaths(t *testing.T) {
	for _, path := range []string{"", "a", "a/b", "/a/", "//", "/a//b", "/a\x00b", "/\x00"} {
		if _, err := nodeKey(path); !errors.Is(err, ErrBadPath) {
			t.Errorf("nodeKey(%q) error = %v, want ErrBadPath", path, err)
		}
		if _, err := childrenPrefix(path); !errors.Is(err, ErrBadPath) {
			t.Errorf("childrenPrefix(%q) error = %v, want ErrBadPath", path, err)
		}
	}
}

func TestDecodeNodeKeyRejectsGarbage(t *testing.T) {
	for _, k := range [][]byte{
		nil,
		{prefixSession},
		{prefixNode, '/', 'a'},            // no separator
		{prefixNode, '/', 0},              // empty name
		{prefixNode, 'a', 0, 'b'},         // relative parent
		{prefixNode, '/', 0, 'a', '/'},    // slash in name
		{prefixNode, '/', 'a', 0, 'b', 0}, // second separator
	} {
		if p, err := decodeNodeKey(k); !errors.Is(err, ErrCorrupt) {
			t.Errorf("decodeNodeKey(%q) = %q, %v; want ErrCorrupt", k, p, err)
		}
	}
}

func TestChildrenPrefixSelectsDirectChildrenOnly(t *testing.T) {
	all := []string{"/", "/a", "/ab", "/a/b", "/a/c", "/a/b/c", "/ab/x", "/a-", "/a-/y", "/b", "/zookeeper", "/zookeeper/quota"}
	tests := []struct {
		parent string
		want   []string
	}{
		{"/", []string{"/a", "/a-", "/ab", "/b", "/zookeeper"}},
		{"/a", []string{"/a/b", "/a/c"}},
		{"/ab", []string{"/ab/x"}},
		{"/a-", []string{"/a-/y"}},
		{"/a/b", []string{"/a/b/c"}},
		{"/a/b/c", nil},
		{"/nonexistent", nil},
	}
	for _, tt := range tests {
		lo, err := childrenPrefix(tt.parent)
		if err != nil {
			t.Fatal(err)
		}
		hi := prefixSuccessor(lo)
		var got []string
		for _, p := range all {
			k, err := nodeKey(p)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Compare(k, lo) >= 0 && bytes.Compare(k, hi) < 0 {
				got = append(got, p)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("children of %q by range = %q, want %q", tt.parent, got, tt.want)
		}
	}
}

func TestLogKeysSortByIndex(t *testing.T) {
	indexes := []uint64{0, 1, 2, 255, 256, 1 << 32, 1<<64 - 1}
	for i, idx := range indexes {
		k := logKey(idx)
		got, err := decodeLogKey(k)
		if err != nil || got != idx {
			t.Errorf("decodeLogKey(logKey(%d)) = %d, %v", idx, got, err)
		}
		if i > 0 && bytes.Compare(logKey(indexes[i-1]), k) >= 0 {
			t.Errorf("logKey(%d) does not sort before logKey(%d)", indexes[i-1], idx)
		}
		if bytes.Compare(k, prefixStart(prefixLog)) < 0 || bytes.Compare(k, prefixEnd(prefixLog)) >= 0 {
			t.Errorf("logKey(%d) outside the log keyspace", idx)
		}
	}
}

func TestSessionKeyRoundTrip(t *testing.T) {
	for _, id := range []int64{0, 1, -1, 1 << 62, -1 << 63, 0x0100_0000_0000_0001} {
		got, err := decodeSessionKey(sessionKey(id))
		if err != nil || got != id {
			t.Errorf("decodeSessionKey(sessionKey(%d)) = %d, %v", id, got, err)
		}
	}
	if _, err := decodeSessionKey([]byte{prefixSession, 1}); !errors.Is(err, ErrCorrupt) {
		t.Errorf("short session key: err = %v, want ErrCorrupt", err)
	}
}

func TestKeyspacesAreDisjoint(t *testing.T) {
	// Every key must fall in the keyspace of its own prefix and no other, or
	// a range deletion of one keyspace would hit another.
	node, _ := nodeKey("/a/b")
	keys := map[byte][][]byte{
		prefixLog:     {logKey(0), logKey(1<<64 - 1)},
		prefixStable:  {stableKey(nil), stableKey([]byte{0xff, 0xff})},
		prefixMeta:    {metaLayoutKey, metaAppliedKey},
		prefixNode:    {{prefixNode}, node},
		prefixSession: {sessionKey(-1), sessionKey(0)},
	}
	for p, ks := range keys {
		for q := range keys {
			for _, k := range ks {
				in := bytes.Compare(k, prefixStart(q)) >= 0 && bytes.Compare(k, prefixEnd(q)) < 0
				if in != (p == q) {
					t.Errorf("key %x in keyspace %#x: %v", k, q, in)
				}
			}
		}
	}
}

func TestPrefixSuccessor(t *testing.T) {
	tests := []struct{ in, want []byte }{
		{[]byte{1}, []byte{2}},
		{[]byte{1, 0}, []byte{1, 1}},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
	}
	for _, tt := range tests {
		if got := prefixSuccessor(tt.in); !bytes.Equal(got, tt.want) {
			t.Errorf("prefixSuccessor(%x) = %x, want %x", tt.in, got, tt.want)
		}
	}
}
