package zkserver

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"zkfs/wire"
)

// zooKeeperMetrics are the figures that ZooKeeper's Prometheus provider
// exports, under its names (no prefix, latencies in milliseconds), so that
// dashboards built for ZooKeeper show zkfs. The gauges are mntr's figures;
// the two summaries are ZooKeeper's request latencies.
type zooKeeperMetrics struct {
	readLatency, updateLatency prometheus.Summary
}

func newZooKeeperMetrics() zooKeeperMetrics {
	objectives := map[float64]float64{0.5: 0.05, 0.9: 0.01, 0.99: 0.001}
	return zooKeeperMetrics{
		readLatency: prometheus.NewSummary(prometheus.SummaryOpts{
			Name: "readlatency", Help: "Read request latency in milliseconds (ZooKeeper's name).", Objectives: objectives,
		}),
		updateLatency: prometheus.NewSummary(prometheus.SummaryOpts{
			Name: "updatelatency", Help: "Update request latency in milliseconds (ZooKeeper's name).", Objectives: objectives,
		}),
	}
}

// observe records a request's latency as ZooKeeper classes it: writes are
// updates; session plumbing (pings, auth, watches set on reconnection,
// close) is neither.
func (m zooKeeperMetrics) observe(op wire.OpCode, d time.Duration) {
	ms := float64(d) / float64(time.Millisecond)
	switch {
	case op.IsWrite():
		m.updateLatency.Observe(ms)
	case op == wire.OpPing, op == wire.OpAuth, op == wire.OpSetWatches, op == wire.OpSetWatches2, op == wire.OpCloseSession, op == wire.OpCreateSession:
	default:
		m.readLatency.Observe(ms)
	}
}

// zooKeeperGauges hold the description of each numeric mntr figure.
var zooKeeperGauges = map[string]*prometheus.Desc{}

func init() {
	for _, k := range []string{"ephemerals_count", "num_alive_connections", "avg_latency", "outstanding_requests",
		"znode_count", "global_sessions", "packets_sent", "packets_received", "watch_count", "min_latency",
		"max_file_descriptor_count", "open_file_descriptor_count", "local_sessions", "uptime", "max_latency"} {
		zooKeeperGauges[k] = prometheus.NewDesc(k, "mntr's "+k+" (ZooKeeper's name).", nil, nil)
	}
}

// ZooKeeperCollector returns a Prometheus collector for the figures
// ZooKeeper's Prometheus provider exports, under its names; Collector has
// zkfs's own.
func (s *Server) ZooKeeperCollector() prometheus.Collector { return zooKeeperCollector{s} }

type zooKeeperCollector struct{ s *Server }

func (c zooKeeperCollector) Describe(ch chan<- *prometheus.Desc) {
	m := c.s.metrics.zk
	m.readLatency.Describe(ch)
	m.updateLatency.Describe(ch)
	for _, d := range zooKeeperGauges {
		ch <- d
	}
}

func (c zooKeeperCollector) Collect(ch chan<- prometheus.Metric) {
	s, m := c.s, c.s.metrics.zk
	m.readLatency.Collect(ch)
	m.updateLatency.Collect(ch)
	for _, f := range s.monitorFields() {
		d, ok := zooKeeperGauges[f.key]
		if !ok {
			continue
		}
		var v float64
		switch x := f.value.(type) {
		case int:
			v = float64(x)
		case int64:
			v = float64(x)
		case uint64:
			v = float64(x)
		case javaDouble:
			v = x.ms()
		default:
			continue
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
}
