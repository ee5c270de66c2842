package replication

import (
	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"

	"zkfs/tree"
)

// Collector returns a Prometheus collector for the replica's state: Raft
// role, term, commit and applied index, sessions and znodes. Values are
// read at scrape time, so nothing on the write path pays for them.
func (r *Replica) Collector() prometheus.Collector { return replicaCollector{r} }

type replicaCollector struct{ r *Replica }

var (
	descRole = prometheus.NewDesc("zkfs_raft_role",
		"1 for the replica's current role (leader, follower, candidate, observer, standalone).", []string{"role"}, nil)
	descTerm       = prometheus.NewDesc("zkfs_raft_term", "Current Raft term.", nil, nil)
	descCommit     = prometheus.NewDesc("zkfs_raft_commit_index", "Raft commit index known to this replica.", nil, nil)
	descApplied    = prometheus.NewDesc("zkfs_raft_applied_index", "Last Raft index applied to the tree.", nil, nil)
	descLastLog    = prometheus.NewDesc("zkfs_raft_last_log_index", "Last index in this replica's Raft log.", nil, nil)
	descZnodes     = prometheus.NewDesc("zkfs_znodes", "Number of znodes in the tree.", nil, nil)
	descSessions   = prometheus.NewDesc("zkfs_sessions", "Number of live sessions in the tree.", nil, nil)
	descEphemerals = prometheus.NewDesc("zkfs_ephemeral_nodes", "Number of ephemeral znodes.", nil, nil)
	descPeers      = prometheus.NewDesc("zkfs_ensemble_members", "Members of the ensemble, as this replica knows them.", nil, nil)
	descLeader     = prometheus.NewDesc("zkfs_raft_leader_known", "1 when this replica knows a leader.", nil, nil)
	descMyID       = prometheus.NewDesc("zkfs_server_info", "The replica's server id.", []string{"id"}, nil)
	descLogSyncs   = prometheus.NewDesc("zkfs_raft_log_syncs_total", "Synced appends to the Raft log (one fsync each).", nil, nil)
	descLogWrites  = prometheus.NewDesc("zkfs_raft_log_writes_total", "Writes (commands) appended to the Raft log; divided by zkfs_raft_log_syncs_total, the writes per fsync.", nil, nil)
)

func (c replicaCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRole, descTerm, descCommit, descApplied, descLastLog,
		descZnodes, descSessions, descEphemerals, descPeers, descLeader, descMyID, descLogSyncs, descLogWrites} {
		ch <- d
	}
}

func (c replicaCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.r
	mode := r.Mode()
	if r.raft.State() == raft.Candidate {
		mode = "candidate"
	}
	for _, role := range []string{"leader", "follower", "candidate", "observer", "standalone"} {
		v := 0.0
		if role == mode {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(descRole, prometheus.GaugeValue, v, role)
	}
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descTerm, float64(r.raft.CurrentTerm()))
	gauge(descCommit, float64(r.raft.CommitIndex()))
	gauge(descApplied, float64(r.AppliedIndex()))
	gauge(descLastLog, float64(r.raft.LastIndex()))
	var nodes, ephemerals int
	var sessions []tree.Session
	r.Read(func(t *tree.Tree) {
		nodes = t.NodeCount()
		sessions = t.Sessions()
		for _, s := range sessions {
			ephemerals += len(t.Ephemerals(s.ID))
		}
	})
	gauge(descZnodes, float64(nodes))
	gauge(descSessions, float64(len(sessions)))
	gauge(descEphemerals, float64(ephemerals))
	members := len(r.members.all())
	if r.standalone() {
		members = 1
	}
	gauge(descPeers, float64(members))
	known := 0.0
	if _, id := r.raft.LeaderWithID(); id != "" || r.standalone() {
		known = 1
	}
	gauge(descLeader, known)
	ch <- prometheus.MustNewConstMetric(descMyID, prometheus.GaugeValue, 1, r.cfg.ID)
	syncs, writes := r.LogStats()
	ch <- prometheus.MustNewConstMetric(descLogSyncs, prometheus.CounterValue, float64(syncs))
	ch <- prometheus.MustNewConstMetric(descLogWrites, prometheus.CounterValue, float64(writes))
}
