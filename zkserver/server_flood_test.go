package zkserver

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"zkfs/tree"
	"zkfs/wire"
)

// TestWatchAndSessionFlood: a client that sets tens of thousands of
// watches and then drops its connection, and one that opens session after
// session and abandons them, leave nothing behind: the watches go with the
// connection, the sessions expire after their timeout, and other clients
// are served meanwhile. Nothing bounds how many watches one session holds
// (as in ZooKeeper); maxClientCnxns bounds its connections.
func TestWatchAndSessionFlood(t *testing.T) {
	ts := startTestServer(t, nil)
	flood := dialRaw(t, ts.addr, 10000)
	const n = 20000
	done := make(chan error, 1)
	go func() {
		var b []byte
		for i := 0; i < n; i++ {
			b = wire.AppendFrame(b, &wire.RequestHeader{Xid: int32(i + 1), Type: wire.OpExists}, &wire.ExistsRequest{Path: fmt.Sprintf("/flood/%d", i), Watch: true})
		}
		_, err := flood.nc.Write(b)
		done <- err
	}()
	for i := 0; i < n; i++ {
		if _, _, err := flood.recv(); err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := fourLetterWord(t, ts.addr, "wchs"); !strings.Contains(got, fmt.Sprintf("Total watches:%d\n", n)) {
		t.Fatalf("wchs after the flood = %q", got)
	}
	// Another client is served while the watches stand.
	other := dialRaw(t, ts.addr, 10000)
	other.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/other", ACL: openACL()}, nil)

	flood.nc.Close()
	deadline := time.Now().Add(10 * time.Second)
	for got := ""; !strings.Contains(got, "Total watches:0\n"); got = fourLetterWord(t, ts.addr, "wchs") {
		if time.Now().After(deadline) {
			t.Fatalf("watches of a closed connection still counted: %q", got)
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Sessions opened and abandoned expire on their own.
	var ids []int64
	for i := 0; i < 20; i++ {
		c := dialRaw(t, ts.addr, 2000)
		ids = append(ids, c.resp.SessionID)
		c.nc.Close()
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		left := 0
		ts.rep.Read(func(tr *tree.Tree) {
			for _, id := range ids {
				if _, ok := tr.Session(id); ok {
					left++
				}
			}
		})
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d abandoned sessions still open after 30 s", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
