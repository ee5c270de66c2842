package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"

	"zkfs/replication"
	"zkfs/storage"
	"zkfs/tree"
	"zkfs/zkdata"
)

// importOptions are the flags of `zkfs import zookeeper`.
type importOptions struct {
	// Offline: a ZooKeeper data directory into a new zkfs one.
	zkDataDir, zkLogDir string
	dataDir, dataLogDir string
	config, id          string
	peers               []string

	live liveOptions
}

func importFlags(o *importOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zkfs import zookeeper", pflag.ContinueOnError)
	fs.StringVar(&o.zkDataDir, "zk-data-dir", "", "ZooKeeper's dataDir (or its version-2 directory) to import, offline: ZooKeeper must not be running on it")
	fs.StringVar(&o.zkLogDir, "zk-log-dir", "", "ZooKeeper's dataLogDir, if its transaction logs are not in --zk-data-dir")
	fs.StringVar(&o.dataDir, "data-dir", "", "zkfs data directory to create; it must be missing or empty (a myid file may be there)")
	fs.StringVar(&o.dataLogDir, "data-log-dir", "", "zkfs Raft log directory, if the replica will run with one (dataLogDir)")
	fs.StringVar(&o.config, "config", "", "zoo.cfg of the zkfs replica the directory is for: its dataDir, myid and server.N lines")
	fs.StringVar(&o.id, "id", "", "this replica's id in the ensemble (myid)")
	fs.StringSliceVar(&o.peers, "peers", nil, "the ensemble, as for zkfs server --peers; every member is imported from the same ZooKeeper data")
	fs.StringVar(&o.live.remote, "from", "", "live import: comma-separated host:port list of the running ZooKeeper to copy from")
	liveFlags(fs, &o.live)
	fs.Usage = func() {
		fmt.Fprint(os.Stderr, `usage: zkfs import zookeeper --zk-data-dir DIR [--zk-log-dir DIR] --data-dir OUT [--config zoo.cfg | --id N --peers ...]
       zkfs import zookeeper --from HOST:PORT[,...] [--path /sub] [--follow] [-server zkfs-host:port]

The first form reads a stopped ZooKeeper's data directory (its newest valid
snapshot and the transaction logs after it) and creates a zkfs data
directory that "zkfs server --data-dir OUT" starts from, keeping every stat.
The second copies a subtree from a running ZooKeeper into a running zkfs
through the client protocol (new zxids, times and versions; see the README),
and with --follow keeps it in step until interrupted.

`)
		fs.PrintDefaults()
	}
	return fs
}

func runImport(args []string) int {
	if len(args) == 0 || args[0] != "zookeeper" {
		// Only ZooKeeper is known; asking for help is not an error.
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			fmt.Println("usage: zkfs import zookeeper [flags]; see zkfs import zookeeper --help")
			return 0
		}
		fmt.Fprintln(os.Stderr, "usage: zkfs import zookeeper [flags]; see zkfs import zookeeper --help")
		return 2
	}
	var o importOptions
	fs := importFlags(&o)
	if err := fs.Parse(zkCliArgs(args[1:])); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zkfs import zookeeper: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	switch {
	case o.zkDataDir != "" && o.live.remote != "":
		fmt.Fprintln(os.Stderr, "zkfs import zookeeper: --zk-data-dir (offline) and --from (live) exclude each other")
		return 2
	case o.live.remote != "":
		return runLive("import zookeeper", o.live, false)
	case o.zkDataDir == "":
		fmt.Fprintln(os.Stderr, "zkfs import zookeeper: --zk-data-dir or --from is required")
		return 2
	}
	line, err := importOffline(fs, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkfs import zookeeper: %v\n", err)
		return 1
	}
	fmt.Println(line)
	return 0
}

// importOffline reads the ZooKeeper directory in full, so that damaged
// input is refused before anything is written, then seeds the zkfs
// directory with the tree at ZooKeeper's last zxid, which becomes the
// Raft index: zkfs's zxids continue ZooKeeper's.
func importOffline(fs *pflag.FlagSet, o importOptions) (string, error) {
	var so serverOptions
	so.dataDir = o.dataDir
	so.ensemble = ensembleOptions{config: o.config, id: o.id, peers: o.peers, dataLogDir: o.dataLogDir}
	// The output is checked first (here and by Seed): reading a large
	// ZooKeeper directory only to find the flags wrong wastes minutes.
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	if o.config != "" {
		c, err := readZooConfig(o.config)
		if err != nil {
			return "", err
		}
		applyZooConfig(quiet, fs, &so, c)
	}
	if so.dataDir == "" {
		return "", errors.New("--data-dir (or a zoo.cfg with dataDir) is required")
	}
	rcfg, err := replicationConfig(quiet, so)
	if err != nil {
		return "", err
	}
	var info zkdata.Info
	var sum zkdata.Summary
	index, err := replication.Seed(rcfg, func(st *storage.Store) error {
		// Read in full before the first record is stored: Seed builds
		// aside and keeps nothing of a failure anyway, but a damaged
		// input should cost no writing.
		zt, in, err := zkdata.Load(o.zkDataDir, o.zkLogDir)
		if err != nil {
			return err
		}
		info = in
		if info.NoLogs {
			logDir := o.zkLogDir
			if logDir == "" {
				logDir = o.zkDataDir
			}
			fmt.Fprintf(os.Stderr, "zkfs import zookeeper: warning: no transaction log (log.*) in %s: the import holds only what the snapshot holds; if ZooKeeper's dataLogDir is elsewhere, give it with --zk-log-dir\n", logDir)
		}
		for _, s := range info.Skipped {
			fmt.Fprintf(os.Stderr, "zkfs import zookeeper: skipped an unreadable snapshot, as ZooKeeper would: %s\n", s)
		}
		index := uint64(max(zt.LastZxid, 1))
		var batch []tree.Record
		size := 0
		flush := func() error {
			err := st.CommitApplied(batch, index)
			batch, size = batch[:0], 0
			return err
		}
		prog := newProgress("importing")
		defer prog.done()
		var written int64
		var count uint64
		sum, err = zt.Records(func(r tree.Record) error {
			written += int64(len(r.Path) + len(r.Value))
			count++
			prog.update(written, count)
			batch = append(batch, r)
			if size += len(r.Path) + len(r.Value); size > 32<<20 {
				return flush()
			}
			return nil
		})
		if err != nil {
			return err
		}
		return flush()
	})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("imported %d znodes at zxid %#x from %s and %d transactions in %d logs into %s; dropped %d ephemeral nodes and %d sessions",
		sum.Nodes, index, filepath.Base(info.Snapshot), info.Txns, len(info.Logs), rcfg.DataDir, sum.Ephemerals, sum.Sessions), nil
}

func init() {
	commands["import"] = runImport
}
