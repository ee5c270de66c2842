package zkserver

import (
	"errors"
	"testing"
	"time"

	"zkfs/tree"
)

// TestAdminCommandFollowsWhitelist checks that the admin commands answer
// only what the four-letter-word whitelist allows, by either name, and
// that an answer carries ZooKeeper's command name and the figures of the
// matching word.
func TestAdminCommandFollowsWhitelist(t *testing.T) {
	ts := startTestServer(t, func(c *ServerConfig) { c.FourLetterWords = []string{"srvr", "mntr"} })
	zc, _ := zkConnect(t, ts.addr, 10*time.Second)
	defer zc.Close()
	for _, tc := range []struct {
		name, command string
		err           error
	}{
		{"srvr", "server_stats", nil},
		{"server_stats", "server_stats", nil},
		{"mntr", "monitor", nil},
		{"cons", "", ErrNotWhitelisted},
		{"connections", "", ErrNotWhitelisted},
		{"conf", "", ErrNotWhitelisted},
		{"ruok", "", ErrNotWhitelisted},
		{"wchp", "", ErrUnknownCommand},
		{"", "", ErrUnknownCommand},
	} {
		out, err := ts.srv.AdminCommand(tc.name)
		if !errors.Is(err, tc.err) {
			t.Errorf("AdminCommand(%q): err %v, want %v", tc.name, err, tc.err)
			continue
		}
		if err == nil && out["command"] != tc.command {
			t.Errorf("AdminCommand(%q): command %v, want %s", tc.name, out["command"], tc.command)
		}
	}
	out, err := ts.srv.AdminCommand("mntr")
	if err != nil {
		t.Fatal(err)
	}
	if out["num_alive_connections"] != 1 || out["znode_count"] != ts.srv.znodeCount() || out["server_state"] != "standalone" {
		t.Errorf("mntr: %v", out)
	}
}

// TestAdminIdentity checks the identity an admin request gets: its
// address, a digest id, and super for the super digest's credentials.
func TestAdminIdentity(t *testing.T) {
	ts := startTestServer(t, func(c *ServerConfig) { c.SuperDigest = tree.DigestID("super:secret") })
	id := ts.srv.Identity("10.0.0.9", "")
	if id.Super || len(id.IDs) != 1 || id.IDs[0].Scheme != "ip" || id.IDs[0].ID != "10.0.0.9" {
		t.Errorf("no credentials: %+v", id)
	}
	id = ts.srv.Identity("10.0.0.9", "alice:pw")
	if id.Super || len(id.IDs) != 2 || id.IDs[1].ID != tree.DigestID("alice:pw") {
		t.Errorf("alice: %+v", id)
	}
	if id = ts.srv.Identity("10.0.0.9", "super:secret"); !id.Super {
		t.Errorf("the super digest's credentials: %+v", id)
	}
	if id = ts.srv.Identity("10.0.0.9", "super:wrong"); id.Super {
		t.Errorf("a wrong password is super: %+v", id)
	}
}
