package main

import (
	"crypto/tls"
	"net"
	"net/http"

	"crypto/x509"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	collectors2 "github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"zkfs/replication"
)

// ensembleOptions are the flags that make a replica part of an ensemble
// and secure its traffic; a zoo.cfg can stand in for them.
type ensembleOptions struct {
	config string
	id     string
	peers  []string
	join   bool
	// servers come from a zoo.cfg; --peers overrides them.
	servers []replication.Peer

	peerTLS   tlsFiles
	clientTLS tlsFiles

	trailingLogs uint64
	dataLogDir   string
	snapRetain   int

	securePort  int
	metricsPort int
	metricsAddr string

	// From zoo.cfg only: the file that takes the membership after a
	// reconfig, and reconfigEnabled=false.
	dynamicFile      string
	reconfigDisabled bool
}

// tlsFiles names PEM files. When key is empty the key is read from cert,
// as in ZooKeeper's PEM key stores that hold both.
type tlsFiles struct {
	cert, key, ca string
}

func (f tlsFiles) set() bool { return f.cert != "" }

func ensembleFlags(fs *pflag.FlagSet, o *ensembleOptions) {
	fs.StringVar(&o.config, "config", "", "ZooKeeper zoo.cfg to read; flags given explicitly override its values")
	fs.StringVar(&o.id, "id", "", "this server's id in the ensemble (ZooKeeper's myid)")
	fs.StringSliceVar(&o.peers, "peers", nil, "ensemble members as N=host:peerPort:electionPort[:observer][;[clientHost:]clientPort], comma-separated (zoo.cfg's server.N lines)")
	fs.BoolVar(&o.join, "join", false, "this server is being added to a running ensemble: do not bootstrap, wait for a reconfig that adds it")
	fs.StringVar(&o.peerTLS.cert, "peer-tls-cert", "", "PEM certificate for replica-to-replica TLS (ssl.quorum.keyStore.location)")
	fs.StringVar(&o.peerTLS.key, "peer-tls-key", "", "PEM private key for --peer-tls-cert; empty if the cert file holds it")
	fs.StringVar(&o.peerTLS.ca, "peer-tls-ca", "", "PEM CA certificates that peers' certificates must chain to (ssl.quorum.trustStore.location)")
	fs.StringVar(&o.clientTLS.cert, "client-tls-cert", "", "PEM certificate for the secure client port (ssl.keyStore.location)")
	fs.StringVar(&o.clientTLS.key, "client-tls-key", "", "PEM private key for --client-tls-cert; empty if the cert file holds it")
	fs.StringVar(&o.clientTLS.ca, "client-tls-ca", "", "PEM CA certificates for client certificates; when set, clients must present one (ssl.trustStore.location)")
	fs.StringVar(&o.dataLogDir, "data-log-dir", "", "directory for the Raft log, e.g. on its own disk; empty keeps it in --data-dir (dataLogDir)")
	fs.Uint64Var(&o.trailingLogs, "trailing-logs", 10_240, "log entries kept behind a snapshot, so that a replica that lags by less catches up without a snapshot")
	fs.IntVar(&o.securePort, "secure-client-port", 0, "port serving ZooKeeper clients over TLS; 0 means none (secureClientPort)")
	fs.IntVar(&o.metricsPort, "metrics-port", 0, "HTTP port for Prometheus /metrics; 0 means none (metricsProvider.httpPort)")
	fs.StringVar(&o.metricsAddr, "metrics-address", "", "address for the metrics port; empty means every interface (metricsProvider.httpHost)")
}

// applyZooConfig takes the values of a zoo.cfg for every flag that was not
// given on the command line.
func applyZooConfig(log *slog.Logger, fs *pflag.FlagSet, o *serverOptions, c *zooConfig) {
	unset := func(name string) bool { return !fs.Changed(name) }
	if c.DataDir != "" && unset("data-dir") {
		o.dataDir = c.DataDir
	}
	if c.TickTime > 0 && unset("tick-time") {
		o.tickTime = int(c.TickTime.Milliseconds())
	}
	if c.ClientPort > 0 && unset("client-port") {
		o.clientPort = c.ClientPort
	}
	if c.ClientPortAddress != "" && unset("client-address") {
		o.clientAddress = c.ClientPortAddress
	}
	if c.HasMaxClientCnxns && unset("max-client-cnxns") {
		o.maxClientCnxns = c.MaxClientCnxns
	}
	if c.MinSessionTimeout > 0 && unset("min-session-timeout") {
		o.minSessionTimeout = int(c.MinSessionTimeout.Milliseconds())
	}
	if c.MaxSessionTimeout > 0 && unset("max-session-timeout") {
		o.maxSessionTimeout = int(c.MaxSessionTimeout.Milliseconds())
	}
	if c.FourLetterWords != "" && unset("4lw-whitelist") {
		o.fourLetterWords = nil
		for _, w := range strings.Split(c.FourLetterWords, ",") {
			if w = strings.TrimSpace(w); w != "" {
				o.fourLetterWords = append(o.fourLetterWords, w)
			}
		}
	}
	if c.SnapCount > 0 && unset("snap-count") {
		o.snapCount = c.SnapCount
	}
	if c.MyID != "" && unset("id") {
		o.ensemble.id = c.MyID
	}
	if len(c.Servers) > 0 && unset("peers") {
		o.ensemble.servers = c.Servers
	}
	if c.SecureClientPort > 0 && unset("secure-client-port") {
		o.ensemble.securePort = c.SecureClientPort
	}
	if c.MetricsPort > 0 && unset("metrics-port") {
		o.ensemble.metricsPort = c.MetricsPort
	}
	if c.MetricsHost != "" && unset("metrics-address") {
		o.ensemble.metricsAddr = c.MetricsHost
	}
	o.ensemble.dynamicFile = c.DynamicConfigFile
	o.ensemble.reconfigDisabled = c.ReconfigDisabled
	if c.AdminPort > 0 && unset("admin-port") {
		o.admin.port = c.AdminPort
	}
	if c.AdminAddress != "" && unset("admin-address") {
		o.admin.address = c.AdminAddress
	}
	tlsFromConfig := func(dst *tlsFiles, certKey, caKey string, flag string) {
		if unset(flag) && c.Extra[certKey] != "" {
			dst.cert = c.Extra[certKey]
			dst.ca = c.Extra[caKey]
		}
	}
	tlsFromConfig(&o.ensemble.clientTLS, "ssl.keyStore.location", "ssl.trustStore.location", "client-tls-cert")
	if c.Extra["sslQuorum"] == "true" {
		tlsFromConfig(&o.ensemble.peerTLS, "ssl.quorum.keyStore.location", "ssl.quorum.trustStore.location", "peer-tls-cert")
	}
	for _, k := range c.Ignored {
		log.Info("zoo.cfg: ignoring a key zkfs does not use", "key", k)
	}
	if c.SnapRetainCount > 0 {
		o.ensemble.snapRetain = c.SnapRetainCount
	}
	if c.PurgeInterval > 0 {
		log.Info("zoo.cfg: autopurge.purgeInterval is implied: old snapshots and compacted log entries are removed as each snapshot is taken")
	}
	if c.DataLogDir != "" && unset("data-log-dir") {
		o.ensemble.dataLogDir = c.DataLogDir
	}
}

