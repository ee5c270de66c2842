package replication

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"zkfs/storage"
)

// ErrNotEmpty reports a Seed into a data directory that already holds
// something.
var ErrNotEmpty = errors.New("replication: data directory is not empty")

// Seed creates the data directory of a new replica that starts from a
// given tree, offline. fill writes the tree into the replica's empty store
// through storage's own APIs (Restore from a snapshot stream, or
// CommitApplied with the tree's records at its applied index). Seed then
// checks that the store loads, and gives Raft a snapshot of it at the
// store's applied index with cfg's membership, as if the replica had
// installed it from a leader. A replica opened on the directory (and every
// member seeded alike) therefore starts from that tree, and the first
// write gets the next index: the tree's zxids stay below every new one.
//
// cfg.DataDir, and cfg.LogDir if set, must be missing or empty, but for a
// myid file in DataDir, which is kept. The directory is built beside
// DataDir and renamed into place only once complete, so a failure leaves
// nothing behind. Seed returns the index.
func Seed(cfg Config, fill func(*storage.Store) error) (uint64, error) {
	if cfg.ID == "" {
		cfg.ID = "1"
	}
	for _, dir := range []string{cfg.DataDir, cfg.LogDir} {
		if dir == "" {
			continue
		}
		ents, err := os.ReadDir(dir)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, err
		}
		for _, e := range ents {
			if dir != cfg.DataDir || e.Name() != myidFile {
				return 0, fmt.Errorf("%w: %s holds %s", ErrNotEmpty, dir, e.Name())
			}
		}
	}
	abs, err := filepath.Abs(cfg.DataDir)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(abs), "."+filepath.Base(abs)+".seed-")
	if err != nil {
		return 0, err
	}
	index, err := seedInto(cfg, tmp, fill)
	if err == nil {
		err = keepMyID(abs, tmp)
	}
	if err == nil {
		// The directory (empty but for myid, now copied) is replaced; a
		// missing one is created.
		if err = os.RemoveAll(abs); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err == nil {
		// MkdirTemp's mode is private; a data directory is not.
		err = os.Chmod(tmp, 0o755)
	}
	if err == nil {
		err = os.Rename(tmp, abs)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return 0, err
	}
	return index, nil
}

// myidFile is ZooKeeper's file of a server's id, which a zoo.cfg's
// dataDir holds before anything else.
const myidFile = "myid"

// keepMyID copies dir's myid file, if any, into the new directory.
func keepMyID(dir, tmp string) error {
	b, err := os.ReadFile(filepath.Join(dir, myidFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(tmp, myidFile), b, 0o644)
}

func seedInto(cfg Config, dir string, fill func(*storage.Store) error) (uint64, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	store, err := storage.Open(filepath.Join(dir, "pebble"), storage.Options{Logger: pebbleLogger{log}})
	if err != nil {
		return 0, err
	}
	defer store.Close()
	if err := fill(store); err != nil {
		return 0, err
	}
	// What a replica will load: a tree that does not link up fails here,
	// not at the first start.
	if _, _, err := store.LoadTree(cfg.Tree); err != nil {
		return 0, err
	}
	index, err := store.AppliedIndex()
	if err != nil {
		return 0, err
	}
	if index == 0 {
		return 0, errors.New("replication: seed: the store's applied index is 0; a seeded tree needs an index of at least 1")
	}
	if err := store.Sync(); err != nil {
		return 0, err
	}
	snap, err := store.Snapshot()
	if err != nil {
		return 0, err
	}
	defer snap.Close()
	hlog := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: io.Discard})
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 1, hlog)
	if err != nil {
		return 0, fmt.Errorf("replication: snapshot store: %w", err)
	}
	// The transport only encodes the legacy peer list of the snapshot's
	// metadata; Raft reads the configuration.
	_, trans := raft.NewInmemTransport("")
	defer trans.Close()
	sink, err := snaps.Create(raft.SnapshotVersionMax, index, 1, bootConfiguration(cfg), index, trans)
	if err != nil {
		return 0, fmt.Errorf("replication: seed snapshot: %w", err)
	}
	if _, err := snap.WriteTo(sink); err != nil {
		sink.Cancel()
		return 0, err
	}
	if err := sink.Close(); err != nil {
		return 0, fmt.Errorf("replication: seed snapshot: %w", err)
	}
	return index, nil
}

// bootConfiguration is the Raft configuration that a new cluster of cfg starts
// with: cfg.ID alone when standalone, else every peer, observers as
// non-voters.
func bootConfiguration(cfg Config) raft.Configuration {
	var c raft.Configuration
	if len(cfg.Peers) == 0 {
		c.Servers = []raft.Server{{ID: raft.ServerID(cfg.ID), Address: standaloneAddr(cfg.ID), Suffrage: raft.Voter}}
		return c
	}
	for _, p := range cfg.Peers {
		s := raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.RaftAddr), Suffrage: raft.Voter}
		if p.Observer {
			s.Suffrage = raft.Nonvoter
		}
		c.Servers = append(c.Servers, s)
	}
	return c
}

// standaloneAddr is the in-memory transport address of a standalone
// replica, which its Raft configuration names.
func standaloneAddr(id string) raft.ServerAddress {
	return raft.ServerAddress("standalone-" + id)
}
