package replication

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"testing"
	"time"

	"zkfs/tree"
)

// testPKI makes a CA and certificates for 127.0.0.1 signed by it.
type testPKI struct {
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caPool *x509.CertPool
}

func newTestPKI(t *testing.T) *testPKI {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "zkfs test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &testPKI{ca: ca, caKey: key, caPool: pool}
}

func (p *testPKI) cert(t *testing.T, name string, serial int64) tls.Certificate {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func (p *testPKI) peerTLS(t *testing.T, serial int64) *PeerTLS {
	c := p.cert(t, "replica", serial)
	return &PeerTLS{
		Server: &tls.Config{Certificates: []tls.Certificate{c}, ClientCAs: p.caPool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12},
		Client: &tls.Config{Certificates: []tls.Certificate{c}, RootCAs: p.caPool, MinVersion: tls.VersionTLS12},
	}
}

func TestEnsembleOverMutualTLS(t *testing.T) {
	pki := newTestPKI(t)
	e := newEnsembleWith(t, 3, 0, func(i int, c *Config) { c.TLS = pki.peerTLS(t, int64(10+i)) })
	f := e.reps[e.follower()]
	if res := propose(t, f, tree.Create{Path: "/tls", Data: []byte("ok"), ACL: tree.OpenACL}); res.Err != nil {
		t.Fatal(res.Err)
	}
	for _, r := range e.reps {
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
		if got, _, err := getData(r, "/tls"); err != nil || got != "ok" {
			t.Fatalf("got %q %v", got, err)
		}
	}

	// A client without a certificate from the CA is refused on both
	// peer ports.
	stranger := newTestPKI(t)
	bad := stranger.peerTLS(t, 99).Client
	bad.RootCAs = pki.caPool // it trusts us; we must not trust it
	for _, addr := range []string{e.peers[0].RPCAddr, e.peers[0].RaftAddr} {
		conn, err := tls.Dial("tcp", addr, bad)
		if err == nil {
			// TLS 1.3 reports the client-certificate rejection on
			// the first read.
			err = probeStream(conn)
			conn.Close()
		}
		if err == nil {
			t.Errorf("%s accepted a peer whose certificate it cannot verify", addr)
		}
	}
	// A plain TCP client is refused as well.
	conn, err := net.Dial("tcp", e.peers[0].RPCAddr)
	if err == nil {
		err = probeStream(conn)
		conn.Close()
	}
	if err == nil {
		t.Error("the peer port answered a plain TCP client")
	}
}
