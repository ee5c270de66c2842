package replication

import (
	"net"
	"net/rpc"
	"sync"
	"testing"
	"time"

	"zkfs/tree"
)

// TestRPCBeforeRaftStarts calls a replica's RPC port over and over while
// the replica opens: a peer forwards writes and asks for read indexes the
// moment the port accepts, and a call that arrived before Raft existed
// used to crash the replica (the chaos harness found it, restarting a
// replica under load). Every call must get an answer or a refused
// connection, and the replica must open.
func TestRPCBeforeRaftStarts(t *testing.T) {
	e := newEnsembleWith(t, 3, 0, nil)
	victim := e.follower()
	addr := e.peers[victim].RPCAddr
	for round := 0; round < 5; round++ {
		e.stop(victim)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
					if err != nil {
						continue
					}
					cl := rpc.NewClient(c)
					var fr ForwardBatchReply
					cl.Call("Peer.ForwardBatch", ForwardBatchArgs{Stream: "probe", Commands: nil}, &fr)
					var rr ReadIndexReply
					cl.Call("Peer.ReadIndex", Empty{}, &rr)
					cl.Close()
				}
			}()
		}
		e.start(victim)
		e.ready(victim)
		close(stop)
		wg.Wait()
	}
	propose(t, e.reps[victim], tree.Create{Path: "/after-probes", ACL: tree.OpenACL})
}
