package main

// The admin HTTP endpoints share the metrics port, as ZooKeeper's
// AdminServer and Prometheus provider share a Jetty when configured so.

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"

	"zkfs/fusefs"
	"zkfs/replication"
	"zkfs/tree"
)

// Response headers of GET /snapshot, read by `zkfs snapshot save`.
const (
	// headerSnapshotIndex carries the applied index the snapshot holds.
	headerSnapshotIndex = "Zkfs-Snapshot-Index"
	// headerSnapshotFresh is "true" when the replica synced with the
	// leader first, "false" when it had no leader and sent what it had.
	headerSnapshotFresh = "Zkfs-Snapshot-Fresh"
)

// admin serves the HTTP endpoints beside /metrics.
type admin struct {
	log         *slog.Logger
	rep         *replication.Replica
	superDigest string
}

func (a *admin) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /snapshot", a.snapshot)
}

// identity is the caller's identity for ACL checks, as ZooKeeper's
// AdminServer derives it: the client's address (ip scheme) and, from an
// "Authorization: digest user:password" header, a digest id, super when it
// matches the super digest.
func (a *admin) identity(r *http.Request) (tree.Identity, error) {
	var id tree.Identity
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		id.IDs = append(id.IDs, tree.ID{Scheme: "ip", ID: host})
	}
	h := r.Header.Get("Authorization")
	if h == "" {
		return id, nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	if scheme != "digest" || !strings.Contains(cred, ":") {
		return id, fmt.Errorf("unsupported Authorization %q: want digest user:password", scheme)
	}
	d := fusefs.DigestID(cred)
	id.IDs = append(id.IDs, tree.ID{Scheme: "digest", ID: d})
	if a.superDigest != "" && d == a.superDigest {
		id.Super = true
	}
	return id, nil
}

// snapshot streams a backup, to a caller with every permission on the
// root node, which is what ZooKeeper 3.9's snapshot command asks: the
// stream holds every znode, whatever its ACL.
func (a *admin) snapshot(w http.ResponseWriter, r *http.Request) {
	id, err := a.identity(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	// Each permission on its own: an ACL check passes when any one of the
	// bits asked for is granted (ZOOKEEPER-4964 was this mistake).
	var permErr error
	a.rep.Read(func(t *tree.Tree) {
		for _, p := range []int32{tree.PermRead, tree.PermWrite, tree.PermCreate, tree.PermDelete, tree.PermAdmin} {
			if permErr = t.CheckPerm("/", p, id); permErr != nil {
				return
			}
		}
	})
	if permErr != nil {
		http.Error(w, "a snapshot needs every permission on / (authenticate with --auth digest:user:password)", http.StatusForbidden)
		return
	}
	snap, fresh, err := a.rep.Backup(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer snap.Close()
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set(headerSnapshotIndex, strconv.FormatUint(snap.AppliedIndex(), 10))
	w.Header().Set(headerSnapshotFresh, strconv.FormatBool(fresh))
	n, err := snap.WriteTo(w)
	if err != nil {
		// The client sees a truncated stream, which it refuses.
		a.log.Warn("sending a snapshot failed", "remote", r.RemoteAddr, "bytes", n, "err", err)
		return
	}
	a.log.Info("sent a snapshot", "remote", r.RemoteAddr, "index", snap.AppliedIndex(), "bytes", n, "fresh", fresh)
}
