package fusefs

import (
	"time"

	"github.com/hanwen/go-fuse/v2/fuse"
	"github.com/prometheus/client_golang/prometheus"
)

// opMetrics counts the mount's FUSE operations by type, with their
// latencies and the errno they failed with.
type opMetrics struct {
	latency *prometheus.HistogramVec
	errors  *prometheus.CounterVec
}

func newOpMetrics() *opMetrics {
	return &opMetrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zkfs_fuse_op_seconds",
			Help:    "Latency of FUSE operations on the mount, by operation.",
			Buckets: prometheus.ExponentialBuckets(0.00001, 2, 18), // 10 µs to ~1.3 s
		}, []string{"op"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zkfs_fuse_op_errors_total",
			Help: "FUSE operations that failed, by operation and errno.",
		}, []string{"op", "errno"}),
	}
}

func (m *opMetrics) done(op string, start time.Time, st fuse.Status) {
	m.latency.WithLabelValues(op).Observe(time.Since(start).Seconds())
	if st != fuse.OK {
		m.errors.WithLabelValues(op, st.String()).Inc()
	}
}

// Collector returns a Prometheus collector for the mount's operations.
func (m *Mount) Collector() prometheus.Collector { return mountCollector{m.metrics} }

type mountCollector struct{ m *opMetrics }

func (c mountCollector) Describe(ch chan<- *prometheus.Desc) {
	c.m.latency.Describe(ch)
	c.m.errors.Describe(ch)
}

func (c mountCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.latency.Collect(ch)
	c.m.errors.Collect(ch)
}

// countingFS measures the operations that reach the node file system. The
// rest pass through uncounted: they are rare (locks, ioctl) or internal.
type countingFS struct {
	fuse.RawFileSystem
	m *opMetrics
}

func (c countingFS) Lookup(cancel <-chan struct{}, h *fuse.InHeader, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Lookup(cancel, h, name, out)
	c.m.done("lookup", t, st)
	return st
}

func (c countingFS) GetAttr(cancel <-chan struct{}, in *fuse.GetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.GetAttr(cancel, in, out)
	c.m.done("getattr", t, st)
	return st
}

func (c countingFS) SetAttr(cancel <-chan struct{}, in *fuse.SetAttrIn, out *fuse.AttrOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.SetAttr(cancel, in, out)
	c.m.done("setattr", t, st)
	return st
}

func (c countingFS) Mkdir(cancel <-chan struct{}, in *fuse.MkdirIn, name string, out *fuse.EntryOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Mkdir(cancel, in, name, out)
	c.m.done("mkdir", t, st)
	return st
}

func (c countingFS) Unlink(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Unlink(cancel, h, name)
	c.m.done("unlink", t, st)
	return st
}

func (c countingFS) Rmdir(cancel <-chan struct{}, h *fuse.InHeader, name string) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Rmdir(cancel, h, name)
	c.m.done("rmdir", t, st)
	return st
}

func (c countingFS) Rename(cancel <-chan struct{}, in *fuse.RenameIn, oldName, newName string) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Rename(cancel, in, oldName, newName)
	c.m.done("rename", t, st)
	return st
}

func (c countingFS) GetXAttr(cancel <-chan struct{}, h *fuse.InHeader, attr string, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := c.RawFileSystem.GetXAttr(cancel, h, attr, dest)
	c.m.done("getxattr", t, st)
	return n, st
}

func (c countingFS) ListXAttr(cancel <-chan struct{}, h *fuse.InHeader, dest []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := c.RawFileSystem.ListXAttr(cancel, h, dest)
	c.m.done("listxattr", t, st)
	return n, st
}

func (c countingFS) SetXAttr(cancel <-chan struct{}, in *fuse.SetXAttrIn, attr string, data []byte) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.SetXAttr(cancel, in, attr, data)
	c.m.done("setxattr", t, st)
	return st
}

func (c countingFS) Create(cancel <-chan struct{}, in *fuse.CreateIn, name string, out *fuse.CreateOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Create(cancel, in, name, out)
	c.m.done("create", t, st)
	return st
}

func (c countingFS) Open(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Open(cancel, in, out)
	c.m.done("open", t, st)
	return st
}

func (c countingFS) Read(cancel <-chan struct{}, in *fuse.ReadIn, buf []byte) (fuse.ReadResult, fuse.Status) {
	t := time.Now()
	r, st := c.RawFileSystem.Read(cancel, in, buf)
	c.m.done("read", t, st)
	return r, st
}

func (c countingFS) Write(cancel <-chan struct{}, in *fuse.WriteIn, data []byte) (uint32, fuse.Status) {
	t := time.Now()
	n, st := c.RawFileSystem.Write(cancel, in, data)
	c.m.done("write", t, st)
	return n, st
}

func (c countingFS) Flush(cancel <-chan struct{}, in *fuse.FlushIn) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Flush(cancel, in)
	c.m.done("flush", t, st)
	return st
}

func (c countingFS) Fsync(cancel <-chan struct{}, in *fuse.FsyncIn) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.Fsync(cancel, in)
	c.m.done("fsync", t, st)
	return st
}

func (c countingFS) Release(cancel <-chan struct{}, in *fuse.ReleaseIn) {
	t := time.Now()
	c.RawFileSystem.Release(cancel, in)
	c.m.done("release", t, fuse.OK)
}

func (c countingFS) OpenDir(cancel <-chan struct{}, in *fuse.OpenIn, out *fuse.OpenOut) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.OpenDir(cancel, in, out)
	c.m.done("opendir", t, st)
	return st
}

func (c countingFS) ReadDir(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.ReadDir(cancel, in, out)
	c.m.done("readdir", t, st)
	return st
}

func (c countingFS) ReadDirPlus(cancel <-chan struct{}, in *fuse.ReadIn, out *fuse.DirEntryList) fuse.Status {
	t := time.Now()
	st := c.RawFileSystem.ReadDirPlus(cancel, in, out)
	c.m.done("readdirplus", t, st)
	return st
}
