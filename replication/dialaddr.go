package replication

import (
	"fmt"

	"github.com/hashicorp/raft"
)

// A replica dials each peer at the address its own configuration gives
// when it has one. The addresses in Raft's log and in /zookeeper/config
// are the leader's view; where replicas reach each other by different
// routes (NAT, several interfaces, or the per-link proxies of the chaos
// harness) the leader's view is not how this replica gets there.

// staticPeer returns the peer as this replica's own configuration lists
// it.
func (m *membership) staticPeer(id string) (Peer, bool) {
	for _, p := range m.static {
		if p.ID == id {
			return p, true
		}
	}
	return Peer{}, false
}

// withLocalAddrs keeps this replica's own addresses for a peer that its
// configuration lists, whatever the published configuration says.
func (m *membership) withLocalAddrs(p Peer) Peer {
	if s, ok := m.staticPeer(p.ID); ok {
		p.RaftAddr, p.RPCAddr = s.RaftAddr, s.RPCAddr
	}
	return p
}

// raftAddrs resolves Raft server ids for the network transport.
type raftAddrs struct{ m *membership }

// ServerAddr returns the Raft address this replica knows the server by;
// an error makes the transport fall back to the address in Raft's
// configuration.
func (a raftAddrs) ServerAddr(id raft.ServerID) (raft.ServerAddress, error) {
	if p, ok := a.m.peer(string(id)); ok {
		return raft.ServerAddress(p.RaftAddr), nil
	}
	return "", fmt.Errorf("replication: no address for server %s", id)
}
