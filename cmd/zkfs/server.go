package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"

	"zkfs/fusefs"
	"zkfs/replication"
	"zkfs/storage"
	"zkfs/tree"
	"zkfs/wire"
	"zkfs/zkserver"
)

// serverOptions are the flags of `zkfs server`.
type serverOptions struct {
	dataDir     string
	maxDataSize int
	// reapInterval is how often the leader reaps containers and TTL nodes.
	reapInterval time.Duration
	snapCount    uint64
	logLevel     string
	logFormat    string

	// The client port, with ZooKeeper's zoo.cfg names in the help.
	clientAddress     string
	clientPort        int
	tickTime          int
	minSessionTimeout int
	maxSessionTimeout int
	maxPacket         int
	maxClientCnxns    int
	fourLetterWords   []string
	superDigest       string
	superDigestFile   string

	mount mountOptions
	admin adminOptions

	ensemble ensembleOptions
}

// mountOptions are the flags of the FUSE mount.
type mountOptions struct {
	dir          string
	uid, gid     int
	allowOther   bool
	writeTimeout time.Duration
	auth         string
	authFile     string
}

func serverFlags(o *serverOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zkfs server", pflag.ContinueOnError)
	fs.StringVar(&o.dataDir, "data-dir", "data", "directory for the replica's store and snapshots")
	fs.IntVar(&o.maxDataSize, "max-data-size", tree.DefaultMaxDataSize, "largest data a znode may hold, in bytes")
	fs.DurationVar(&o.reapInterval, "container-check-interval", time.Minute, "how often the leader deletes empty containers and expired TTL nodes (ZooKeeper's znode.container.checkIntervalMs)")
	fs.Uint64Var(&o.snapCount, "snap-count", 100_000, "log entries between snapshots (ZooKeeper's snapCount)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	fs.StringVar(&o.logFormat, "log-format", "text", "log format on standard error: text (key=value) or json (one object a line)")
	fs.StringVar(&o.clientAddress, "client-address", "", "address to serve ZooKeeper clients on; empty means every interface (clientPortAddress)")
	fs.IntVar(&o.clientPort, "client-port", 2181, "port to serve ZooKeeper clients on; 0 picks a free one (clientPort)")
	fs.IntVar(&o.tickTime, "tick-time", 2000, "ZooKeeper's basic time unit, in milliseconds (tickTime)")
	fs.IntVar(&o.minSessionTimeout, "min-session-timeout", 0, "shortest session timeout granted, in milliseconds; 0 means 2 ticks (minSessionTimeout)")
	fs.IntVar(&o.maxSessionTimeout, "max-session-timeout", 0, "longest session timeout granted, in milliseconds; 0 means 20 ticks (maxSessionTimeout)")
	fs.IntVar(&o.maxPacket, "max-packet", wire.DefaultMaxPacket, "largest request accepted, in bytes (jute.maxbuffer)")
	fs.IntVar(&o.maxClientCnxns, "max-client-cnxns", zkserver.DefaultMaxClientCnxns, "connections allowed from one IP address; 0 means no limit (maxClientCnxns)")
	fs.StringSliceVar(&o.fourLetterWords, "4lw-whitelist", []string{"srvr"}, "four-letter words answered on the client port, comma-separated; * for all (4lw.commands.whitelist)")
	fs.StringVar(&o.superDigest, "super-digest", "", "user:base64(sha1(user:password)) of a user who bypasses every ACL (zookeeper.DigestAuthenticationProvider.superDigest)")
	fs.StringVar(&o.mount.dir, "mount", "", "directory to mount the namespace on; empty means no mount")
	fs.IntVar(&o.mount.uid, "uid", -1, "owner of the mount's files; -1 means the user running the server")
	fs.IntVar(&o.mount.gid, "gid", -1, "group of the mount's files; -1 means the group running the server")
	fs.BoolVar(&o.mount.allowOther, "allow-other", false, "let users other than the one running the server use the mount")
	fs.DurationVar(&o.mount.writeTimeout, "write-timeout", 10*time.Second, "how long a write may wait for a quorum before failing (EIO on the mount)")
	fs.StringVar(&o.mount.auth, "mount-auth", "", "scheme:credentials the mount's session authenticates with, e.g. digest:user:password (visible in ps: prefer --mount-auth-file)")
	fs.StringVar(&o.mount.authFile, "mount-auth-file", "", "file holding --mount-auth's scheme:credentials (mode 0600)")
	fs.StringVar(&o.superDigestFile, "super-digest-file", "", "file holding --super-digest's user:hash (mode 0600)")
	ensembleFlags(fs, &o.ensemble)
	adminFlags(fs, &o.admin)
	pprofFlag(fs)
	return fs
}

func runServer(args []string) int {
	var o serverOptions
	fs := serverFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zkfs server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "zkfs server: --log-level: %v\n", err)
		return 2
	}
	var handler slog.Handler
	switch o.logFormat {
	case "text":
		handler = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	case "json":
		handler = slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level})
	default:
		fmt.Fprintf(os.Stderr, "zkfs server: --log-format must be text or json, not %q\n", o.logFormat)
		return 2
	}
	log := slog.New(handler)
	if o.ensemble.config != "" {
		c, err := readZooConfig(o.ensemble.config)
		if err != nil {
			fmt.Fprintf(os.Stderr, "zkfs server: %v\n", err)
			return 2
		}
		applyZooConfig(log, fs, &o, c)
	}
	if err := resolveServerSecrets(func(w string) { log.Warn(w) }, fs.Changed, &o); err != nil {
		fmt.Fprintf(os.Stderr, "zkfs server: %v\n", err)
		return 2
	}
	if err := serve(log, o); err != nil {
		log.Error("server stopped", "err", err)
		fmt.Fprintf(os.Stderr, "zkfs server: %v\n", err)
		return 1
	}
	return 0
}

