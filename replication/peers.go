package replication

import (
	"fmt"
	"sort"
	"strings"
)

// Peer is one member of an ensemble, as a zoo.cfg `server.N` line
// describes it.
type Peer struct {
	// ID is the server id N of `server.N`, as a decimal string; it is
	// also the Raft server id.
	ID string
	// RaftAddr (host:peerPort) carries Raft's own transport.
	RaftAddr string
	// RPCAddr (host:electionPort) carries zkfs's replica-to-replica calls:
	// forwarded writes, read barriers and session activity.
	RPCAddr string
	// ClientAddr (host:clientPort) is where clients reach the peer; it is
	// published in /zookeeper/config.
	ClientAddr string
	// Observer peers are Raft non-voters: they serve reads, watches and
	// mounts and forward writes, but do not count towards a quorum.
	Observer bool
}

// ConfigLine returns the peer in ZooKeeper's dynamic-configuration syntax,
// `server.N=host:peerPort:electionPort:role;clientHost:clientPort`, as
// /zookeeper/config shows it.
func (p Peer) ConfigLine() string {
	role := "participant"
	if p.Observer {
		role = "observer"
	}
	line := fmt.Sprintf("server.%s=%s:%s:%s", p.ID, p.RaftAddr, portOf(p.RPCAddr), role)
	if p.ClientAddr != "" {
		line += ";" + p.ClientAddr
	}
	return line
}

func portOf(addr string) string {
	if i := strings.LastIndexByte(addr, ':'); i >= 0 {
		return addr[i+1:]
	}
	return addr
}

// ConfigText renders an ensemble as /zookeeper/config holds it: one line
// per server, ordered by id, then `version=` with the zxid in hex.
func ConfigText(peers []Peer, version int64) string {
	sorted := append([]Peer(nil), peers...)
	sort.Slice(sorted, func(i, j int) bool { return idLess(sorted[i].ID, sorted[j].ID) })
	var b strings.Builder
	for _, p := range sorted {
		b.WriteString(p.ConfigLine())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "version=%x", version)
	return b.String()
}

// idLess orders numeric ids numerically, so server.10 follows server.9.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
