package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestValidatePath(t *testing.T) {
	tests := []struct {
		path       string
		sequential bool
		want       string // error text, "" for valid
	}{
		{"/", false, ""},
		{"/a/b.c/..d/...", false, ""},
		{"/é/ü", false, ""},
		{"", false, "Path length must be > 0"},
		{"a", false, "Path must start with / character"},
		{"/a/", false, "Path must not end with / character"},
		{"/a/", true, ""},
		{"/a//b", false, `Invalid path string "/a//b" caused by empty node name specified @3`},
		{"/a/.", false, `Invalid path string "/a/." caused by relative paths not allowed @3`},
		{"/a/../b", false, `Invalid path string "/a/../b" caused by relative paths not allowed @4`},
		{"/a\x00b", false, `Invalid path string "/a` + "\x00" + `b" caused by null character not allowed @2`},
		{"/a\tb", false, `Invalid path string "/a` + "\t" + `b" caused by invalid character @2`},
		{"/a\u0085", false, `Invalid path string "/a` + "\u0085" + `" caused by invalid character @2`},
		{"/a\ue000", false, `Invalid path string "/a` + "\ue000" + `" caused by invalid character @2`},
		// Java sees a surrogate pair, and counts positions in UTF-16 units.
		{"/é😀", false, `Invalid path string "/é😀" caused by invalid character @2`},
		{"/😀/x/../y", false, `Invalid path string "/😀/x/../y" caused by invalid character @1`},
		{"/abc\xff", false, "Invalid path string \"/abc\xff\" caused by invalid character @4"},
	}
	for _, tt := range tests {
		err := validatePath(tt.path, tt.sequential)
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("validatePath(%q, %v) = %q, want %q", tt.path, tt.sequential, got, tt.want)
		}
	}
}

func TestParseACL(t *testing.T) {
	tests := []struct {
		in   string
		want []zk.ACL
		err  string
	}{
		{"world:anyone:cdrwa", []zk.ACL{{Scheme: "world", ID: "anyone", Perms: zk.PermAll}}, ""},
		{"digest:bob:Ym9i:rw", []zk.ACL{{Scheme: "digest", ID: "bob:Ym9i", Perms: zk.PermRead | zk.PermWrite}}, ""},
		{"ip:::1:r", []zk.ACL{{Scheme: "ip", ID: "::1", Perms: zk.PermRead}}, ""},
		{"auth::ca,ip:10.0.0.0/8:d", []zk.ACL{
			{Scheme: "auth", ID: "", Perms: zk.PermCreate | zk.PermAdmin},
			{Scheme: "ip", ID: "10.0.0.0/8", Perms: zk.PermDelete},
		}, ""},
		{"world:anyone:", []zk.ACL{{Scheme: "world", ID: "anyone"}}, ""},
		{"world:anyone", nil, "world:anyone does not have the form scheme:id:perm"},
		{"world", nil, "world does not have the form scheme:id:perm"},
		{"world:anyone:rwx", nil, "Unknown perm type: x"},
		{"world:anyone:r,", nil, " does not have the form scheme:id:perm"},
	}
	for _, tt := range tests {
		got, err := parseACL(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("parseACL(%q) error %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("parseACL(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestWriteStat(t *testing.T) {
	local := time.Local
	time.Local = time.UTC
	defer func() { time.Local = local }()
	var b strings.Builder
	// A TTL node's ephemeralOwner is negative as a long: Java prints its
	// two's complement.
	ttlOwner := int64(-0x100000000000000)
	writeStat(&b, &zk.Stat{
		Czxid: 0x1a, Mzxid: 0x1b, Pzxid: 0x1c, Ctime: 1795312423000, Mtime: 0,
		Version: 2, Cversion: 3, Aversion: 4, DataLength: 5, NumChildren: 6,
		EphemeralOwner: ttlOwner,
	})
	want := `cZxid = 0x1a
ctime = Sun Nov 22 01:53:43 UTC 2026
mZxid = 0x1b
mtime = Thu Jan 01 00:00:00 UTC 1970
pZxid = 0x1c
cversion = 3
dataVersion = 2
aclVersion = 4
ephemeralOwner = 0xff00000000000000
dataLength = 5
numChildren = 6
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestZkCliArgs(t *testing.T) {
	got := zkCliArgs([]string{"ls", "-server", "h:1", "-server=h:2", "-s", "--", "-server"})
	want := []string{"ls", "--server", "h:1", "--server=h:2", "-s", "--", "-server"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
