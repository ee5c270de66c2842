package test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// nodeHistory is what the clients know about one znode's writes.
type nodeHistory struct {
	path string
	// created: a create was acknowledged, or failed with NodeExists.
	created bool
	// tried: a create was sent, acknowledged or not.
	tried bool
	// acked is the last acknowledged value; pending are the values sent
	// after it without an acknowledgement (the server may have applied
	// any of them before it died).
	acked   string
	pending []string
	next    int
}

// allowed reports whether v may be the node's value after a crash: the
// last acknowledged value or one written after it.
func (h *nodeHistory) allowed(v string) bool {
	return (h.acked != "" && v == h.acked) || slices.Contains(h.pending, v)
}

// TestDurabilityAcrossKills writes from several clients, kills the server
// with SIGKILL in the middle of the stream, restarts it on the same data
// directory, and checks that every acknowledged write is there: each node's
// value is its last acknowledged one or a later unacknowledged one. Several
// writers share each connection, so writes are also pipelined.
func TestDurabilityAcrossKills(t *testing.T) {
	srv := startServer(t)
	const (
		clients        = 9 // writers, each with its own nodes
		conns          = 3 // connections they share
		nodesPerClient = 25
		cycles         = 4
	)
	setup := connect(t, srv.Addr(), 10*time.Second)
	if _, err := setup.Create("/dur", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	setup.Close()

	hist := make([][]*nodeHistory, clients)
	for i := range hist {
		for j := 0; j < nodesPerClient; j++ {
			hist[i] = append(hist[i], &nodeHistory{path: fmt.Sprintf("/dur/c%d-n%d", i, j)})
		}
	}

	for cycle := 0; cycle < cycles; cycle++ {
		var acked sync.WaitGroup
		ackCount := make([]int, clients)
		stop := make(chan struct{})
		zcs := make([]*zk.Conn, conns)
		for i := range zcs {
			c, err := dial(srv.Addr(), 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			zcs[i] = c
		}
		for i := 0; i < clients; i++ {
			acked.Add(1)
			go func(i int) {
				defer acked.Done()
				ackCount[i] = writeUntilStopped(zcs[i%conns], hist[i], stop)
			}(i)
		}
		time.Sleep(time.Duration(300+rand.IntN(700)) * time.Millisecond)
		if err := srv.Kill(); err != nil {
			t.Fatal(err)
		}
		close(stop)
		for _, c := range zcs {
			c.Close()
		}
		acked.Wait()
		total := 0
		for _, n := range ackCount {
			total += n
		}
		if total == 0 {
			t.Fatalf("cycle %d: no write was acknowledged before the kill", cycle)
		}

		if err := srv.Start(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		check := connect(t, srv.Addr(), 10*time.Second)
		lost := 0
		for _, hs := range hist {
			for _, h := range hs {
				data, _, err := check.Get(h.path)
				switch {
				case errors.Is(err, zk.ErrNoNode):
					if h.created {
						t.Errorf("cycle %d: %s: acknowledged create lost", cycle, h.path)
						lost++
					}
					h.tried, h.acked, h.pending = false, "", nil
				case err != nil:
					t.Fatalf("cycle %d: get %s: %v", cycle, h.path, err)
				default:
					if !h.tried {
						t.Errorf("cycle %d: %s exists but was never created", cycle, h.path)
					}
					if !h.allowed(string(data)) {
						t.Errorf("cycle %d: %s = %q; want %q (last acknowledged) or one of %q", cycle, h.path, data, h.acked, h.pending)
						lost++
					}
					h.created, h.tried, h.acked, h.pending = true, true, string(data), nil
				}
			}
		}
		check.Close()
		t.Logf("cycle %d: %d acknowledged writes before SIGKILL, %d lost", cycle, total, lost)
	}
}

// writeUntilStopped creates and updates the client's nodes round-robin,
// recording every value before it is sent and when it is acknowledged. It
// returns the number of acknowledged writes.
func writeUntilStopped(c *zk.Conn, nodes []*nodeHistory, stop <-chan struct{}) int {
	n := 0
	for k := 0; ; k++ {
		select {
		case <-stop:
			return n
		default:
		}
		h := nodes[k%len(nodes)]
		v := fmt.Sprintf("%s-v%d", h.path, h.next)
		h.next++
		h.pending = append(h.pending, v)
		var err error
		if !h.created {
			h.tried = true
			_, err = c.Create(h.path, []byte(v), 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNodeExists) {
				// An earlier create went through unacknowledged.
				h.created = true
				h.pending = h.pending[:len(h.pending)-1]
				continue
			}
		} else {
			_, err = c.Set(h.path, []byte(v), -1)
		}
		if err != nil {
			// The server is gone: this value stays pending. Wait for the
			// stop rather than spin on a dead connection.
			select {
			case <-stop:
				return n
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		h.created, h.acked, h.pending = true, v, nil
		n++
	}
}
