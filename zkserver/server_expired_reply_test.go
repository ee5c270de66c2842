package zkserver

import (
	"context"
	"testing"
	"time"

	"zkfs/tree"
	"zkfs/wire"
)

// TestNoReplyAfterTheLogExpiredTheSession ends a connected client's
// session through the log, as the leader's expiry does, and sends a
// request at once: the client must not get an answer that shows its
// ephemeral node gone while its session seems alive. The chaos harness saw
// exactly that in the moments before the expired sessions' sweep.
func TestNoReplyAfterTheLogExpiredTheSession(t *testing.T) {
	ts := startTestServer(t, nil)
	for round := 0; round < 20; round++ {
		c := dialRaw(t, ts.addr, 10000)
		path := "/eph"
		c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: path, ACL: openACL(), Mode: tree.ModeEphemeral}, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := ts.rep.CloseSession(ctx, c.resp.SessionID); err != nil {
			t.Fatal(err)
		}
		cancel()
		h, err := c.call(wire.OpExists, &wire.ExistsRequest{Path: path}, &wire.ExistsResponse{})
		if h.Xid != 0 {
			t.Fatalf("round %d: a session the log had closed got an answer: %+v (%v)", round, h, err)
		}
		c.nc.Close()
	}
}
