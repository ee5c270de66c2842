package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// reloadingTLS serves a TLS configuration from files that may be
// replaced while the server runs, as ZooKeeper's X509Util reloads its key
// and trust stores: every handshake first checks whether a file changed
// (size or modification time, one stat each) and loads the new files if
// so; SIGHUP forces a load. A set of files that fails to load (a renewal
// half-written, a key that does not match) is logged and the previous
// configuration kept, so that a bad renewal never stops the service.
type reloadingTLS struct {
	files tlsFiles
	log   *slog.Logger

	mu     sync.Mutex
	cur    *tls.Config
	stamp  string // the files' identity when cur was loaded
	failed string // the files' identity of the last failed load
}

// reloaders are every reloadingTLS of the process, for SIGHUP: the
// client port's and the peer ports'.
var reloaders struct {
	mu   sync.Mutex
	list []*reloadingTLS
}

// newReloadingTLS loads the files once; an error here stops the server.
func newReloadingTLS(log *slog.Logger, f tlsFiles) (*reloadingTLS, error) {
	r := &reloadingTLS{files: f, log: log}
	cfg, err := serverTLS(f)
	if err != nil {
		return nil, err
	}
	r.cur, r.stamp = cfg, r.fileStamp()
	reloaders.mu.Lock()
	reloaders.list = append(reloaders.list, r)
	reloaders.mu.Unlock()
	return r, nil
}

// reloadAll reloads every reloadingTLS (SIGHUP).
func reloadAll() {
	reloaders.mu.Lock()
	list := append([]*reloadingTLS(nil), reloaders.list...)
	reloaders.mu.Unlock()
	for _, r := range list {
		r.Reload()
	}
}

// Config is the configuration to give tls.NewListener.
func (r *reloadingTLS) Config() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.current(false), nil
		},
	}
}

// ClientConfig is the configuration for dialling a peer: it presents the
// current certificate and verifies the peer's against the current CA (the
// files' CA, as for the peers that dial in), with the host name dialled.
// Go's own verification is replaced, not skipped: VerifyConnection does
// what it would, with roots that follow the files.
func (r *reloadingTLS) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // see VerifyConnection
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &r.current(false).Certificates[0], nil
		},
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the peer presented no certificate")
			}
			opts := x509.VerifyOptions{Roots: r.current(false).ClientCAs, DNSName: cs.ServerName, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		},
	}
}

// Reload loads the files now, changed or not (SIGHUP).
func (r *reloadingTLS) Reload() { r.current(true) }

func (r *reloadingTLS) current(force bool) *tls.Config {
	stamp := r.fileStamp()
	r.mu.Lock()
	defer r.mu.Unlock()
	if !force && (stamp == r.stamp || stamp == r.failed) {
		return r.cur
	}
	cfg, err := serverTLS(r.files)
	if err != nil {
		if stamp != r.failed || force {
			r.log.Warn("TLS certificates not reloaded; keeping the previous ones", "cert", r.files.cert, "err", err)
		}
		r.failed = stamp
		return r.cur
	}
	r.cur, r.stamp, r.failed = cfg, stamp, ""
	r.log.Info("TLS certificates reloaded", "cert", r.files.cert)
	return r.cur
}

// fileStamp identifies the current content of the files by size and
// modification time.
func (r *reloadingTLS) fileStamp() string {
	var s string
	for _, p := range []string{r.files.cert, r.files.key, r.files.ca} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			s += p + ":missing;"
			continue
		}
		s += fmt.Sprintf("%s:%d:%d;", p, fi.Size(), fi.ModTime().UnixNano())
	}
	return s
}
