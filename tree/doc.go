// Package tree is the znode tree as a pure, deterministic state machine:
// commands in (Apply), results and watch events out. It has no clock (time
// arrives in the Header), no I/O and no goroutines, and nothing that reaches
// its outputs depends on map order. It is not safe for concurrent use.
//
// The semantics are ZooKeeper 3.8's, checked against a real server by the
// scenario files in testdata/: which error wins when several apply follows
// the order of ZooKeeper's PrepRequestProcessor, a failed multi changes
// nothing, sequence suffixes and cversion follow ZooKeeper's persisted
// cversion (the number of children ever created; the stat reports
// 2*cversion-numChildren), and containers and TTL nodes carry ZooKeeper's
// ephemeralOwner encoding internally while clients see 0.
//
// Every applied command consumes its zxid (Header.Zxid, the Raft index),
// failed or not, like a ZooKeeper transaction.
//
// zkfs adds Kind, which the mount uses to show a node as a file or a
// directory. A node becomes a directory with its first child and stays one.
// SetKind changes nothing a ZooKeeper client can see: it keeps the stat and
// emits no event; the mount learns of it from the command itself.
//
// Persistence is incremental: TakeChanges returns the node and session
// records changed since the last call (a dirty set, so its cost follows the
// batch, not the tree), and a Loader rebuilds a tree from records in any
// order, checking that they form a consistent tree.
package tree
