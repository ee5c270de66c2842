package fusefs

import (
	"syscall"

	"zkfs/tree"
)

// startPending registers a file created without O_EXCL, whose znode the
// first flush creates. Lookups by other processes on this mount find it
// meanwhile.
func (m *Mount) startPending(path string, f *File, flags uint32, tid uint32) *handle {
	h := newHandle(f, true, flags&syscall.O_APPEND != 0, tid, nil, tree.Stat{})
	h.loaded = true
	h.create = true
	h.dirty = true
	h.pendingKey = path
	if flags&syscall.O_TRUNC != 0 {
		h.edits = []edit{{op: 't'}}
	}
	h.size.Store(0)
	f.mu.Lock()
	f.pending = h
	f.writers[h] = struct{}{}
	f.mu.Unlock()
	m.pendingMu.Lock()
	m.pending[path] = f
	m.pendingMu.Unlock()
	return h
}

func (m *Mount) pendingFile(path string) *File {
	m.pendingMu.Lock()
	defer m.pendingMu.Unlock()
	return m.pending[path]
}

func (m *Mount) dropPending(path string, f *File) {
	m.pendingMu.Lock()
	if m.pending[path] == f {
		delete(m.pending, path)
	}
	m.pendingMu.Unlock()
}

// cancelPending handles rm of a file whose create has not been flushed:
// the create must then never happen.
func (m *Mount) cancelPending(path string) bool {
	f := m.pendingFile(path)
	if f == nil {
		return false
	}
	h := f.pendingHandle()
	m.dropPending(path, f)
	if h == nil {
		return false
	}
	h.mu.Lock()
	created := !h.create
	h.discarded = !created
	h.mu.Unlock()
	f.removePending(h)
	return !created
}
