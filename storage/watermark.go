package storage

import (
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Pebble recovers its write-ahead log up to the first record it cannot
// read, and takes a damaged tail of the newest log for a write torn by a
// crash. A log cut short, or garbage in it, therefore opens without an
// error, silently missing acknowledged entries, Raft's term and vote, or
// even everything. Raft must not run on such a store: its peers counted
// the lost entries and votes.
//
// The watermark file says how far the store was known to be durable: the
// last log index and the applied index as of a synced write. It is
// rewritten at most once per interval, off the write path, so it lags a
// little; Open refuses a store that comes back below it.

const (
	watermarkName    = "ZKFS-DURABLE"
	watermarkVersion = 1
)

// watermark is how far the store was durable.
type watermark struct {
	last    uint64 // the last Raft log index, or the last index kept by a truncation
	applied uint64 // the applied index
}

// watermarks tracks what the file says and what it could say now.
type watermarks struct {
	fs       vfs.FS
	dir      string
	interval time.Duration
	wal      string // the newest write-ahead log before Open

	// committed is the applied index of the last CommitApplied that
	// returned; a synced write started after it makes it durable.
	committedMu sync.Mutex
	committed   uint64

	mu      sync.Mutex // held while writing the file
	cand    watermark  // durable now
	written watermark  // what the file says
	stop    chan struct{}
	done    chan struct{}
}

func (w *watermarks) path() string { return w.fs.PathJoin(w.dir, watermarkName) }

// readWatermark reads the file; ok is false when there is none.
func readWatermark(fs vfs.FS, path string) (wm watermark, ok bool, err error) {
	f, err := fs.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return wm, false, nil
		}
		return wm, false, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return wm, false, err
	}
	var version int
	var sum uint32
	body, _, _ := strings.Cut(string(b), " crc=")
	n, err := fmt.Sscanf(string(b), "zkfs-durable v%d last=%d applied=%d crc=%08x\n", &version, &wm.last, &wm.applied, &sum)
	if err != nil || n != 4 || version != watermarkVersion || crc32.ChecksumIEEE([]byte(body)) != sum {
		return wm, false, fmt.Errorf("%w: %s holds %q, not a watermark", ErrCorrupt, path, b)
	}
	return wm, true, nil
}

// writeLocked replaces the file with wm, durably; w.mu is held.
func (w *watermarks) writeLocked(wm watermark) error {
	if wm == w.written {
		return nil
	}
	body := fmt.Sprintf("zkfs-durable v%d last=%d applied=%d", watermarkVersion, wm.last, wm.applied)
	content := fmt.Sprintf("%s crc=%08x\n", body, crc32.ChecksumIEEE([]byte(body)))
	tmp := w.path() + ".tmp"
	f, err := w.fs.Create(tmp, vfs.WriteCategoryUnspecified)
	if err != nil {
		return err
	}
	if _, err := f.Write([]byte(content)); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := w.fs.Rename(tmp, w.path()); err != nil {
		return err
	}
	d, err := w.fs.OpenDir(w.dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		w.written = wm
	}
	return err
}

// committedNow returns the applied index that a synced write starting now
// makes durable.
func (w *watermarks) committedNow() uint64 {
	w.committedMu.Lock()
	defer w.committedMu.Unlock()
	return w.committed
}

func (w *watermarks) setCommitted(index uint64) {
	w.committedMu.Lock()
	w.committed = max(w.committed, index)
	w.committedMu.Unlock()
}

// synced records a synced write: applied is what committedNow said before
// it, last the highest log index it appended (0 for none).
func (w *watermarks) synced(applied, last uint64) {
	w.mu.Lock()
	w.cand.applied = max(w.cand.applied, applied)
	w.cand.last = max(w.cand.last, last)
	w.mu.Unlock()
}

// truncating lowers the watermark, durably, before a deletion takes the
// log's last index below it.
func (w *watermarks) truncating(keepTo uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cand.last = min(w.cand.last, keepTo)
	if w.written.last <= keepTo {
		return nil
	}
	lower := w.written
	lower.last = keepTo
	lower.applied = min(lower.applied, w.cand.applied)
	return w.writeLocked(lower)
}

// restoring sets the applied index to that of a snapshot about to replace
// the state, durably when that lowers the file's.
func (w *watermarks) restoring(applied uint64) error {
	w.committedMu.Lock()
	w.committed = applied
	w.committedMu.Unlock()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cand.applied = applied
	if w.written.applied <= applied {
		return nil
	}
	lower := w.written
	lower.applied = applied
	return w.writeLocked(lower)
}

// flush writes the candidate if it moved.
func (w *watermarks) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(w.cand)
}

// run rewrites the file every interval until stopped; an error is left
// for the next tick or Close, since a watermark that lags is only less
// strict.
func (w *watermarks) run() {
	defer close(w.done)
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-w.stop:
			return
		case <-t.C:
			w.flush()
		}
	}
}

// check compares the reopened store with the file.
func (w *watermarks) check(last, applied uint64) error {
	wm, ok, err := readWatermark(w.fs, w.path())
	if err != nil || !ok {
		return err
	}
	w.written, w.cand = wm, wm
	w.committed = applied
	if applied >= wm.applied && max(last, applied) >= wm.last {
		return nil
	}
	return fmt.Errorf("%w: the store came back with log index %d and applied index %d, but %d and %d were on disk (%s); the write-ahead log %s is truncated or damaged",
		ErrCorrupt, last, applied, wm.last, wm.applied, w.path(), w.wal)
}

// newestWAL names the newest write-ahead log file, the one Pebble reads
// leniently.
func newestWAL(fs vfs.FS, dir string) string {
	names, err := fs.List(dir)
	if err != nil {
		return "(unknown)"
	}
	var logs []string
	for _, n := range names {
		if strings.HasSuffix(n, ".log") {
			logs = append(logs, n)
		}
	}
	if len(logs) == 0 {
		return "(none left)"
	}
	sort.Strings(logs)
	return fs.PathJoin(dir, logs[len(logs)-1])
}
