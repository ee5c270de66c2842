package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/zkclient"
)

// liveOptions are the flags of a copy between a running ZooKeeper and a
// running zkfs through the client protocol: `import zookeeper --from` and
// `export zookeeper --to`.
type liveOptions struct {
	// remote is the Apache ZooKeeper side (--from or --to); zkfs is the
	// other, reached like every client command (-server, --auth).
	remote     string
	remoteAuth []string
	root       string
	follow     bool
	resync     time.Duration
	zkfs       clientOptions
}

func liveFlags(fs *pflag.FlagSet, o *liveOptions) {
	fs.StringArrayVar(&o.remoteAuth, "zk-auth", nil, "authenticate to the Apache ZooKeeper side as `scheme:credentials` (repeatable); it must read, or write, every node copied")
	fs.StringVar(&o.root, "path", "/", "the subtree to copy; /zookeeper is never copied")
	fs.BoolVar(&o.follow, "follow", false, "after the copy, keep the destination in step through a persistent recursive watch (ZooKeeper 3.6+) until interrupted")
	fs.DurationVar(&o.resync, "resync", 0, "with --follow, also compare the whole subtree this often, which brings ACL changes (they fire no watch); 0: only after a reconnection")
	fs.StringVar(&o.zkfs.server, "server", defaultServer, "comma-separated host:port list of the zkfs servers")
	fs.StringArrayVar(&o.zkfs.auth, "auth", nil, "authenticate to zkfs as `scheme:credentials` (repeatable; visible in ps: prefer --auth-file or ZKFS_AUTH)")
	fs.StringVar(&o.zkfs.authFile, "auth-file", "", "`file` of scheme:credentials lines to authenticate to zkfs with (mode 0600)")
}

