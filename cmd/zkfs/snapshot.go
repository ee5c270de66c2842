package main

// `zkfs snapshot save|status|restore`: backups in the shape of etcdutl's
// snapshot commands. A backup file is storage's snapshot stream, the same
// bytes a leader sends a lagging follower, so there is one format to keep
// readable.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"zkfs/replication"
	"zkfs/storage"
)

// envAdmin names the environment variable that gives --admin its default.
const envAdmin = "ZKFS_ADMIN"

// defaultAdmin is where --admin points without the flag or the variable:
// ZooKeeper's default metricsProvider.httpPort.
const defaultAdmin = "127.0.0.1:7000"

func init() {
	commands["snapshot"] = runSnapshot
}

const snapshotUsage = `usage: zkfs snapshot save FILE [--admin host:port] [--auth digest:user:password | --auth-file FILE]
       zkfs snapshot status FILE
       zkfs snapshot restore FILE --data-dir DIR [--config zoo.cfg | --peers ...]

save     streams a consistent snapshot from a running replica (any member)
         over its metrics port (--metrics-port) to FILE, checks it, and
         prints the index it holds and its checksums. The replica first
         syncs with the leader, so the snapshot holds every write
         acknowledged before the save; a replica without a leader sends
         what it has, with a warning. The caller needs every permission on
         / (as in ZooKeeper 3.9); --auth, --auth-file or $ZKFS_AUTH
         send digest credentials.
status   checks FILE and prints its index, znode and session counts, size
         and checksums. Exit status 1 if it is damaged.
restore  builds a new data directory from FILE, from which a replica
         starts. Restore every member of the new ensemble from the same
         FILE with the same membership (--config's server.N lines, or
         --peers; neither means a standalone replica). DIR must be new or
         empty (a myid file may stay). A damaged FILE writes nothing.

A progress line (bytes and znodes, with rates) is shown on a terminal.
`

func runSnapshot(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, snapshotUsage)
		return 2
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Print(snapshotUsage)
		return 0
	case "save", "status", "restore":
	default:
		fmt.Fprintf(os.Stderr, "zkfs snapshot: unknown subcommand %q\n%s", sub, snapshotUsage)
		return 2
	}
	fs := pflag.NewFlagSet("zkfs snapshot "+sub, pflag.ContinueOnError)
	fs.SortFlags = false
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	var run func(file string) error
	switch sub {
	case "save":
		admin := fs.String("admin", envOr(envAdmin, defaultAdmin), "`host:port` (or URL) of a replica's metrics port, or a comma-separated list tried in turn; default $"+envAdmin+" or "+defaultAdmin)
		auth := fs.String("auth", "", "digest:`user:password` to authenticate with (visible in ps: prefer --auth-file or "+authEnv+")")
		authFile := fs.String("auth-file", "", "`file` whose first line is digest:user:password (mode 0600)")
		run = func(file string) error {
			a, err := oneCredential(*auth, *authFile, func(w string) { fmt.Fprintf(os.Stderr, "zkfs: warning: %s\n", w) })
			if err != nil {
				return usagef("%v", err)
			}
			return snapshotSave(*admin, a, file)
		}
	case "status":
		run = snapshotStatus
	case "restore":
		var o restoreFlags
		fs.StringVar(&o.dataDir, "data-dir", "", "data directory to build; default the dataDir of --config")
		fs.StringVar(&o.logDir, "data-log-dir", "", "the replica's separate Raft log directory, which must be empty; default the dataLogDir of --config")
		fs.StringVar(&o.config, "config", "", "zoo.cfg of the new ensemble: its server.N lines are the membership (an ensemble's needs its myid file in place)")
		fs.StringSliceVar(&o.peers, "peers", nil, "the new ensemble's members as N=host:peerPort:electionPort[;clientPort], instead of --config")
		run = func(file string) error { return snapshotRestore(o, file) }
	}
	if err := fs.Parse(rest); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			fmt.Printf("%s\nflags of %s:\n", snapshotUsage, sub)
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return 0
		}
		return report("snapshot "+sub, &usageError{msg: err.Error()})
	}
	if fs.NArg() != 1 {
		return report("snapshot "+sub, usagef("want one FILE argument (zkfs snapshot --help)"))
	}
	return report("snapshot "+sub, run(fs.Arg(0)))
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// fileErr is a one-line error about a snapshot file.
func fileErr(format string, args ...any) error {
	return &messageError{msg: "zkfs: " + fmt.Sprintf(format, args...)}
}

