package zkserver

import (
	"strconv"
	"time"

	"zkfs/tree"
	"zkfs/wire"

	"github.com/prometheus/client_golang/prometheus"
)

// serverMetrics holds the client port's request metrics. They are recorded
// as each reply is queued; gauges are read at scrape time.
type serverMetrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
	zk      zooKeeperMetrics
}

func newServerMetrics() *serverMetrics {
	return &serverMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zkfs_client_request_seconds",
			Help:    "Latency of client-port requests, from arrival to reply, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16), // 100 µs to ~3 s
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zkfs_client_request_errors_total",
			Help: "Client-port replies with a non-zero error code, by operation and ZooKeeper code.",
		}, []string{"op", "code"}),
		zk: newZooKeeperMetrics(),
	}
}

func (m *serverMetrics) record(op wire.OpCode, code int32, d time.Duration) {
	name := op.String()
	m.latency.WithLabelValues(name).Observe(d.Seconds())
	m.zk.observe(op, d)
	if code != tree.CodeOK {
		m.errors.WithLabelValues(name, strconv.Itoa(int(code))).Inc()
	}
}

var (
	descConnections = prometheus.NewDesc("zkfs_client_connections", "Open client connections.", nil, nil)
	descOutstanding = prometheus.NewDesc("zkfs_client_outstanding_requests", "Requests received and not yet answered.", nil, nil)
	descWatches     = prometheus.NewDesc("zkfs_watches", "Watches registered on this replica.", nil, nil)
	descWatchPaths  = prometheus.NewDesc("zkfs_watched_paths", "Distinct paths watched on this replica.", nil, nil)
	descPackets     = prometheus.NewDesc("zkfs_client_packets_total", "Packets received and sent on the client port.", []string{"direction"}, nil)
)

// Collector returns a Prometheus collector for the client port: request
// counts and latencies by operation, errors by code, connections, watches
// and packets.
func (s *Server) Collector() prometheus.Collector { return serverCollector{s} }

type serverCollector struct{ s *Server }

func (c serverCollector) Describe(ch chan<- *prometheus.Desc) {
	c.s.metrics.latency.Describe(ch)
	c.s.metrics.errors.Describe(ch)
	for _, d := range []*prometheus.Desc{descConnections, descOutstanding, descWatches, descWatchPaths, descPackets} {
		ch <- d
	}
}

func (c serverCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	s.metrics.latency.Collect(ch)
	s.metrics.errors.Collect(ch)
	gauge := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v)
	}
	gauge(descConnections, float64(s.connCount()))
	gauge(descOutstanding, float64(s.outstanding()))
	w := s.watches.summary()
	gauge(descWatches, float64(w.watches))
	gauge(descWatchPaths, float64(w.paths))
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(s.stats.received.Load()), "received")
	ch <- prometheus.MustNewConstMetric(descPackets, prometheus.CounterValue, float64(s.stats.sent.Load()), "sent")
}
