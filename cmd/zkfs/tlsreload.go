package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
)

// reloadingTLS serves a listener's TLS configuration from files that may be
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

// newReloadingTLS loads the files once; an error here stops the server.
func newReloadingTLS(log *slog.Logger, f tlsFiles) (*reloadingTLS, error) {
	r := &reloadingTLS{files: f, log: log}
	cfg, err := serverTLS(f)
	if err != nil {
		return nil, err
	}
	r.cur, r.stamp = cfg, r.fileStamp()
	return r, nil
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