// printSnapshotInfo prints what a snapshot holds, one "key: value" a line.
func printSnapshotInfo(info storage.SnapshotInfo, valid bool, sum []byte) {
	fmt.Printf("index: 0x%x (%d)\n", info.Index, info.Index)
	fmt.Printf("znodes: %d\n", info.Nodes)
	fmt.Printf("sessions: %d\n", info.Sessions)
	if valid {
		fmt.Printf("size: %d bytes\n", info.Bytes)
		fmt.Printf("checksum: crc32c %08x, valid\n", info.Checksum)
	} else {
		fmt.Printf("size: %d bytes read before the fault\n", info.Bytes)
		fmt.Printf("checksum: not valid\n")
	}
	if sum != nil {
		fmt.Printf("sha256: %s\n", hex.EncodeToString(sum))
	}
}

func snapshotSave(admin, auth, file string) error {
	if _, err := os.Stat(file); err == nil {
		return fileErr("%s already exists; save to a new file", file)
	}
	var cred string
	if auth != "" {
		scheme, c, ok := strings.Cut(auth, ":")
		if !ok || scheme != "digest" || !strings.Contains(c, ":") {
			return usagef("the credential (--auth, --auth-file or %s) must be digest:user:password", authEnv)
		}
		cred = c
	}
	var admins []string
	for _, a := range strings.Split(admin, ",") {
		if a = strings.TrimSpace(a); a != "" {
			admins = append(admins, a)
		}
	}
	if len(admins) == 0 {
		return usagef("--admin: no address given")
	}
	resp, admin, err := fetchSnapshot(admins, cred)
	if err != nil {
		return err
	}
	defer resp.Body.Close()

	tmp := file + ".part"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return fileErr("%v", err)
	}
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// The stream is checked as it arrives: a connection cut short or
	// damaged on the way leaves no file behind.
	prog := newProgress("saving")
	pr, pw := io.Pipe()
	type verdict struct {
		info storage.SnapshotInfo
		err  error
	}
	checked := make(chan verdict, 1)
	go func() {
		info, err := storage.ReadSnapshotInfo(pr, func(i storage.SnapshotInfo) { prog.update(i.Bytes, i.Nodes) })
		io.Copy(io.Discard, pr)
		checked <- verdict{info, err}
	}()
	h := sha256.New()
	_, copyErr := io.Copy(io.MultiWriter(f, h, pw), resp.Body)
	pw.CloseWithError(copyErr)
	v := <-checked
	prog.done()
	if copyErr != nil {
		return fileErr("receiving the snapshot from %s: %v", admin, copyErr)
	}
	if v.err != nil {
		return fileErr("the snapshot from %s is damaged, nothing saved: %v", admin, v.err)
	}
	if err := f.Sync(); err != nil {
		return fileErr("%v", err)
	}
	if err := f.Close(); err != nil {
		return fileErr("%v", err)
	}
	if err := os.Rename(tmp, file); err != nil {
		return fileErr("%v", err)
	}
	ok = true
	syncDir(filepath.Dir(file))
	fmt.Printf("saved: %s\n", file)
	printSnapshotInfo(v.info, true, h.Sum(nil))
	if resp.Header.Get(headerSnapshotFresh) == "false" {
		fmt.Fprintf(os.Stderr, "zkfs: warning: %s could not sync with a leader; the snapshot holds what it had applied, index %d, and may miss later acknowledged writes\n", admin, v.info.Index)
	}
	return nil
}

