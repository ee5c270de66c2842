// Package chaos is zkfs's fault-injection harness. It starts an ensemble
// of real `zkfs server` processes with their mounts, runs many clients
// against random replicas through the client port and through the
// mounts, and meanwhile a nemesis kills, pauses, partitions and wipes
// replicas. Every operation goes into a history, which the checkers then
// hold to ZooKeeper's guarantees: linearizable registers (with porcupine),
// no acknowledged write lost across a restart of every replica, unique and
// increasing sequential names, ephemeral nodes that live exactly as long
// as their sessions, one-shot watches that fire once and before the data
// they announce, and mounts whose reads never go back in time, through
// fresh opens, held descriptors and mmaps alike, never torn or padded.
//
// Replicas reach each other only through per-link TCP proxies that the
// nemesis controls (see cluster), and each client reaches its replica
// through a proxy of its own, so partitions cut exactly the links meant.
//
// TestChaos runs it; `make chaos DURATION=30m` runs it for longer.
package chaos
