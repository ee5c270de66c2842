package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"sync"
	"time"

	"github.com/go-zookeeper/zk"
)

// tlsOptions are the client commands' TLS flags, for a server's
// --secure-client-port (ZooKeeper's zookeeper.client.secure with its key
// and trust stores).
type tlsOptions struct {
	cert, key, ca string
}

func (t tlsOptions) set() bool { return t.cert != "" || t.key != "" || t.ca != "" }

// config builds the client's TLS configuration: the server's certificate
// must chain to --tls-ca (the system's roots without it) and name the host
// dialled; --tls-cert and --tls-key, when given, are presented to a server
// that asks for a client certificate.
func (t tlsOptions) config() (*tls.Config, error) {
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.ca != "" {
		b, err := os.ReadFile(t.ca)
		if err != nil {
			return nil, usagef("--tls-ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, usagef("--tls-ca: %s holds no PEM certificate", t.ca)
		}
		c.RootCAs = pool
	}
	if t.cert != "" || t.key != "" {
		if t.cert == "" {
			return nil, usagef("--tls-key needs --tls-cert")
		}
		key := t.key
		if key == "" {
			key = t.cert
		}
		kp, err := tls.LoadX509KeyPair(t.cert, key)
		if err != nil {
			return nil, usagef("--tls-cert: %v", err)
		}
		c.Certificates = []tls.Certificate{kp}
	}
	return c, nil
}

// tlsDialer dials with TLS for go-zookeeper and remembers the last
// handshake error, so that "cannot connect" can say why.
type tlsDialer struct {
	cfg *tls.Config
	mu  sync.Mutex
	err error
	// rejected is closed when the server's certificate fails
	// verification: trying again until the connect timeout would only
	// delay the same answer.
	rejected chan struct{}
	once     sync.Once
}

func (d *tlsDialer) dial(network, addr string, timeout time.Duration) (net.Conn, error) {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, addr, d.cfg)
	if err != nil {
		d.mu.Lock()
		d.err = err
		d.mu.Unlock()
		var ve *tls.CertificateVerificationError
		if errors.As(err, &ve) {
			d.once.Do(func() { close(d.rejected) })
		}
		return nil, err
	}
	return c, nil
}

// rejectedCh is closed once the server's certificate was refused; nil
// (never ready) without TLS.
func (d *tlsDialer) rejectedCh() <-chan struct{} {
	if d == nil {
		return nil
	}
	return d.rejected
}

func (d *tlsDialer) lastErr() error {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// zkDialer returns the dialer go-zookeeper uses: TLS with the TLS flags,
// plain TCP (go-zookeeper's default) without; the tlsDialer is nil then.
func (o *clientOptions) zkDialer() (zk.Dialer, *tlsDialer, error) {
	if !o.tls.set() {
		return net.DialTimeout, nil, nil
	}
	cfg, err := o.tls.config()
	if err != nil {
		return nil, nil, err
	}
	d := &tlsDialer{cfg: cfg, rejected: make(chan struct{})}
	return d.dial, d, nil
}
