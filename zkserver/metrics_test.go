package zkserver

import (
	"strings"
	"testing"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/wire"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCollectorCountsRequestsByOperation(t *testing.T) {
	s := &Server{metrics: newServerMetrics(), watches: newWatchRegistry(&replication.Watches{}), conns: map[*conn]struct{}{}}
	s.metrics.record(wire.OpGetData, tree.CodeOK, 0)
	s.metrics.record(wire.OpGetData, tree.CodeNoNode, 0)
	s.metrics.record(wire.OpCreate, tree.CodeOK, 0)
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	want := `
# HELP zkfs_client_request_errors_total Client-port replies with a non-zero error code, by operation and ZooKeeper code.
# TYPE zkfs_client_request_errors_total counter
zkfs_client_request_errors_total{code="-101",op="getData"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "zkfs_client_request_errors_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(s.metrics.latency); n != 2 {
		t.Errorf("latency series: got %d, want 2 (getData, create)", n)
	}
}
