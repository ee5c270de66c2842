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
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func TestMetricsEndpoint(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	mnt := filepath.Join(t.TempDir(), "mnt")
	srv := startServer(t, "--metrics-port", fmt.Sprint(port), "--metrics-address", "127.0.0.1", "--mount", mnt)
	eventually(t, 10*time.Second, "mount", func() error {
		if !isMounted(mnt) {
			return fmt.Errorf("not mounted")
		}
		return nil
	})
	if _, err := os.ReadFile(filepath.Join(mnt, "nothing-here")); !os.IsNotExist(err) {
		t.Fatalf("read of a missing file: %v", err)
	}
	if err := os.MkdirAll(filepath.Join(mnt, "d", "e"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Rmdir(filepath.Join(mnt, "d")); err != syscall.ENOTEMPTY {
		t.Fatalf("rmdir of a directory with children: %v", err)
	}
	c := connect(t, srv.Addr(), 5*time.Second)
	if _, err := c.Create("/metered", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/missing"); err != zk.ErrNoNode {
		t.Fatalf("get /missing: %v", err)
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	text := string(body)
	for _, want := range []string{
		`zkfs_raft_role{role="standalone"} 1`,
		`zkfs_raft_applied_index `,
		`zkfs_raft_term `,
		`zkfs_znodes 7`,
		`zkfs_sessions 2`, // the client's and the mount's
		`zkfs_client_request_seconds_count{op="create"} 1`,
		`zkfs_client_request_errors_total{code="-101",op="getData"} 1`,
		`zkfs_client_connections 1`,
		`zkfs_watches 0`,
		`zkfs_fuse_op_seconds_count{op="lookup"}`,
		`zkfs_fuse_op_errors_total{errno="39=directory not empty",op="rmdir"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", text)
	}
}

// writePKI writes a CA and a certificate for 127.0.0.1 signed by it, each
// certificate file holding its key too, as ZooKeeper's PEM key stores do.
func writePKI(t *testing.T, dir string) (ca, server, client string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	ca = filepath.Join(dir, "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	leaf := func(name string, serial int64) string {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage:    x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
			IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		path := filepath.Join(dir, name+".pem")
		data := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})...)
		os.WriteFile(path, data, 0o600)
		return path
	}
	return ca, leaf("server", 2), leaf("client", 3)
}

func TestSecureClientPort(t *testing.T) {
	dir := t.TempDir()
	ca, serverPEM, clientPEM := writePKI(t, dir)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	startServer(t, "--secure-client-port", fmt.Sprint(port),
		"--client-tls-cert", serverPEM, "--client-tls-ca", ca)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	pool := x509.NewCertPool()
	caPEM, _ := os.ReadFile(ca)
	pool.AppendCertsFromPEM(caPEM)
	pair, err := tls.LoadX509KeyPair(clientPEM, clientPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}
	dialer := func(network, address string, timeout time.Duration) (net.Conn, error) {
		return tls.DialWithDialer(&net.Dialer{Timeout: timeout}, network, address, cfg)
	}
	c, ev, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithDialer(dialer), zk.WithLogger(quietLogger{}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go func() {
		for range ev {
		}
	}()
	if _, err := c.Create("/over-tls", []byte("sealed"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create over TLS: %v", err)
	}
	if data, _, err := c.Get("/over-tls"); err != nil || string(data) != "sealed" {
		t.Fatalf("get over TLS: %q %v", data, err)
	}

	// Without a client certificate from the CA the handshake fails, and
	// a plain client gets nothing.
	bare := &tls.Config{RootCAs: pool}
	if conn, err := tls.Dial("tcp", addr, bare); err == nil {
		conn.SetDeadline(time.Now().Add(2 * time.Second))
		_, err = conn.Write([]byte("ruok"))
		if err == nil {
			buf := make([]byte, 4)
			_, err = conn.Read(buf)
		}
		conn.Close()
		if err == nil {
			t.Error("the secure port served a client without a certificate")
		}
	}
	if out, err := FourLetter(addr, "ruok", 2*time.Second); err == nil && out == "imok" {
		t.Error("the secure port answered a plain-text client")
	}
}