func serve(log *slog.Logger, o serverOptions) error {
	if o.maxDataSize <= 0 {
		return fmt.Errorf("--max-data-size must be positive, not %d", o.maxDataSize)
	}
	if o.tickTime <= 0 {
		return fmt.Errorf("--tick-time must be positive, not %d", o.tickTime)
	}
	if o.maxPacket <= 0 {
		return fmt.Errorf("--max-packet must be positive, not %d", o.maxPacket)
	}
	if o.clientPort < 0 || o.clientPort > 65535 {
		return fmt.Errorf("--client-port must be between 0 and 65535, not %d", o.clientPort)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	reloadOnHangup(ctx)
	start := time.Now()
	rcfg, err := replicationConfig(log, o)
	if err != nil {
		return err
	}
	rcfg.Tree = tree.Config{MaxDataSize: o.maxDataSize}
	if o.reapInterval <= 0 {
		return fmt.Errorf("--container-check-interval must be positive, not %v", o.reapInterval)
	}
	rcfg.ReapInterval = o.reapInterval
	// A predecessor killed while wedged on its own mount still holds the
	// data directory's lock; aborting its FUSE connection lets it exit.
	var aborted bool
	if o.mount.dir != "" {
		if aborted, err = fusefs.ReleaseWedged(o.mount.dir, log); err != nil {
			return err
		}
	}
	rep, err := replication.Open(rcfg)
	for deadline := time.Now().Add(10 * time.Second); aborted && errors.Is(err, storage.ErrInUse) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		rep, err = replication.Open(rcfg)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := rep.Close(); err != nil {
			log.Error("closing the replica", "err", err)
		}
		log.Info("stopped")
	}()
	// A standalone replica elects itself at once. An ensemble member
	// waits for its peers however long they take to start, as a ZooKeeper
	// server does, until it is stopped; if they do not come within the
	// read-only grace, it serves read-only clients meanwhile, as
	// ZooKeeper's read-only server does.
	readyCtx, cancel := ctx, context.CancelFunc(func() {})
	if len(rcfg.Peers) == 0 {
		readyCtx, cancel = context.WithTimeout(ctx, time.Minute)
	} else {
		log.Info("waiting for the ensemble", "id", rcfg.ID, "peers", len(rcfg.Peers), "join", rcfg.Join)
	}
	readOnly, err := rep.WaitServing(readyCtx)
	cancel()
	if err != nil {
		return stoppedWaiting(ctx, log, err)
	}
	if readOnly {
		log.Warn("no quorum yet: serving read-only clients until one forms")
	}
	srv, err := zkserver.NewServer(zkserver.ServerConfig{
		Replica:           rep,
		TickTime:          time.Duration(o.tickTime) * time.Millisecond,
		MinSessionTimeout: time.Duration(o.minSessionTimeout) * time.Millisecond,
		MaxSessionTimeout: time.Duration(o.maxSessionTimeout) * time.Millisecond,
		MaxPacket:         o.maxPacket,
		MaxClientCnxns:    o.maxClientCnxns,
		FourLetterWords:   o.fourLetterWords,
		SuperDigest:       o.superDigest,
		ReconfigDisabled:  o.ensemble.reconfigDisabled,
		DataDir:           o.dataDir,
		DataLogDir:        o.ensemble.dataLogDir,
		ServerID:          serverID(rcfg),
		Version:           versionString(),
		Logger:            log,
	})
	if err != nil {
		return err
	}
	// The listener opens only now, once the replica serves: a client that
	// connects can be answered at once.
	addr := net.JoinHostPort(o.clientAddress, strconv.Itoa(o.clientPort))
	l, err := net.Listen("tcp", addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("client port: %w", err)
	}
	serveErr := make(chan error, 2)
	go func() { serveErr <- srv.Serve(l) }()
	if o.ensemble.securePort > 0 {
		if !o.ensemble.clientTLS.set() {
			srv.Close()
			return fmt.Errorf("--secure-client-port needs --client-tls-cert (ssl.keyStore.location)")
		}
		rt, err := newReloadingTLS(log, o.ensemble.clientTLS)
		if err != nil {
			srv.Close()
			return fmt.Errorf("secure client port: %w", err)
		}
		tc := rt.Config()
		sl, err := net.Listen("tcp", net.JoinHostPort(o.clientAddress, strconv.Itoa(o.ensemble.securePort)))
		if err != nil {
			srv.Close()
			return fmt.Errorf("secure client port: %w", err)
		}
		go func() { serveErr <- srv.Serve(tls.NewListener(sl, tc)) }()
		log.Info("serving TLS clients", "address", sl.Addr().String())
	}
	collectors := []prometheus.Collector{rep.Collector(), srv.Collector(), srv.ZooKeeperCollector()}
	a := &admin{log: log, rep: rep, srv: srv, maxLag: o.admin.maxLag,
		maxContact: 2 * time.Duration(o.tickTime) * time.Millisecond}
	if o.mount.dir != "" {
		if readOnly {
			// The mount's session is the leader's to create.
			log.Info("the mount waits for a quorum", "mount", o.mount.dir)
			if err := rep.WaitReady(ctx); err != nil {
				srv.Close()
				return stoppedWaiting(ctx, log, err)
			}
		}
		mnt, err := startMount(log, rep, o)
		if err != nil {
			srv.Close()
			return err
		}
		defer mnt.Unmount()
		collectors = append(collectors, mnt.Collector())
		a.mount = mnt
	}
	for _, hp := range httpPorts(o) {
		ms, err := serveMetrics(log, hp, a, collectors...)
		if err != nil {
			srv.Close()
			return err
		}
		defer ms.Close()
	}
	if o.ensemble.dynamicFile != "" && len(rcfg.Peers) > 0 {
		go keepDynamicConfig(ctx, log, rep, o.ensemble.dynamicFile)
	}
	go tuneMemory(ctx.Done()) // once loaded: the limit follows a steady heap
	log.Info("serving", "data-dir", o.dataDir, "client-address", l.Addr().String(), "applied", rep.AppliedIndex(), "startup", time.Since(start).Round(time.Millisecond))
	// Only now, with clients served and the mount up, is the service
	// ready for systemd (Type=notify) and the units ordered after it.
	if nerr := sdNotify("READY=1\nSTATUS=serving"); nerr != nil {
		log.Warn("telling the service manager we are ready failed", "err", nerr)
	}
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-serveErr:
		log.Error("client port failed", "err", err)
	}
	sdNotify("STOPPING=1")
	// Connections close; sessions stay, to be resumed after a restart or
	// to expire as usual.
	srv.Close()
	return err
}

