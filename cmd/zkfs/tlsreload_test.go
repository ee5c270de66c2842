package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pki is a throw-away CA that writes node certificates for 127.0.0.1.
type pki struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newPKI(t *testing.T) *pki {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &pki{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// write writes a node certificate with its key into cert, and the CA into
// ca, renaming each into place.
func (p *pki) write(t *testing.T, f tlsFiles, serial int64) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "node"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.cert, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	pair := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
	for path, data := range map[string][]byte{f.cert: pair, f.ca: p.pem} {
		if err := os.WriteFile(path+".tmp", data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPeerTLSReload: the peer ports' TLS follows its files on both sides
// of a connection. After a rotation to a new CA, the same configurations
// connect with the new certificates, and a peer still holding the old
// certificate is refused; a certificate from another CA is refused all
// along.
func TestPeerTLSReload(t *testing.T) {
	dir := t.TempDir()
	f := tlsFiles{cert: filepath.Join(dir, "node.pem"), ca: filepath.Join(dir, "ca.pem")}
	old := newPKI(t)
	old.write(t, f, 2)
	pt, err := peerTLS(slog.New(slog.NewTextHandler(io.Discard, nil)), f)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", pt.Server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				b := make([]byte, 1)
				if _, err := c.Read(b); err == nil {
					c.Write(b)
				}
			}()
		}
	}()
	// roundTrip reports whether a byte goes there and back: TLS 1.3
	// reports a refused client certificate only on the first read.
	roundTrip := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte{7}); err != nil {
			return err
		}
		_, err = io.ReadFull(c, make([]byte, 1))
		return err
	}
	// staticClient is a peer that loaded the files once.
	staticClient := func(f tlsFiles) *tls.Config {
		kp, err := tls.LoadX509KeyPair(f.cert, f.cert)
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		b, _ := os.ReadFile(f.ca)
		pool.AppendCertsFromPEM(b)
		return &tls.Config{Certificates: []tls.Certificate{kp}, RootCAs: pool}
	}
	if err := roundTrip(pt.Client); err != nil {
		t.Fatalf("peer to peer: %v", err)
	}
	stranger := tlsFiles{cert: filepath.Join(dir, "stranger.pem"), ca: filepath.Join(dir, "stranger-ca.pem")}
	newPKI(t).write(t, stranger, 3)
	strangerCfg := staticClient(stranger)
	strangerCfg.RootCAs = staticClient(f).RootCAs // it trusts us; we must not trust it
	if err := roundTrip(strangerCfg); err == nil {
		t.Error("a certificate from another CA was accepted")
	}
	// Our client side verifies the server: a listener with a stranger's
	// certificate is refused.
	skp := strangerCfg.Certificates
	sl, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: skp})
	if err != nil {
		t.Fatal(err)
	}
	defer sl.Close()
	go func() {
		if c, err := sl.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", sl.Addr().String(), pt.Client); err == nil {
		c.Close()
		t.Error("a server with a certificate from another CA was accepted")
	}
	oldPeer := staticClient(f)

	next := newPKI(t)
	next.write(t, f, 4)
	if err := roundTrip(pt.Client); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if err := roundTrip(oldPeer); err == nil {
		t.Error("a peer with the certificate of the old CA was accepted after the rotation")
	}
}
