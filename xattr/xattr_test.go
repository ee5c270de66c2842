package xattr

import (
	"errors"
	"testing"

	"zkfs/tree"
)

var sample = Node{
	Stat: tree.Stat{
		Czxid: 0x1f, Mzxid: 0x2a, Pzxid: 0x30,
		Ctime: 1700000000123, Mtime: 1700000005456,
		Version: 3, Cversion: 2, Aversion: 1,
		EphemeralOwner: 0x100000abc, DataLength: 7, NumChildren: 2,
	},
	ACL: []tree.ACL{
		{Perms: tree.PermAll, ID: tree.ID{Scheme: "world", ID: "anyone"}},
		{Perms: tree.PermRead | tree.PermAdmin, ID: tree.ID{Scheme: "digest", ID: "bob:x1/yz="}},
	},
	Kind: tree.KindDir,
	Mode: "read-only",
}

func TestGet(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{Czxid, "0x1f"},
		{Mzxid, "0x2a"},
		{Pzxid, "0x30"},
		{Ctime, "1700000000123"},
		{Mtime, "1700000005456"},
		{Version, "3"},
		{Cversion, "2"},
		{Aversion, "1"},
		{EphemeralOwner, "0x100000abc"},
		{DataLength, "7"},
		{NumChildren, "2"},
		{ACL, "world:anyone:cdrwa,digest:bob:x1/yz=:ra"},
		{Kind, "dir"},
		{Mode, "read-only"},
		{Stat, "cZxid = 0x1f\nctime = Tue Nov 14 22:13:20 UTC 2023\nmZxid = 0x2a\nmtime = Tue Nov 14 22:13:25 UTC 2023\npZxid = 0x30\ncversion = 2\ndataVersion = 3\naclVersion = 1\nephemeralOwner = 0x100000abc\ndataLength = 7\nnumChildren = 2\n"},
	}
	for _, tt := range tests {
		got, err := Get(tt.name, sample)
		if err != nil {
			t.Errorf("Get(%s): %v", tt.name, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Get(%s) = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestGetNegativeIDsAreTwosComplement(t *testing.T) {
	n := Node{Stat: tree.Stat{EphemeralOwner: -1}}
	got, _ := Get(EphemeralOwner, n)
	if want := "0xffffffffffffffff"; string(got) != want {
		t.Errorf("got %q, want %q (Long.toHexString)", got, want)
	}
}

func TestGetUnknown(t *testing.T) {
	for _, name := range []string{"user.zk.nope", "user.other", "security.selinux", Prefix} {
		if _, err := Get(name, sample); !errors.Is(err, ErrNoAttr) {
			t.Errorf("Get(%q) error = %v, want ErrNoAttr", name, err)
		}
	}
}

func TestListHasTheACLOnly(t *testing.T) {
	if got, want := string(List()), ACL+"\x00"; got != want {
		t.Errorf("List() = %q, want %q", got, want)
	}
	for _, n := range Names() {
		if _, err := Get(n, sample); err != nil {
			t.Errorf("%q does not Get: %v", n, err)
		}
	}
}

func TestSet(t *testing.T) {
	file := tree.KindFile
	tests := []struct {
		name, value string
		wantACL     []tree.ACL
		wantKind    *tree.Kind
		wantErr     error
	}{
		// Read-only attributes: the same value is accepted and changes nothing.
		{name: Czxid, value: "0x1f"},
		{name: Version, value: "3"},
		{name: Stat, value: FormatStat(sample.Stat)},
		{name: Czxid, value: "0x20", wantErr: ErrReadOnly},
		{name: Mtime, value: "0", wantErr: ErrReadOnly},
		{name: DataLength, value: "7\n", wantErr: ErrReadOnly},
		{name: "user.zk.bogus", value: "1", wantErr: ErrNoAttr},
		{name: Mode, value: "read-only"},
		{name: Mode, value: "leader", wantErr: ErrReadOnly},
		// Kind.
		{name: Kind, value: "dir"},
		{name: Kind, value: "dir\n"},
		{name: Kind, value: "file", wantKind: &file},
		{name: Kind, value: "symlink", wantErr: ErrInvalid},
		// ACL.
		{name: ACL, value: "world:anyone:cdrwa,digest:bob:x1/yz=:ra"},
		{name: ACL, value: "world:anyone:r", wantACL: []tree.ACL{{Perms: tree.PermRead, ID: tree.ID{Scheme: "world", ID: "anyone"}}}},
		{name: ACL, value: "ip:127.0.0.1:rw,digest:u:h=:cdrwa\n", wantACL: []tree.ACL{
			{Perms: tree.PermRead | tree.PermWrite, ID: tree.ID{Scheme: "ip", ID: "127.0.0.1"}},
			{Perms: tree.PermAll, ID: tree.ID{Scheme: "digest", ID: "u:h="}},
		}},
		{name: ACL, value: "world:anyone:", wantACL: []tree.ACL{{Perms: 0, ID: tree.ID{Scheme: "world", ID: "anyone"}}}},
		{name: ACL, value: "world:anyone:rx", wantErr: ErrInvalid},
		{name: ACL, value: "worldanyone", wantErr: ErrInvalid},
		{name: ACL, value: "world:r", wantErr: ErrInvalid},
		{name: ACL, value: "", wantErr: ErrInvalid},
	}
	for _, tt := range tests {
		got, err := Set(tt.name, []byte(tt.value), sample)
		if !errors.Is(err, tt.wantErr) {
			t.Errorf("Set(%s, %q) error = %v, want %v", tt.name, tt.value, err, tt.wantErr)
			continue
		}
		if !equalACL(got.ACL, tt.wantACL) || (got.ACL == nil) != (tt.wantACL == nil) {
			t.Errorf("Set(%s, %q) ACL = %v, want %v", tt.name, tt.value, got.ACL, tt.wantACL)
		}
		if (got.Kind == nil) != (tt.wantKind == nil) || (got.Kind != nil && *got.Kind != *tt.wantKind) {
			t.Errorf("Set(%s, %q) Kind = %v, want %v", tt.name, tt.value, got.Kind, tt.wantKind)
		}
	}
}