// stoppedWaiting is the end of a wait for the ensemble: a stop asked for
// by a signal is a clean one, anything else fails the server.
func stoppedWaiting(ctx context.Context, log *slog.Logger, err error) error {
	if ctx.Err() != nil {
		log.Info("shutting down")
		return nil
	}
	return err
}

// startMount mounts the namespace once the replica serves, so that the
// mount never shows a tree that is still catching up.
func startMount(log *slog.Logger, rep *replication.Replica, o serverOptions) (*fusefs.Mount, error) {
	id, err := fusefs.ParseAuth(o.mount.auth)
	if err != nil {
		return nil, err
	}
	return fusefs.New(fusefs.Options{
		Dir:          o.mount.dir,
		Replica:      rep,
		UID:          o.mount.uid,
		GID:          o.mount.gid,
		AllowOther:   o.mount.allowOther,
		WriteTimeout: o.mount.writeTimeout,
		Identity:     id,
		MaxDataSize:  o.maxDataSize,
		DataDir:      o.dataDir,
		Logger:       log,
		// /proc/self/exe: the guard is this very binary even when a newer
		// one has replaced it on disk.
		Guard: []string{"/proc/self/exe", mountGuardCommand},
	})
}

// serverID is the id that conf reports: 0 for a standalone server, as
// ZooKeeper reports it, and myid in an ensemble.
func serverID(c replication.Config) int64 {
	if len(c.Peers) == 0 {
		return 0
	}
	n, _ := strconv.ParseInt(c.ID, 10, 64)
	return n
}

// reloadOnHangup reloads the TLS certificates (the secure client port's
// and the peer ports') on SIGHUP, which would otherwise stop the server.
func reloadOnHangup(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				reloadAll()
			}
		}
	}()
}

// httpPorts are the addresses serving /metrics and the admin endpoints:
// the metrics port and the admin port, when set.
func httpPorts(o serverOptions) []string {
	var out []string
	if o.ensemble.metricsPort > 0 {
		out = append(out, net.JoinHostPort(o.ensemble.metricsAddr, strconv.Itoa(o.ensemble.metricsPort)))
	}
	if o.admin.port > 0 && o.admin.port != o.ensemble.metricsPort {
		out = append(out, net.JoinHostPort(o.admin.address, strconv.Itoa(o.admin.port)))
	}
	return out
}
