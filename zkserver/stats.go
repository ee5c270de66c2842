package zkserver

import (
	"sync"
	"sync/atomic"
	"time"

	"zkfs/wire"
)

// serverStats are the counters srvr, stat, mntr and cons report.
type serverStats struct {
	received atomic.Int64
	sent     atomic.Int64
	latency  latencyStats
}

// latencyStats tracks request latency in milliseconds, as ZooKeeper's
// ServerStats does (min/avg/max since the last reset).
type latencyStats struct {
	mu    sync.Mutex
	count int64
	total time.Duration
	min   time.Duration
	max   time.Duration
}

func (l *latencyStats) record(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 || d < l.min {
		l.min = d
	}
	if d > l.max {
		l.max = d
	}
	l.count++
	l.total += d
}

// snapshot returns min, avg and max; all zero before the first request.
func (l *latencyStats) snapshot() (minD, avg, maxD time.Duration, count int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count == 0 {
		return 0, 0, 0, 0
	}
	return l.min, l.total / time.Duration(l.count), l.max, l.count
}

func (l *latencyStats) reset() {
	l.mu.Lock()
	l.count, l.total, l.min, l.max = 0, 0, 0, 0
	l.mu.Unlock()
}

// connStats are one connection's counters, for cons.
type connStats struct {
	established time.Time
	received    atomic.Int64
	sent        atomic.Int64
	latency     latencyStats

	mu       sync.Mutex
	lastXid  int32
	lastZxid int64
	lastOp   wire.OpCode
	lastLat  time.Duration
	lastResp time.Time
	hasLast  bool
}

// lastOp is what cons and the AdminServer's connections command say
// about a connection's latest request, read under one lock so that its
// figures belong to one request.
type lastOp struct {
	op            string // its abbreviation, or NA before the first
	cxid          int32
	zxid          int64
	respMillis    int64 // when it was answered, in Unix milliseconds; 0 before
	latency       time.Duration
	min, avg, max time.Duration // over the connection's life
}

func (s *connStats) last() lastOp {
	s.mu.Lock()
	l := lastOp{op: "NA", cxid: s.lastXid, zxid: s.lastZxid, latency: s.lastLat}
	if s.hasLast {
		l.op = s.lastOp.Abbrev()
	}
	resp := s.lastResp
	s.mu.Unlock()
	if !resp.IsZero() {
		l.respMillis = resp.UnixMilli()
	}
	l.min, l.avg, l.max, _ = s.latency.snapshot()
	return l
}

func (s *connStats) record(xid int32, zxid int64, op wire.OpCode, lat time.Duration) {
	s.latency.record(lat)
	s.mu.Lock()
	s.lastXid, s.lastZxid, s.lastOp, s.lastLat, s.lastResp, s.hasLast = xid, zxid, op, lat, time.Now(), true
	s.mu.Unlock()
}
