package replication

import (
	"errors"
	"reflect"
	"testing"

	"zkfs/tree"
)

func TestCommandRoundTrip(t *testing.T) {
	acl := []tree.ACL{{Perms: tree.PermAll, ID: tree.ID{Scheme: "world", ID: "anyone"}},
		{Perms: tree.PermRead, ID: tree.ID{Scheme: "digest", ID: "bob:abc="}}}
	tests := []struct {
		name string
		cmd  Command
	}{
		{"create", Command{Time: 1700000000000, Session: 7, Op: tree.Create{Path: "/a", Data: []byte("x"), ACL: acl, Mode: tree.ModeEphemeralSequential}}},
		{"create nil data", Command{Op: tree.Create{Path: "/a", ACL: acl, Mode: tree.ModePersistentWithTTL, TTL: 5000, Kind: tree.KindDir}}},
		{"create empty data", Command{Op: tree.Create{Path: "/a", Data: []byte{}, ACL: acl}}},
		{"delete", Command{Time: -1, Op: tree.Delete{Path: "/a/b", Version: -1}}},
		{"set", Command{Identity: tree.Identity{Super: true, IDs: []tree.ID{{Scheme: "ip", ID: "127.0.0.1"}}}, Op: tree.SetData{Path: "/a", Data: []byte{0, 1, 2}, Version: 2147483647}}},
		{"setacl", Command{Op: tree.SetACL{Path: "/", ACL: acl, Version: 3}}},
		{"check", Command{Op: tree.Check{Path: "/c", Version: -2147483648}}},
		{"multi", Command{Session: -5, Op: tree.Multi{Ops: []tree.Op{
			tree.Create{Path: "/m", Data: []byte("1"), ACL: acl},
			tree.Check{Path: "/m", Version: 0},
			tree.SetData{Path: "/m", Data: []byte("2"), Version: 0},
			tree.Delete{Path: "/m", Version: 1},
		}}}},
		{"empty multi", Command{Op: tree.Multi{Ops: []tree.Op{}}}},
		{"create session", Command{Op: tree.CreateSession{ID: 0x1234, Timeout: 30000, Password: []byte("0123456789abcdef")}}},
		{"close session", Command{Op: tree.CloseSession{ID: -1}}},
		{"reap", Command{Op: tree.Reap{Path: "/c"}}},
		{"set kind", Command{Op: tree.SetKind{Path: "/k", Kind: tree.KindDir}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeCommand(tt.cmd)
			if err != nil {
				t.Fatal(err)
			}
			got, err := DecodeCommand(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.cmd) {
				t.Errorf("got %#v, want %#v", got, tt.cmd)
			}
			again, _ := EncodeCommand(got)
			if string(again) != string(b) {
				t.Errorf("encoding is not deterministic")
			}
		})
	}
}

func TestDecodeCommandRejects(t *testing.T) {
	good, _ := EncodeCommand(Command{Op: tree.SetData{Path: "/a", Data: []byte("hello"), Version: -1}})
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrBadCommand},
		{"unknown type", []byte{200, 1}, ErrUnknownCommand},
		{"zero type", []byte{0, 1}, ErrUnknownCommand},
		{"future version", []byte{byte(CmdDelete), 9}, ErrUnknownCommand},
		{"truncated", good[:len(good)-3], ErrBadCommand},
		{"trailing", append(append([]byte{}, good...), 0), ErrBadCommand},
		{"lying count", []byte{byte(CmdMulti), 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}, ErrBadCommand},
		{"nested multi", []byte{byte(CmdMulti), 1, 0, 0, 0, 0, 1, byte(CmdMulti), 0}, ErrBadCommand},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeCommand(tt.data)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

func TestEncodeNestedMultiFails(t *testing.T) {
	_, err := EncodeCommand(Command{Op: tree.Multi{Ops: []tree.Op{tree.Multi{}}}})
	if !errors.Is(err, ErrBadCommand) {
		t.Fatalf("got %v, want ErrBadCommand", err)
	}
}

func FuzzDecodeCommand(f *testing.F) {
	seeds := []Command{
		{Time: 1, Session: 2, Op: tree.Create{Path: "/a", Data: []byte("x"), ACL: tree.OpenACL, Mode: tree.ModeEphemeral}},
		{Op: tree.Multi{Ops: []tree.Op{tree.Check{Path: "/a", Version: 1}, tree.Delete{Path: "/a", Version: -1}}}},
		{Op: tree.CreateSession{ID: 9, Timeout: 4000, Password: make([]byte, 16)}},
		{Identity: tree.Identity{IDs: []tree.ID{{Scheme: "digest", ID: "u:p"}}}, Op: tree.SetACL{Path: "/", ACL: tree.OpenACL, Version: -1}},
		{Session: 9, Owner: 0x0200000000000007, Op: tree.SetData{Path: "/a", Data: []byte("v"), Version: 3}},
		{Session: 9, Op: tree.ClaimSession{ID: 9, Owner: 0x0200000000000007}},
	}
	for _, c := range seeds {
		b, err := EncodeCommand(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := DecodeCommand(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to a command that decodes to
		// the same value: the log's meaning cannot depend on who reads it.
		b, err := EncodeCommand(c)
		if err != nil {
			t.Fatalf("decoded command does not encode: %v", err)
		}
		c2, err := DecodeCommand(b)
		if err != nil {
			t.Fatalf("re-encoded command does not decode: %v", err)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip changed the command: %#v vs %#v", c, c2)
		}
	})
}
