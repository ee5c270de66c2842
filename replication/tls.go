package replication

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// PeerTLS secures replica-to-replica traffic (Raft's transport and the RPC
// port) with mutual TLS: Server must require and verify client
// certificates, and Client must present one, so that only holders of a
// certificate from the ensemble's CA can join the conversation.
type PeerTLS struct {
	Server *tls.Config
	Client *tls.Config
}

// tlsStreamLayer carries Raft's transport over TLS.
type tlsStreamLayer struct {
	net.Listener
	advertise net.Addr
	client    *tls.Config
}

func (s *tlsStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := &net.Dialer{Timeout: timeout}
	return tls.DialWithDialer(d, "tcp", string(addr), s.client)
}

func (s *tlsStreamLayer) Addr() net.Addr { return s.advertise }

// listenPeer opens a peer listener, with TLS when t is set.
func listenPeer(t *PeerTLS, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil || t == nil {
		return ln, err
	}
	return tls.NewListener(ln, t.Server), nil
}

// dialPeer opens a connection to a peer's RPC port, with TLS when t is
// set.
func dialPeer(t *PeerTLS, addr string) (net.Conn, error) {
	if t == nil {
		return net.DialTimeout("tcp", addr, dialTimeout)
	}
	return tls.DialWithDialer(&net.Dialer{Timeout: dialTimeout}, "tcp", addr, t.Client)
}

// tcpStreamLayer is Raft's plain TCP transport on a listener of ours.
type tcpStreamLayer struct {
	net.Listener
	advertise net.Addr
}

func (s *tcpStreamLayer) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	return net.DialTimeout("tcp", string(addr), timeout)
}

func (s *tcpStreamLayer) Addr() net.Addr { return s.advertise }
