package main

// The admin HTTP endpoints: probes, ZooKeeper's AdminServer commands and
// the backup stream, served beside /metrics.

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/pflag"

	"zkfs/fusefs"
	"zkfs/replication"
	"zkfs/tree"
	"zkfs/zkserver"
)

// Response headers of GET /snapshot. `zkfs snapshot save` reads Fresh and
// takes the index from the stream itself; Index is for other clients.
const (
	// headerSnapshotIndex carries the applied index the snapshot holds.
	headerSnapshotIndex = "Zkfs-Snapshot-Index"
	// headerSnapshotFresh is "true" when the replica synced with the
	// leader first, "false" when it had no leader and sent what it had.
	headerSnapshotFresh = "Zkfs-Snapshot-Fresh"
)

// adminOptions are the flags of the admin endpoints.
type adminOptions struct {
	port    int
	address string
	maxLag  uint64
}

func adminFlags(fs *pflag.FlagSet, o *adminOptions) {
	fs.IntVar(&o.port, "admin-port", 0, "HTTP port for the admin endpoints (/health, /ready, /commands/*, /snapshot) and /metrics, besides --metrics-port; 0 means none (admin.serverPort)")
	fs.StringVar(&o.address, "admin-address", "", "address for --admin-port; empty means every interface (admin.serverAddress)")
	fs.Uint64Var(&o.maxLag, "ready-max-lag", 1000, "/ready fails while this replica has applied more than this many committed log entries fewer than it knows of")
}

// admin serves the HTTP endpoints beside /metrics.
type admin struct {
	log    *slog.Logger
	rep    *replication.Replica
	srv    *zkserver.Server
	mount  *fusefs.Mount // nil without --mount
	maxLag uint64
	// maxContact is how long a follower may go without hearing from its
	// leader and still be ready.
	maxContact time.Duration
	// sending is set while a snapshot is being sent: one at a time, as
	// ZooKeeper rate-limits its snapshot command, so that callers cannot
	// pin many versions of the store and saturate the disk.
	sending atomic.Bool
}

func (a *admin) routes(mux *http.ServeMux) {
	mux.HandleFunc("GET /snapshot", a.snapshot)
	mux.HandleFunc("GET /health", a.health)
	mux.HandleFunc("GET /ready", a.ready)
	mux.HandleFunc("GET /commands", a.commandList)
	mux.HandleFunc("GET /commands/{name}", a.command)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

// health answers while the process serves: the admin port opens only once
// the replica serves clients, and closes when it stops.
func (a *admin) health(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"status": "serving", "mode": a.rep.Mode()})
}

// ready is 200 when the replica can serve current data: it knows a leader
// and has heard from it lately, it has applied nearly all it knows to be
// committed, and its mount, if it has one, is up. Otherwise 503, with the
// reasons.
func (a *admin) ready(w http.ResponseWriter, r *http.Request) {
	h := a.rep.Health()
	reasons := []string{}
	if h.Leader == "" {
		reasons = append(reasons, "no leader")
	} else if h.LastContact > a.maxContact {
		reasons = append(reasons, fmt.Sprintf("no word from the leader for %v", h.LastContact.Round(time.Millisecond)))
	}
	lag := uint64(0)
	if h.CommitIndex > h.AppliedIndex {
		lag = h.CommitIndex - h.AppliedIndex
	}
	if lag > a.maxLag {
		reasons = append(reasons, fmt.Sprintf("%d committed entries not applied yet", lag))
	}
	mount := "none"
	if a.mount != nil {
		mount = "up"
		if !a.mount.Mounted() {
			mount = "down"
			reasons = append(reasons, "the mount is down")
		}
	}
	status := http.StatusOK
	if len(reasons) > 0 {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, map[string]any{
		"ready":           len(reasons) == 0,
		"reasons":         reasons,
		"mode":            a.rep.Mode(),
		"leader":          h.Leader,
		"commit_index":    h.CommitIndex,
		"applied_index":   h.AppliedIndex,
		"last_contact_ms": h.LastContact.Milliseconds(),
		"mount":           mount,
	})
}

// commandList lists the commands, as ZooKeeper's /commands does.
func (a *admin) commandList(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html")
	for _, n := range zkserver.AdminCommandNames() {
		fmt.Fprintf(w, "<a href=\"/commands/%s\">%s</a>\n<br/>\n", n, n)
	}
}

// command answers /commands/NAME in the JSON of ZooKeeper's AdminServer.
func (a *admin) command(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	out, err := a.srv.AdminCommand(name)
	switch {
	case errors.Is(err, zkserver.ErrUnknownCommand):
		writeJSON(w, http.StatusNotFound, map[string]any{"command": name, "error": "Command not found"})
	case err != nil:
		writeJSON(w, http.StatusForbidden, map[string]any{"command": name, "error": err.Error()})
	default:
		writeJSON(w, http.StatusOK, out)
	}
}

// identity is the caller's identity for ACL checks: its address and the
// credentials of an "Authorization: digest user:password" header, the
// form ZooKeeper 3.9's AdminServer takes.
func (a *admin) identity(r *http.Request) (tree.Identity, error) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	h := r.Header.Get("Authorization")
	if h == "" {
		return a.srv.Identity(host, ""), nil
	}
	scheme, cred, _ := strings.Cut(h, " ")
	if scheme != "digest" || !strings.Contains(cred, ":") {
		return tree.Identity{}, fmt.Errorf("unsupported Authorization %q: want digest user:password", scheme)
	}
	return a.srv.Identity(host, cred), nil
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
	if !a.sending.CompareAndSwap(false, true) {
		http.Error(w, "a snapshot is already being sent; try again when it is done", http.StatusTooManyRequests)
		return
	}
	defer a.sending.Store(false)
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