// fetchSnapshot asks each replica in turn for a snapshot and returns the
// first answer, with the replica's address. A replica that is down or
// fails goes to the next; a refusal of the credentials stops at once, as
// every replica would give the same.
func fetchSnapshot(admins []string, cred string) (*http.Response, string, error) {
	client := &http.Client{Transport: &http.Transport{
		DialContext:           (&net.Dialer{Timeout: connectTimeout}).DialContext,
		ResponseHeaderTimeout: 30 * time.Second,
	}}
	var failures []string
	for _, admin := range admins {
		url := admin
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, strings.TrimSuffix(url, "/")+"/snapshot", nil)
		if err != nil {
			return nil, "", usagef("--admin %s: %v", admin, err)
		}
		if cred != "" {
			req.Header.Set("Authorization", "digest "+cred)
		}
		resp, err := client.Do(req)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", admin, err))
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp, admin, nil
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		refusal := fmt.Sprintf("%s refused the snapshot: %s: %s", admin, resp.Status, oneLine(string(msg)))
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return nil, "", fileErr("%s", refusal)
		}
		failures = append(failures, refusal)
	}
	if len(failures) == 1 {
		return nil, "", fileErr("cannot get a snapshot from %s", failures[0])
	}
	return nil, "", fileErr("no replica sent a snapshot: %s", strings.Join(failures, "; "))
}

// syncDir makes a rename in dir durable; failing to is not worth an error
// for a file that is already complete.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

func snapshotStatus(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fileErr("%v", err)
	}
	defer f.Close()
	prog := newProgress("checking")
	h := sha256.New()
	info, err := storage.ReadSnapshotInfo(io.TeeReader(f, h), func(i storage.SnapshotInfo) { prog.update(i.Bytes, i.Nodes) })
	prog.done()
	if err != nil {
		printSnapshotInfo(info, false, nil)
		return fileErr("%s: %v", file, err)
	}
	printSnapshotInfo(info, true, h.Sum(nil))
	return nil
}

// restoreFlags are the flags of `zkfs snapshot restore`.
type restoreFlags struct {
	dataDir string
	logDir  string
	config  string
	peers   []string
}

func snapshotRestore(o restoreFlags, file string) error {
	var peers []replication.Peer
	if o.config != "" && len(o.peers) > 0 {
		return usagef("give --config or --peers, not both")
	}
	if o.config != "" {
		c, err := readZooConfig(o.config)
		if err != nil {
			return fileErr("%v", err)
		}
		peers = c.Servers
		if o.dataDir == "" {
			o.dataDir = c.DataDir
		}
		if o.logDir == "" {
			o.logDir = c.DataLogDir
		}
	}
	if len(o.peers) > 0 {
		var err error
		if peers, err = parsePeerFlags(o.peers); err != nil {
			return usagef("%v", err)
		}
	}
	if o.dataDir == "" {
		return usagef("--data-dir is required (or a --config with dataDir)")
	}
	f, err := os.Open(file)
	if err != nil {
		return fileErr("%v", err)
	}
	defer f.Close()
	prog := newProgress("checking")
	res, err := replication.RestoreDataDir(f, replication.RestoreOptions{
		DataDir:  o.dataDir,
		LogDir:   o.logDir,
		Peers:    peers,
		Progress: func(i storage.SnapshotInfo) { prog.update(i.Bytes, i.Nodes) },
	})
	prog.done()
	switch {
	case errors.Is(err, storage.ErrBadSnapshot):
		return fileErr("%s is damaged, nothing written: %v", file, err)
	case err != nil:
		return fileErr("%v", err)
	}
	members := "standalone"
	if len(peers) > 0 {
		members = strconv.Itoa(len(peers)) + " members"
	}
	fmt.Printf("restored: %s into %s (%s)\n", file, o.dataDir, members)
	printSnapshotInfo(res.Info, true, nil)
	if res.Membership {
		fmt.Printf("membership: rewritten for the new ensemble at index 0x%x\n", res.Index)
	}
	return nil
}
