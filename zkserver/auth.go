package zkserver

import (
	"strings"

	"zkfs/tree"
	"zkfs/wire"
)

// auth handles an auth packet at once, in the reader, so that the requests
// after it run with the new identity (writes take theirs when proposed).
// Its reply still waits its turn. An unknown scheme fails: ZooKeeper then
// answers AuthFailed and closes the connection.
func (c *conn) auth(s *slot, p *wire.AuthPacket) readState {
	s.fixedZxid = true
	old := c.ident()
	next := tree.Identity{Super: old.Super, IDs: append([]tree.ID(nil), old.IDs...)}
	switch p.Scheme {
	case "digest":
		// Any "user:password" is an identity; whether it grants anything
		// is for the ACLs to say. Even a string without a colon is
		// accepted, as ZooKeeper's DigestAuthenticationProvider does.
		id := tree.DigestID(string(p.Auth))
		if c.srv.cfg.SuperDigest != "" && id == c.srv.cfg.SuperDigest {
			next.Super = true
			next.IDs = addID(next.IDs, tree.ID{Scheme: "super", ID: ""})
		}
		next.IDs = addID(next.IDs, tree.ID{Scheme: "digest", ID: id})
	case "ip":
		next.IDs = addID(next.IDs, tree.ID{Scheme: "ip", ID: c.ip})
	default:
		c.log.Warn("authentication failed: no provider for this scheme; closing the connection", "scheme", p.Scheme)
		s.err = wire.ErrAuthFailed
		s.then = c.out.closeWhenDrained
		return c.ordered(s, readDrain)
	}
	c.identity.Store(&next)
	c.log.Info("auth success", "scheme", p.Scheme)
	return c.ordered(s, readOn)
}

func addID(ids []tree.ID, id tree.ID) []tree.ID {
	for _, x := range ids {
		if x == id {
			return ids
		}
	}
	return append(ids, id)
}

// validDigestCredential checks the shape of a super digest: a user name,
// a colon and a hash.
func validDigestCredential(s string) bool {
	user, hash, ok := strings.Cut(s, ":")
	return ok && user != "" && hash != ""
}

// clientInfos answers whoAmI as ZooKeeper does: each identity's scheme and
// the user name its provider derives (a digest's user part, an address as
// is, nothing for super).
func clientInfos(id tree.Identity) []wire.ClientInfo {
	out := make([]wire.ClientInfo, 0, len(id.IDs))
	for _, x := range id.IDs {
		user := x.ID
		switch x.Scheme {
		case "digest":
			user, _, _ = strings.Cut(x.ID, ":")
		case "super":
			user = ""
		}
		out = append(out, wire.ClientInfo{AuthScheme: x.Scheme, User: user})
	}
	return out
}
