package replication

import (
	"bufio"
	"net"
	"sync"
	"testing"
	"time"

	"zkfs/tree"
)

// probeStream opens a peer stream on conn as a follower would, forwards an
// empty batch and asks for a read index, and returns the first error.
func probeStream(conn net.Conn) error {
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	bw := bufio.NewWriter(conn)
	var buf []byte
	for _, f := range []*peerFrame{
		{typ: frameHello, version: peerVersion, serverID: "probe"},
		{typ: frameForward, id: 1},
		{typ: frameReadIndex, id: 2},
	} {
		if err := writeFrame(conn, bw, &buf, f, true); err != nil {
			return err
		}
	}
	br := bufio.NewReader(conn)
	for i := 0; i < 3; i++ {
		if _, _, err := readFrame(br, nil); err != nil {
			return err
		}
	}
	return nil
}

// TestRPCBeforeRaftStarts opens streams on a replica's peer port over and
// over while the replica opens: a peer forwards writes and asks for read
// indexes the moment the port accepts, and a request that arrived before
// Raft existed used to crash the replica (the chaos harness found it,
// restarting a replica under load). Every probe must get an answer or a
// refused connection, and the replica must open.
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
					probeStream(c)
					c.Close()
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
