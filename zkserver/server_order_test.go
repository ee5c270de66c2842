package zkserver

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/wire"
)

// TestPipelinedWritesInOrder sends many writes without waiting: replies
// come back in request order with increasing zxids, and every write lands.
func TestPipelinedWritesInOrder(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/pipe", ACL: openACL()}, nil)
	const n = 300
	var xids []int32
	for i := 0; i < n; i++ {
		if i%3 == 0 {
			xids = append(xids, c.send(wire.OpCreate, &wire.CreateRequest{Path: fmt.Sprintf("/pipe/n%d", i), ACL: openACL()}))
		} else {
			xids = append(xids, c.send(wire.OpSetData, &wire.SetDataRequest{Path: "/pipe", Data: []byte(strconv.Itoa(i)), Version: -1}))
		}
	}
	var last int64
	for i := 0; i < n; i++ {
		h, _, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if h.Xid != xids[i] || h.Err != 0 {
			t.Fatalf("reply %d: %+v, want xid %d", i, h, xids[i])
		}
		if h.Zxid <= last {
			t.Fatalf("reply %d: zxid %d after %d", i, h.Zxid, last)
		}
		last = h.Zxid
	}
	var gr wire.GetDataResponse
	c.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/pipe"}, &gr)
	if string(gr.Data) != strconv.Itoa(n-1) || gr.Stat.NumChildren != n/3 {
		t.Errorf("after the pipeline: data %q, %d children", gr.Data, gr.Stat.NumChildren)
	}
}

// TestPipelinedReadsSeeExactlyEarlierWrites pipelines reads and writes on
// one connection: a read sees every write sent before it and none sent
// after it.
func TestPipelinedReadsSeeExactlyEarlierWrites(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/rw", Data: []byte("0"), ACL: openACL()}, nil)
	const rounds = 200
	type sent struct {
		xid  int32
		read bool
		want string
	}
	var reqs []sent
	for i := 1; i <= rounds; i++ {
		v := strconv.Itoa(i)
		// read, write, read: the first read must not see the write, the
		// second must.
		reqs = append(reqs, sent{c.send(wire.OpGetData, &wire.GetDataRequest{Path: "/rw"}), true, strconv.Itoa(i - 1)})
		reqs = append(reqs, sent{c.send(wire.OpSetData, &wire.SetDataRequest{Path: "/rw", Data: []byte(v), Version: -1}), false, ""})
		reqs = append(reqs, sent{c.send(wire.OpGetData, &wire.GetDataRequest{Path: "/rw"}), true, v})
	}
	var last int64
	for _, r := range reqs {
		h, body, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if h.Xid != r.xid || h.Err != 0 || h.Zxid < last {
			t.Fatalf("reply %+v, want xid %d after zxid %d", h, r.xid, last)
		}
		last = h.Zxid
		if r.read {
			var gr wire.GetDataResponse
			if err := wire.Unmarshal(body, &gr); err != nil {
				t.Fatal(err)
			}
			if string(gr.Data) != r.want {
				t.Fatalf("read %d saw %q, want %q", r.xid, gr.Data, r.want)
			}
		}
	}
}

// TestWatchEventBeforeNewerData is ZooKeeper's ordering guarantee: a client
// sees a watch event before any data from after the change that fired it,
// and replies and events arrive in zxid order. One client keeps changing a
// node; another keeps reading it with a watch, pipelined.
func TestWatchEventBeforeNewerData(t *testing.T) {
	ts := startTestServer(t, nil)
	writer, _ := zkConnect(t, ts.addr, 10*time.Second)
	if _, err := writer.Create("/w", []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := writer.Set("/w", []byte(strconv.Itoa(i)), -1); err != nil {
				t.Errorf("set: %v", err)
				return
			}
		}
	}()
	defer func() {
		close(stop)
		wg.Wait()
	}()

	r := dialRaw(t, ts.addr, 10000)
	const depth = 8 // reads in flight
	armed, armedAt := false, int32(0)
	events, checked := 0, 0
	var lastZxid int64
	pending := 0
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) || pending > 0 {
		for pending < depth && time.Now().Before(deadline) {
			r.send(wire.OpGetData, &wire.GetDataRequest{Path: "/w", Watch: true})
			pending++
		}
		pkt, err := r.next()
		if err != nil {
			t.Fatal(err)
		}
		var h wire.ReplyHeader
		if err := wire.Unmarshal(pkt, &h); err != nil {
			t.Fatal(err)
		}
		if h.Xid == wire.XidNotification {
			var ev wire.WatcherEvent
			wire.Unmarshal(pkt[16:], &ev)
			if ev.Type != wire.EventNodeDataChanged || ev.Path != "/w" {
				t.Fatalf("unexpected event %+v", ev)
			}
			if !armed {
				t.Fatal("event without a watch set")
			}
			armed = false
			events++
			continue
		}
		pending--
		if h.Zxid < lastZxid {
			t.Fatalf("reply zxid %d after %d", h.Zxid, lastZxid)
		}
		lastZxid = h.Zxid
		var gr wire.GetDataResponse
		if err := wire.Unmarshal(pkt[16:], &gr); err != nil {
			t.Fatal(err)
		}
		if armed && gr.Stat.Version > armedAt {
			t.Fatalf("read version %d before the event for the change after version %d", gr.Stat.Version, armedAt)
		}
		if !armed {
			armed, armedAt = true, gr.Stat.Version
		}
		if h.Zxid < gr.Stat.Mzxid {
			t.Fatalf("reply zxid %d older than the data it carries (mzxid %d)", h.Zxid, gr.Stat.Mzxid)
		}
		checked++
	}
	if events < 10 || checked < 100 {
		t.Fatalf("only %d events and %d reads: the test did not exercise the race", events, checked)
	}
	t.Logf("%d reads, %d events", checked, events)
}

// TestOwnWriteEventBeforeReply: a client that watches a node and changes it
// itself gets the event before the reply to its write, as ZooKeeper
// delivers both from the same commit.
func TestOwnWriteEventBeforeReply(t *testing.T) {
	ts := startTestServer(t, nil)
	c := dialRaw(t, ts.addr, 10000)
	c.mustCall(wire.OpCreate, &wire.CreateRequest{Path: "/own", ACL: openACL()}, nil)
	for i := 0; i < 50; i++ {
		c.mustCall(wire.OpGetData, &wire.GetDataRequest{Path: "/own", Watch: true}, nil)
		c.stream = nil
		c.mustCall(wire.OpSetData, &wire.SetDataRequest{Path: "/own", Data: []byte{byte(i)}, Version: -1}, nil)
		if len(c.stream) != 2 || c.stream[0] != "event:NodeDataChanged:/own" {
			t.Fatalf("round %d: stream %q, want the event first", i, c.stream)
		}
	}
}