// parsePeerFlags turns --peers values into peers.
func parsePeerFlags(values []string) ([]replication.Peer, error) {
	var peers []replication.Peer
	for _, v := range values {
		id, rest, ok := strings.Cut(v, "=")
		if !ok {
			return nil, fmt.Errorf("--peers: %q is not N=host:peerPort:electionPort", v)
		}
		p, err := replication.ParseServer("server."+strings.TrimPrefix(id, "server."), rest)
		if err != nil {
			return nil, fmt.Errorf("--peers: %v", err)
		}
		peers = append(peers, p)
	}
	return peers, nil
}

// serverTLS loads a TLS configuration for a listener. With a CA, clients
// must present a certificate that chains to it.
func serverTLS(f tlsFiles) (*tls.Config, error) {
	cert, err := loadKeyPair(f)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.ca != "" {
		pool, err := loadPool(f.ca)
		if err != nil {
			return nil, err
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return c, nil
}

// peerTLS loads mutual TLS for replica-to-replica traffic: a CA is
// required, since replicas must authenticate each other. Both sides follow
// the files as the secure client port does (reloadingTLS).
func peerTLS(log *slog.Logger, f tlsFiles) (*replication.PeerTLS, error) {
	if f.ca == "" {
		return nil, fmt.Errorf("--peer-tls-ca is required with --peer-tls-cert: replicas authenticate each other")
	}
	r, err := newReloadingTLS(log.With("tls", "peer"), f)
	if err != nil {
		return nil, err
	}
	return &replication.PeerTLS{Server: r.Config(), Client: r.ClientConfig()}, nil
}

func loadKeyPair(f tlsFiles) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(f.cert)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM := certPEM
	if f.key != "" {
		if keyPEM, err = os.ReadFile(f.key); err != nil {
			return tls.Certificate{}, err
		}
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", f.cert, err)
	}
	return c, nil
}

func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificates", path)
	}
	return pool, nil
}

// replicationConfig assembles the replica's configuration from the flags.
func replicationConfig(log *slog.Logger, o serverOptions) (replication.Config, error) {
	cfg := replication.Config{
		DataDir:           o.dataDir,
		LogDir:            o.ensemble.dataLogDir,
		SnapshotRetain:    o.ensemble.snapRetain,
		TickTime:          time.Duration(o.tickTime) * time.Millisecond,
		WriteTimeout:      o.mount.writeTimeout,
		SnapshotThreshold: o.snapCount,
		TrailingLogs:      o.ensemble.trailingLogs,
		Join:              o.ensemble.join,
		Logger:            log,
	}
	peers := o.ensemble.servers
	if len(o.ensemble.peers) > 0 {
		var err error
		if peers, err = parsePeerFlags(o.ensemble.peers); err != nil {
			return cfg, err
		}
	}
	if len(peers) > 0 {
		if o.ensemble.id == "" {
			return cfg, fmt.Errorf("an ensemble member needs its id: --id, or a myid file in the data directory")
		}
		if n, err := strconv.Atoi(o.ensemble.id); err != nil || n <= 0 || n > 255 {
			return cfg, fmt.Errorf("--id must be a number from 1 to 255, not %q", o.ensemble.id)
		}
		cfg.ID = strings.TrimLeft(o.ensemble.id, "0")
		cfg.Peers = peers
	}
	if o.ensemble.peerTLS.set() {
		t, err := peerTLS(log, o.ensemble.peerTLS)
		if err != nil {
			return cfg, err
		}
		cfg.TLS = t
	}
	return cfg, nil
}

// serveMetrics serves Prometheus's /metrics, and the admin endpoints,
// until the server stops.
func serveMetrics(log *slog.Logger, addr string, a *admin, collectors ...prometheus.Collector) (*http.Server, error) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors...)
	reg.MustRegister(collectors2.NewGoCollector(), collectors2.NewProcessCollector(collectors2.ProcessCollectorOpts{}))
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	a.routes(mux)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics port: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
			log.Error("metrics port failed", "err", err)
		}
	}()
	log.Info("serving metrics", "address", ln.Addr().String())
	return srv, nil
}
