package replication

import (
	"time"

	"github.com/hashicorp/raft"
)

// Health is what a readiness probe needs to know about a replica.
type Health struct {
	// Leader is the leader's server id; empty when none is known.
	Leader string
	// CommitIndex is the highest index this replica knows to be
	// committed, and AppliedIndex the highest it has applied.
	CommitIndex, AppliedIndex uint64
	// LastContact is how long ago a follower last heard from its leader;
	// zero on the leader and on a standalone replica.
	LastContact time.Duration
}

// Health reports the replica's view of its leader and how far behind it
// is.
func (r *Replica) Health() Health {
	_, id := r.raft.LeaderWithID()
	h := Health{Leader: string(id), CommitIndex: r.raft.CommitIndex(), AppliedIndex: r.AppliedIndex()}
	if r.raft.State() != raft.Leader && !r.standalone() {
		if last := r.raft.LastContact(); !last.IsZero() {
			h.LastContact = time.Since(last)
		} else {
			h.Leader = "" // never heard from one since the start
		}
	}
	return h
}
