// Package replication keeps the replicas of a zkfs ensemble in step: it
// runs hashicorp/raft over a log in Pebble, applies the committed commands
// to the znode tree (package tree) and persists each applied batch
// (package storage).
//
// A write enters through Submit, SubmitAs or Propose on any replica. The
// leader hands it to raft at once; a follower forwards it on its peer
// stream, one ordered connection to the leader that also carries read
// indexes (Sync), session activity, reconfigurations and the leader's
// commit notices. A resumed session's claim on its new connection is a
// write like any other (owners.go), which the tree checks every later
// write against. Every replica applies the log on raft's FSM
// goroutine, or ahead of it when a commit notice says the entries are
// committed (commit.go), and under the tree's write lock routes each
// batch to the watches (Watches, watches.go: the client port's watches and
// the mount's @watch files, one fan-out, a snapshot restore's diff
// included) and then tells its listeners (the mount's cache invalidations,
// commit notices, membership).
// docs/write-path.md follows one write through every stage, naming the
// goroutine that owns each step and what it waits for.
//
// The files, by stage:
//
//   - pipeline.go: Submit and Proposal, a write's entry (submitter) and
//     its wait.
//   - forward.go: a follower's forward queue and its one sending goroutine.
//   - peerframe.go: the peer stream's frames and outcome codes.
//   - peerlink.go: the follower's end of the stream (leaderLink, outStream).
//   - peerserver.go: the leader's end (peerServer, inStream).
//   - fsm.go: applying committed entries to the tree and the store.
//   - reads.go: Sync's read index and read-your-writes (readIndex).
//   - watches.go: the watch fan-out: which change fires which watch.
//   - commit.go: commit notices, and applying ahead of raft.
//   - sessions.go, owners.go: session ids, activity, expiry and
//     ownership (sessions; SessionMoved).
//   - readonly.go: read-only mode for a replica cut off from its quorum
//     (readOnlyMode).
//   - membership.go (membership), peers.go, dialaddr.go, tls.go: the
//     ensemble's members, their addresses and reconfiguration.
//   - command.go: the log's command encoding.
//
// Each stage is a type that owns its state and is given what it uses when
// Open builds the replica; none of them holds the *Replica, which is the
// facade that zkserver, fusefs and cmd/zkfs call (docs/write-path.md,
// "Who owns which state").
//
// Errors are sentinels (ErrTimeout, ErrNotLeader, ErrClosed, ErrReadOnly,
// ErrSessionMoved, ErrBadReconfig, and the tree's); the wire package maps
// them to ZooKeeper's codes and the mount to errnos, each in one place.
package replication
