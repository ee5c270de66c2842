package main

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"zkfs/replication"
	"zkfs/tree"
)

// keepDynamicConfig writes the membership back to zoo.cfg's
// dynamicConfigFile whenever /zookeeper/config changes, as ZooKeeper 3.5+
// does after a reconfig, so that a restart reads the ensemble it left.
// The file is replaced atomically, in place: zoo.cfg keeps naming it.
// It stops with ctx.
func keepDynamicConfig(ctx context.Context, log *slog.Logger, rep *replication.Replica, path string) {
	changed := make(chan struct{}, 1)
	rep.Listen(func(a replication.Applied) {
		hit := a.Reset
		for _, e := range a.Events {
			hit = hit || e.Path == replication.ConfigPath
		}
		if hit {
			select {
			case changed <- struct{}{}:
			default:
			}
		}
	})
	changed <- struct{}{} // a change while the server was down
	for {
		select {
		case <-ctx.Done():
			return
		case <-changed:
		}
		var data []byte
		rep.Read(func(t *tree.Tree) { data, _, _ = t.Get(replication.ConfigPath) })
		peers, err := replication.ParseConfigText(string(data))
		if err != nil || len(peers) == 0 {
			continue // not published yet
		}
		if current, err := readDynamicConfig(path); err == nil && samePeers(current, peers) {
			continue
		}
		if err := writeDynamicConfig(path, peers); err != nil {
			log.Error("writing the membership to dynamicConfigFile", "file", path, "err", err)
			continue
		}
		log.Info("membership written to dynamicConfigFile", "file", path, "servers", len(peers))
	}
}

// writeDynamicConfig writes server.N lines, sorted, in ZooKeeper's form,
// through a temporary file and a rename.
func writeDynamicConfig(path string, peers []replication.Peer) error {
	text := replication.ConfigText(peers, 0)
	text = text[:strings.LastIndex(text, "version=")] // the version is not kept inside
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
	if err != nil {
		return err
	}
	_, err = tmp.WriteString(text)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

func samePeers(a, b []replication.Peer) bool {
	key := func(ps []replication.Peer) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.ConfigLine())
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}
