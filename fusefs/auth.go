package fusefs

import (
	"fmt"
	"strings"

	"zkfs/tree"
)

// ParseAuth turns the --mount-auth value scheme:credentials into the
// identity the mount's session acts with. Without credentials the mount
// has what any unauthenticated client on the loopback interface has: its
// address. Only the digest scheme is accepted, because it is the only one
// whose credentials the server can check on its own; for it the
// credentials are user:password, hashed as ZooKeeper's
// DigestAuthenticationProvider does.
func ParseAuth(s string) (tree.Identity, error) {
	id := tree.Identity{IDs: []tree.ID{{Scheme: "ip", ID: "127.0.0.1"}}}
	if s == "" {
		return id, nil
	}
	scheme, cred, ok := strings.Cut(s, ":")
	if !ok || cred == "" {
		return tree.Identity{}, fmt.Errorf("--mount-auth: want scheme:credentials, got %q", s)
	}
	switch scheme {
	case "digest":
		user, _, ok := strings.Cut(cred, ":")
		if !ok || user == "" {
			return tree.Identity{}, fmt.Errorf("--mount-auth: digest credentials must be user:password")
		}
		id.IDs = append(id.IDs, tree.ID{Scheme: "digest", ID: tree.DigestID(cred)})
	default:
		return tree.Identity{}, fmt.Errorf("--mount-auth: unsupported scheme %q (only digest)", scheme)
	}
	return id, nil
}
