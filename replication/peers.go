package replication

import (
	"fmt"
	"net"
	"sort"
	"strconv"
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
	sortPeers(sorted)
	var b strings.Builder
	for _, p := range sorted {
		b.WriteString(p.ConfigLine())
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "version=%x", version)
	return b.String()
}

func sortPeers(p []Peer) {
	sort.Slice(p, func(i, j int) bool { return idLess(p[i].ID, p[j].ID) })
}

// idLess orders numeric ids numerically, so server.10 follows server.9.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ParseServer parses a zoo.cfg or dynamic-configuration line
// `server.N=host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]`.
// key is `server.N` and value what follows the `=`.
func ParseServer(key, value string) (Peer, error) {
	id, ok := strings.CutPrefix(key, "server.")
	if !ok || id == "" || strings.Trim(id, "0123456789") != "" {
		return Peer{}, fmt.Errorf("%q is not of the form server.N", key)
	}
	p := Peer{ID: strings.TrimLeft(id, "0")}
	if p.ID == "" {
		return Peer{}, fmt.Errorf("server id must be positive: %q", key)
	}
	addrs, client, hasClient := strings.Cut(value, ";")
	if strings.Contains(addrs, "|") {
		return Peer{}, fmt.Errorf("%s: several addresses for one server (a|b) are not supported; give one host:peerPort:electionPort", key)
	}
	// An IPv6 host is in brackets: [::1]:2888:3888.
	var parts []string
	if rest, ok := strings.CutPrefix(addrs, "["); ok {
		host, after, ok := strings.Cut(rest, "]")
		if !ok || !strings.HasPrefix(after, ":") {
			return Peer{}, fmt.Errorf("%s: want [ipv6]:peerPort:electionPort, got %q", key, addrs)
		}
		parts = append([]string{host}, strings.Split(after[1:], ":")...)
	} else {
		parts = strings.Split(addrs, ":")
	}
	if len(parts) == 4 {
		switch parts[3] {
		case "participant":
		case "observer":
			p.Observer = true
		default:
			return Peer{}, fmt.Errorf("%s: role must be participant or observer, not %q", key, parts[3])
		}
		parts = parts[:3]
	}
	if len(parts) != 3 || parts[0] == "" {
		return Peer{}, fmt.Errorf("%s: want host:peerPort:electionPort, got %q", key, addrs)
	}
	for _, port := range parts[1:] {
		if !validPort(port) {
			return Peer{}, fmt.Errorf("%s: bad port %q", key, port)
		}
	}
	p.RaftAddr = net.JoinHostPort(parts[0], parts[1])
	p.RPCAddr = net.JoinHostPort(parts[0], parts[2])
	if hasClient {
		client = strings.TrimSpace(client)
		host, port := "0.0.0.0", client
		if i := strings.LastIndexByte(client, ':'); i >= 0 {
			host, port = strings.Trim(client[:i], "[]"), client[i+1:]
		}
		if !validPort(port) {
			return Peer{}, fmt.Errorf("%s: bad client port %q", key, port)
		}
		p.ClientAddr = net.JoinHostPort(host, port)
	}
	return p, nil
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n > 0 && n < 65536
}

// ParseConfigText parses what ConfigText writes; it ignores the version
// line and blank lines.
func ParseConfigText(text string) ([]Peer, error) {
	var peers []Peer
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "version=") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("bad configuration line %q", line)
		}
		p, err := ParseServer(k, v)
		if err != nil {
			return nil, err
		}
		peers = append(peers, p)
	}
	return peers, nil
}
