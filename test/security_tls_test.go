package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// testCA issues certificates for the TLS tests.
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pem    []byte
	serial int64
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), serial: 1}
}

// issue returns a PEM certificate for 127.0.0.1 and its PEM key; expired
// makes one whose validity ended an hour ago.
func (ca *testCA) issue(t *testing.T, name string, expired bool) (certPEM, keyPEM []byte, serial int64) {
	t.Helper()
	ca.serial++
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	from, until := time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if expired {
		from, until = time.Now().Add(-2*time.Hour), time.Now().Add(-time.Hour)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(ca.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: from, NotAfter: until, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), ca.serial
}

// writeFiles writes name.crt and name.key in dir and returns their paths.
// The key goes first, then the certificate: a reader that sees the new
// certificate may see the new key too (the server retries a pair that does
// not match at the next handshake anyway).
func writeFiles(t *testing.T, dir, name string, certPEM, keyPEM []byte) (string, string) {
	t.Helper()
	c, k := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	for _, f := range []struct {
		path string
		data []byte
	}{{k, keyPEM}, {c, certPEM}} {
		tmp := f.path + ".tmp"
		if err := os.WriteFile(tmp, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, f.path); err != nil {
			t.Fatal(err)
		}
	}
	return c, k
}

// TestSecurityTLSClientPort checks that the zkfs client commands reach a
// secure client port with --tls-cert/--tls-key/--tls-ca, that a wrong CA
// and expired certificates are refused on either side, and that the server
// picks up renewed certificate files without a restart, and on SIGHUP.
func TestSecurityTLSClientPort(t *testing.T) {
	dir := t.TempDir()
	ca, other := newTestCA(t, "zkfs test CA"), newTestCA(t, "another CA")
	caFile, otherCAFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other-ca.pem")
	os.WriteFile(caFile, ca.pem, 0o600)
	os.WriteFile(otherCAFile, other.pem, 0o600)
	certPEM, keyPEM, _ := ca.issue(t, "server", false)
	srvCert, srvKey := writeFiles(t, dir, "server", certPEM, keyPEM)
	certPEM, keyPEM, _ = ca.issue(t, "client", false)
	cliCert, cliKey := writeFiles(t, dir, "client", certPEM, keyPEM)
	certPEM, keyPEM, _ = other.issue(t, "stranger", false)
	strangerCert, strangerKey := writeFiles(t, dir, "stranger", certPEM, keyPEM)
	certPEM, keyPEM, _ = ca.issue(t, "old-client", true)
	oldCert, oldKey := writeFiles(t, dir, "old-client", certPEM, keyPEM)

	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--secure-client-port", fmt.Sprint(port),
		"--client-tls-cert", srvCert, "--client-tls-key", srvKey, "--client-tls-ca", caFile)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	zkfs := func(args ...string) (string, string, error) {
		cmd := exec.Command(zkfsBin, append(args, "-server", addr)...)
		var out, errb strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		return out.String(), errb.String(), err
	}
	good := []string{"--tls-cert", cliCert, "--tls-key", cliKey, "--tls-ca", caFile}
	if _, stderr, err := zkfs(append([]string{"create", "/tls", "over tls"}, good...)...); err != nil {
		t.Fatalf("zkfs create over TLS: %v: %s", err, stderr)
	}
	if out, stderr, err := zkfs(append([]string{"get", "/tls"}, good...)...); err != nil || out != "over tls\n" {
		t.Fatalf("zkfs get over TLS: %q, %v: %s", out, err, stderr)
	}
	// The client certificate authenticates the connection as
	// x509:<subject>, which ACLs can name, as with ZooKeeper's
	// X509AuthenticationProvider.
	if out, stderr, err := zkfs(append([]string{"whoami"}, good...)...); err != nil || !strings.Contains(out, "x509: CN=client\n") {
		t.Errorf("zkfs whoami over TLS: %q, %v: %s", out, err, stderr)
	}
	if _, stderr, err := zkfs(append([]string{"create", "/cert-only", "mine", "x509:CN=client:cdrwa"}, good...)...); err != nil {
		t.Fatalf("create with an x509 ACL: %v: %s", err, stderr)
	}
	if out, stderr, err := zkfs(append([]string{"get", "/cert-only"}, good...)...); err != nil || out != "mine\n" {
		t.Errorf("get of an x509-only node with the certificate: %q, %v: %s", out, err, stderr)
	}
	plain := exec.Command(zkfsBin, "get", "/cert-only", "-server", s.Addr())
	if out, err := plain.CombinedOutput(); err == nil || !strings.Contains(string(out), "Insufficient permission") {
		t.Errorf("get of an x509-only node on the plain port: %v: %s", err, out)
	}
	for _, c := range []struct {
		what string
		args []string
		want string // in the one-line error, "" if only the failure is known
	}{
		{"a server certificate from another CA", []string{"--tls-cert", cliCert, "--tls-key", cliKey, "--tls-ca", otherCAFile}, "certificate signed by unknown authority"},
		{"a client certificate from another CA", []string{"--tls-cert", strangerCert, "--tls-key", strangerKey, "--tls-ca", caFile}, ""},
		{"an expired client certificate", []string{"--tls-cert", oldCert, "--tls-key", oldKey, "--tls-ca", caFile}, ""},
		{"no client certificate", []string{"--tls-ca", caFile}, ""},
	} {
		out, stderr, err := zkfs(append([]string{"get", "/tls"}, c.args...)...)
		if err == nil || out != "" || !strings.HasPrefix(stderr, "zkfs: cannot connect to "+addr) || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: %v, stdout %q, stderr %q", c.what, err, out, stderr)
		}
	}

	// Renewal: an expired certificate installed by mistake is refused by
	// the client, then a renewed one is served, without a restart.
	pid := s.Pid()
	certPEM, keyPEM, _ = ca.issue(t, "server", true)
	writeFiles(t, dir, "server", certPEM, keyPEM)
	if _, stderr, err := zkfs(append([]string{"get", "/tls"}, good...)...); err == nil || !strings.Contains(stderr, "expired") {
		t.Errorf("an expired server certificate: %v, %q", err, stderr)
	}
	certPEM, keyPEM, serial := ca.issue(t, "server", false)
	writeFiles(t, dir, "server", certPEM, keyPEM)
	if out, stderr, err := zkfs(append([]string{"get", "/tls"}, good...)...); err != nil || out != "over tls\n" {
		t.Errorf("after renewal: %q, %v: %s", out, err, stderr)
	}
	if got := servedSerial(t, addr, caFile, cliCert, cliKey); got != serial {
		t.Errorf("the server presents serial %d, want the renewed %d", got, serial)
	}
	// A renewal that does not load (a key that does not match) is
	// logged, and the certificate in service stays.
	certPEM, _, _ = ca.issue(t, "server", false)
	_, strayKey, _ := ca.issue(t, "server", false)
	writeFiles(t, dir, "server", certPEM, strayKey)
	if out, stderr, err := zkfs(append([]string{"get", "/tls"}, good...)...); err != nil || out != "over tls\n" {
		t.Errorf("after a broken renewal: %q, %v: %s", out, err, stderr)
	}
	if got := servedSerial(t, addr, caFile, cliCert, cliKey); got != serial {
		t.Errorf("after a broken renewal the server presents serial %d, want %d", got, serial)
	}
	if !strings.Contains(s.LogTail(1<<20), "TLS certificates not reloaded; keeping the previous ones") {
		t.Error("a broken renewal was not logged")
	}
	certPEM, keyPEM, _ = ca.issue(t, "server", false)
	writeFiles(t, dir, "server", certPEM, keyPEM)
	// SIGHUP reloads too, and no longer stops the server.
	before := strings.Count(s.LogTail(1<<20), "TLS certificates reloaded")
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(s.LogTail(1<<20), "TLS certificates reloaded") <= before {
		if time.Now().After(deadline) || !s.Running() {
			t.Fatalf("no reload logged after SIGHUP (running: %v)", s.Running())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s.Pid() != pid || !s.Running() {
		t.Errorf("the server restarted or stopped: pid %d, was %d", s.Pid(), pid)
	}
	if out, _, err := zkfs(append([]string{"get", "/tls"}, good...)...); err != nil || out != "over tls\n" {
		t.Errorf("after SIGHUP: %q, %v", out, err)
	}
}

// servedSerial returns the serial number of the certificate the server
// presents.
func servedSerial(t *testing.T, addr, caFile, cert, key string) int64 {
	t.Helper()
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(caFile)
	pool.AppendCertsFromPEM(b)
	pair, err := tls.LoadX509KeyPair(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", addr, &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestSecurityPeerTLSRotation runs an ensemble over mutual peer TLS, moves
// every member's files to a new CA, and restarts one member only: the two
// that keep running must accept it and reach it with the new certificates,
// which they read from their files without a restart.
func TestSecurityPeerTLSRotation(t *testing.T) {
	dir := t.TempDir()
	write := func(ca *testCA) {
		certPEM, keyPEM, _ := ca.issue(t, "peer", false)
		writeFiles(t, dir, "peer", certPEM, keyPEM)
		if err := os.WriteFile(filepath.Join(dir, "ca.pem.tmp"), ca.pem, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "ca.pem.tmp"), filepath.Join(dir, "ca.pem")); err != nil {
			t.Fatal(err)
		}
	}
	write(newTestCA(t, "peers 1"))
	e := newTestEnsemble(t, 3, 0, "--peer-tls-cert", filepath.Join(dir, "peer.crt"), "--peer-tls-key", filepath.Join(dir, "peer.key"), "--peer-tls-ca", filepath.Join(dir, "ca.pem"))
	c1 := connect(t, e.members[0].Addr(), 10*time.Second)
	if _, err := c1.Create("/before", []byte("1"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "server 3 sees /before", fileIs(filepath.Join(e.members[2].Mnt, "before"), "1"))

	write(newTestCA(t, "peers 2"))
	m := e.members[2]
	if m == e.leader() {
		m = e.members[1]
	}
	e.stop(m)
	e.startAll(m)
	c := connect(t, m.Addr(), 10*time.Second)
	if _, err := c.Create("/after", []byte("2"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("a write through the restarted member: %v", err)
	}
	for _, o := range e.members {
		eventually(t, 10*time.Second, fmt.Sprintf("server %d sees /after", o.ID), fileIs(filepath.Join(o.Mnt, "after"), "2"))
	}
}
