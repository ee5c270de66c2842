package tree

import (
	"errors"
	"fmt"
	"testing"
)

// TestClaimSession checks ZooKeeper's SessionMoved as the tree applies it:
// once a connection has claimed a session, the writes of its other
// connections fail and change nothing, while the owner's, the server's and
// those of a session nobody claimed go through.
func TestClaimSession(t *testing.T) {
	const sess, oldConn, newConn = 0x100000000000ab, 11, 22
	tests := []struct {
		name  string
		claim int64 // the owner claimed before the write; 0 for none
		h     Header
		op    Op
		want  error
	}{
		{"unclaimed session, any connection", 0, Header{Session: sess, Owner: oldConn}, SetData{Path: "/a", Data: []byte("x"), Version: -1}, nil},
		{"owner writes", newConn, Header{Session: sess, Owner: newConn}, SetData{Path: "/a", Data: []byte("x"), Version: -1}, nil},
		{"old connection sets data", newConn, Header{Session: sess, Owner: oldConn}, SetData{Path: "/a", Data: []byte("x"), Version: -1}, ErrSessionMoved},
		{"old connection creates", newConn, Header{Session: sess, Owner: oldConn}, Create{Path: "/b", ACL: OpenACL}, ErrSessionMoved},
		{"old connection deletes", newConn, Header{Session: sess, Owner: oldConn}, Delete{Path: "/a", Version: -1}, ErrSessionMoved},
		{"old connection's multi", newConn, Header{Session: sess, Owner: oldConn}, Multi{Ops: []Op{Check{Path: "/a", Version: 0}}}, ErrSessionMoved},
		{"server's own command", newConn, Header{Session: sess}, SetData{Path: "/a", Data: []byte("x"), Version: -1}, nil},
		{"old connection claims back", newConn, Header{Session: sess, Owner: oldConn}, ClaimSession{ID: sess, Owner: oldConn}, nil},
		{"claim of an unknown session", 0, Header{Session: 5, Owner: oldConn}, ClaimSession{ID: 5, Owner: oldConn}, ErrSessionExpired},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(Config{})
			zxid := int64(0)
			apply := func(h Header, op Op) Result {
				zxid++
				h.Zxid = zxid
				r, _ := tr.Apply(h, op)
				return r
			}
			if r := apply(Header{}, CreateSession{ID: sess, Timeout: 10000}); r.Err != nil {
				t.Fatal(r.Err)
			}
			if r := apply(Header{Session: sess}, Create{Path: "/a", Data: []byte("v"), ACL: OpenACL}); r.Err != nil {
				t.Fatal(r.Err)
			}
			if tc.claim != 0 {
				if r := apply(Header{Session: sess, Owner: tc.claim}, ClaimSession{ID: sess, Owner: tc.claim}); r.Err != nil {
					t.Fatal(r.Err)
				}
			}
			state := func() string {
				data, st, err := tr.Get("/a")
				s, _ := tr.Session(sess)
				return fmt.Sprintf("%q %+v %v %v %d", data, st, err, tr.Exists("/b"), s.Owner)
			}
			before := state()
			got := apply(tc.h, tc.op).Err
			if !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			if after := state(); tc.want != nil && after != before {
				t.Errorf("a refused command changed the tree: %s, then %s", before, after)
			}
		})
	}
}

// TestClaimSurvivesRecords checks that a session's owner is kept in its
// record, so that a replica loaded from storage or a snapshot refuses the
// old connection as well.
func TestClaimSurvivesRecords(t *testing.T) {
	s := Session{ID: 0x100000000000ab, Timeout: 10000, Password: []byte("p"), Owner: 22}
	got, err := DecodeSession(s.ID, EncodeSession(s))
	if err != nil || got.Owner != s.Owner {
		t.Fatalf("decoded %+v, %v; want owner %d", got, err, s.Owner)
	}
}