// runLive copies between the two sides: from the remote ZooKeeper into
// zkfs, or from zkfs to it when export is set. It prints one line per full
// pass and a last one when stopped.
func runLive(name string, o liveOptions, export bool) int {
	fail := func(err error) int {
		fmt.Fprintf(os.Stderr, "zkfs %s: %s\n", name, oneLine(err.Error()))
		return 1
	}
	if !strings.HasPrefix(o.root, "/") {
		fmt.Fprintf(os.Stderr, "zkfs %s: --path must be an absolute path, not %q\n", name, o.root)
		return 2
	}
	o.root = path.Clean(o.root)
	if skipped(o.root) {
		fmt.Fprintf(os.Stderr, "zkfs %s: /zookeeper belongs to each ensemble and is not copied\n", name)
		return 2
	}
	remote := clientOptions{server: o.remote, auth: o.remoteAuth}
	// One session to each side. The source, when followed, is read
	// through the session that holds the watch (mirror.follow), so its
	// go-zookeeper session is not opened.
	var rc, zc *zk.Conn
	if !o.follow || export {
		// The remote's credentials are not the zkfs ones: keep
		// ZKFS_AUTH off.
		c, err := remote.connectOnly()
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		rc = c
	}
	if !o.follow || !export {
		c, err := o.zkfs.connect()
		if err != nil {
			return fail(err)
		}
		defer c.Close()
		zc = c
	}
	m := &mirror{root: o.root, resync: o.resync, progress: func(s string) { fmt.Println(s) }}
	from, to := rc, zc
	if export {
		from, to = zc, rc
	}
	m.dst = to
	if from != nil { // a nil *zk.Conn would make a non-nil source
		m.src = from
	}
	if !o.follow {
		if err := m.sync(); err != nil {
			return fail(err)
		}
		fmt.Printf("copied %d znodes under %s (%d created, %d updated, %d deleted); ephemeral nodes are not copied\n",
			m.stats.nodes.Load(), o.root, m.stats.created.Load(), m.stats.updated.Load(), m.stats.deleted.Load())
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	src, auths, err := remote, []zkclient.Auth(nil), error(nil)
	if export {
		src = o.zkfs
		auths, err = o.zkfs.auths()
	} else {
		auths, err = remote.authList(remote.auth)
	}
	if err != nil {
		return fail(err)
	}
	dial := func() (*zkclient.Conn, error) {
		servers, err := src.servers()
		if err != nil {
			return nil, err
		}
		return zkclient.Dial(zkclient.Config{Servers: servers, SessionTimeout: sessionTimeout, ConnectTimeout: connectTimeout, Auth: auths})
	}
	if err := m.follow(ctx, dial); err != nil {
		return fail(err)
	}
	fmt.Printf("stopped: %d znodes under %s in step (%d created, %d updated, %d deleted)\n",
		m.stats.nodes.Load(), o.root, m.stats.created.Load(), m.stats.updated.Load(), m.stats.deleted.Load())
	return 0
}

// connectOnly connects with the --auth values given and nothing else: no
// --auth-file, no ZKFS_AUTH, which hold credentials for zkfs.
func (o *clientOptions) connectOnly() (*zk.Conn, error) {
	auths, err := o.authList(o.auth)
	if err != nil {
		return nil, err
	}
	bare := clientOptions{server: o.server, sessionTimeout: o.sessionTimeout}
	c, err := bare.connectNoEnv()
	if err != nil {
		return nil, err
	}
	for _, a := range auths {
		if err := c.AddAuth(a.Scheme, a.Data); err != nil {
			c.Close()
			return nil, authFailed(a)
		}
	}
	return c, nil
}

// authList parses scheme:credentials values.
func (o *clientOptions) authList(values []string) ([]zkclient.Auth, error) {
	var out []zkclient.Auth
	for _, a := range values {
		scheme, cred, ok := strings.Cut(a, ":")
		if !ok || scheme == "" {
			return nil, usagef("a credential is not scheme:credentials")
		}
		out = append(out, zkclient.Auth{Scheme: scheme, Data: []byte(cred)})
	}
	return out, nil
}

// connectNoEnv is connect without any credentials.
func (o *clientOptions) connectNoEnv() (*zk.Conn, error) {
	saved, had := os.LookupEnv(authEnv)
	if had {
		os.Unsetenv(authEnv)
		defer os.Setenv(authEnv, saved)
	}
	return o.connect()
}

// exportFlags are the flags of `zkfs export zookeeper`.
func exportFlags(o *liveOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zkfs export zookeeper", pflag.ContinueOnError)
	fs.StringVar(&o.remote, "to", "", "comma-separated host:port list of the running Apache ZooKeeper to copy into")
	liveFlags(fs, o)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `usage: zkfs export zookeeper --to HOST:PORT[,...] [--path /sub] [--follow] [-server zkfs-host:port]

Copies a subtree from a running zkfs into a running Apache ZooKeeper through
the client protocol, the way back from zkfs: data and ACLs and sequence
counters, not zxids, times or versions; ephemeral nodes are not copied,
containers and TTL nodes become persistent. Nodes under the path that zkfs
does not have are deleted from ZooKeeper. With --follow it keeps ZooKeeper
in step until interrupted.

`)
		fs.PrintDefaults()
	}
	return fs
}

func runExport(args []string) int {
	if len(args) == 0 || args[0] != "zookeeper" {
		// Only ZooKeeper is known; asking for help is not an error.
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Println("usage: zkfs export zookeeper [flags]; see zkfs export zookeeper --help")
			return 0
		}
		fmt.Fprintln(os.Stderr, "usage: zkfs export zookeeper [flags]; see zkfs export zookeeper --help")
		return 2
	}
	var o liveOptions
	fs := exportFlags(&o)
	if err := fs.Parse(zkCliArgs(args[1:])); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zkfs export zookeeper: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if o.remote == "" {
		fmt.Fprintln(os.Stderr, "zkfs export zookeeper: --to is required")
		return 2
	}
	return runLive("export zookeeper", o, true)
}

func init() {
	commands["export"] = runExport
}
