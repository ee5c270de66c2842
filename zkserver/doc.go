// Package zkserver is the client port: it serves ZooKeeper 3.8's client
// protocol (encoded by package wire) from a replica. It owns the
// connections and their sessions, the request pipeline (reads run in order
// on the local tree, writes are proposed to the replica as they arrive and
// answered in request order), the wire's side of watches (the requests
// that set, check and remove them, setWatches, the reports; which change
// fires them is replication.Watches' rule, shared with the mount), the
// four-letter words, the AdminServer's commands and
// the client port's metrics.
//
// The replica's errors that ZooKeeper has a code for (SessionMoved) are
// mapped here, in one place (codeOf); the tree's and the codec's errors map
// through tree.Code and wire.CodeOf.
package zkserver
