package tree

import (
	"errors"
	"reflect"
	"testing"
)

// TestReadRules checks the rules every interface shares: the stat needs
// READ (exists, ZooKeeper 3.8.4+), getACL needs READ or ADMIN and hides
// digest hashes from a caller without ADMIN, and Rights lists the bits.
func TestReadRules(t *testing.T) {
	alice := Identity{IDs: []ID{{"digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}}}
	local := Identity{IDs: []ID{{"ip", "127.0.0.1"}}}
	secret := ACL{PermAll, ID{"digest", "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E="}}
	tr := New(Config{})
	mustApply(t, tr, hdr(1), Create{Path: "/secret", ACL: []ACL{secret}})
	mustApply(t, tr, hdr(2), Create{Path: "/readable", ACL: []ACL{secret, {PermRead, ID{"world", "anyone"}}}})
	mustApply(t, tr, hdr(3), Create{Path: "/admin", ACL: []ACL{secret, {PermAdmin, ID{"world", "anyone"}}}})
	mustApply(t, tr, hdr(4), Create{Path: "/lan", ACL: []ACL{{PermRead | PermWrite, ID{"ip", "127.0.0.0/8"}}}})

	tests := []struct {
		path    string
		id      Identity
		statErr error
		aclErr  error
		acl     string // the digest id getACL shows, "" if none
		rights  int32
	}{
		{"/secret", open, ErrNoAuth, ErrNoAuth, "", 0},
		{"/secret", local, ErrNoAuth, ErrNoAuth, "", 0},
		{"/secret", alice, nil, nil, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=", PermAll},
		{"/secret", Identity{Super: true}, nil, nil, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=", PermAll},
		{"/readable", open, nil, nil, "alice:x", PermRead},
		{"/admin", open, ErrNoAuth, nil, "alice:aYXlLOpEooaV1cRAvUL1fp9Qt7E=", PermAdmin},
		{"/lan", open, ErrNoAuth, ErrNoAuth, "", 0},
		{"/lan", local, nil, nil, "", PermRead | PermWrite},
		{"/missing", alice, ErrNoNode, ErrNoNode, "", 0},
	}
	for _, tt := range tests {
		_, err := tr.StatAs(tt.path, tt.id)
		if !errors.Is(err, tt.statErr) || (err == nil) != (tt.statErr == nil) {
			t.Errorf("StatAs(%s, %v) = %v, want %v", tt.path, tt.id, err, tt.statErr)
		}
		acl, _, err := tr.GetACLAs(tt.path, tt.id)
		if !errors.Is(err, tt.aclErr) || (err == nil) != (tt.aclErr == nil) {
			t.Errorf("GetACLAs(%s, %v) = %v, want %v", tt.path, tt.id, err, tt.aclErr)
		}
		var digest string
		for _, a := range acl {
			if a.ID.Scheme == "digest" {
				digest = a.ID.ID
			}
		}
		if digest != tt.acl {
			t.Errorf("GetACLAs(%s, %v) shows digest %q, want %q", tt.path, tt.id, digest, tt.acl)
		}
		r, err := tr.Rights(tt.path, tt.id)
		if r != tt.rights || (tt.path == "/missing") != errors.Is(err, ErrNoNode) {
			t.Errorf("Rights(%s, %v) = %05b, %v, want %05b", tt.path, tt.id, r, err, tt.rights)
		}
	}
}

func TestRedactACL(t *testing.T) {
	in := []ACL{
		{PermRead, ID{"digest", "u:h:extra"}},
		{PermRead, ID{"digest", "nocolon"}},
		{PermAll, ID{"world", "anyone"}},
		{PermRead, ID{"ip", "10.0.0.0/8"}},
	}
	keep := append([]ACL(nil), in...)
	got := RedactACL(in)
	want := []ACL{
		{PermRead, ID{"digest", "u:x"}},
		{PermRead, ID{"digest", "nocolon"}},
		{PermAll, ID{"world", "anyone"}},
		{PermRead, ID{"ip", "10.0.0.0/8"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("RedactACL = %+v, want %+v", got, want)
	}
	if !reflect.DeepEqual(in, keep) {
		t.Errorf("RedactACL modified its input: %+v", in)
	}
}

// TestX509ACL: an x509 id (a client certificate's subject) is a valid ACL
// subject, and grants to the connection authenticated with that subject
// only.
func TestX509ACL(t *testing.T) {
	tr := New(Config{})
	cn := ID{"x509", "CN=client"}
	mustApply(t, tr, hdr(1), Create{Path: "/cert", ACL: []ACL{{PermAll, cn}}})
	if r, _ := tr.Apply(hdr(2), Create{Path: "/empty", ACL: []ACL{{PermAll, ID{"x509", ""}}}}); !errors.Is(r.Err, ErrInvalidACL) {
		t.Errorf("an empty x509 id: %v, want InvalidACL", r.Err)
	}
	for _, tt := range []struct {
		id   Identity
		want int32
	}{
		{Identity{IDs: []ID{{"ip", "127.0.0.1"}, cn}}, PermAll},
		{Identity{IDs: []ID{{"x509", "CN=other"}}}, 0},
		{Identity{IDs: []ID{{"digest", "CN=client"}}}, 0},
	} {
		if got, _ := tr.Rights("/cert", tt.id); got != tt.want {
			t.Errorf("Rights(/cert, %v) = %05b, want %05b", tt.id, got, tt.want)
		}
	}
}

// TestDigestID checks the digest ids against values computed by Python's
// hashlib, an implementation independent of this one.
func TestDigestID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"bob:secret", "bob:fyVmFCwVbTJYrznoSu1koqYEYF0="},
		{"nocolon", "nocolon:Ra+cHr2ZoHvBjtNArFGNGlVie4g="},
		{"a:b:c", "a:cLzgnoJ6mP5qz3w+mwvPE2vDgu0="},
	}
	for _, tt := range tests {
		if got := DigestID(tt.in); got != tt.want {
			t.Errorf("DigestID(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
