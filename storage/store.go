// Package storage keeps a replica's durable state in one Pebble database:
// hashicorp/raft's log and stable store, and the znode tree the log has been
// applied to, with the index of the last applied entry. Keeping both in one
// database and one write-ahead log is what lets the tree be written without
// its own fsync (see CommitApplied).
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Options configures Open. The zero value is usable.
type Options struct {
	// FS is the filesystem; nil means the operating system's. Tests pass
	// vfs.NewMem() or vfs.NewCrashableMem().
	FS vfs.FS
	// CacheSize is the block cache size in bytes; 0 means 64 MiB.
	CacheSize int64
	// MemTableSize is the size of one memtable in bytes; 0 means 16 MiB.
	// Batches larger than half of it (a big Restore) skip the memtable and
	// are flushed as their own table.
	MemTableSize uint64
	// Logger receives Pebble's messages; nil means Pebble's default (stderr).
	Logger pebble.Logger
	// WatermarkInterval is how often the durable watermark is rewritten
	// (see watermark.go); 0 means one second.
	WatermarkInterval time.Duration
}

const (
	defaultCacheSize = 64 << 20
	// defaultMemTableSize is small because every write passes through
	// the memtable twice (the log entry, then the applied record), and
	// each new memtable's arena is fresh memory whose first touch costs a
	// page fault: at 64 MiB a replica never got past its first few
	// memtables in minutes of 1 KiB writes, and the faults were a quarter
	// of the CPU of the write path, half of it on the serial apply path.
	// Pebble reuses a flushed memtable's arena for the next one, so at
	// 16 MiB the faults stop after about 48 MiB written. Smaller tables
	// cost more in compactions than they save.
	defaultMemTableSize = 16 << 20
	// memTableStopWrites is how many memtables may queue for flushing
	// before writes stall: four of 16 MiB hold what two of 64 MiB did.
	memTableStopWrites = 4
)

// Store is one Pebble database holding a replica's Raft log, Raft's stable
// state and the applied znode tree. Its methods are safe for concurrent use.
type Store struct {
	db        *pebble.DB
	lock      *pebble.Lock
	bounds    logBounds
	marks     *watermarks
	closeOnce sync.Once
	closeErr  error
}

// Open opens or creates the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	fs := opts.FS
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("storage: create data directory %s: %w", dir, err)
	}
	// Take Pebble's directory lock ourselves so that a held lock can be told
	// apart from the many other ways Open can fail.
	lock, err := pebble.LockDirectory(dir, fs)
	if err != nil {
		if lockHeld(err) {
			return nil, fmt.Errorf("%w: %s: %v", ErrInUse, dir, err)
		}
		return nil, fmt.Errorf("storage: lock data directory %s: %w", dir, err)
	}
	// Pebble starts a new log at open; the one to blame for lost data is
	// the newest before it.
	wal := newestWAL(fs, dir)
	logger := opts.Logger
	if logger == nil {
		logger = pebble.DefaultLogger
	}
	corrupt := &corruption{logger: logger}
	// Until verify has read everything, a damaged file is an error Open
	// returns, whichever reader (a compaction, say) finds it first.
	corrupt.verifying.Store(true)
	popts := &pebble.Options{
		FS:                          fs,
		Lock:                        lock,
		CacheSize:                   opts.CacheSize,
		MemTableSize:                opts.MemTableSize,
		MemTableStopWritesThreshold: memTableStopWrites,
		FormatMajorVersion:          pebble.FormatNewest,
		Logger:                      opts.Logger,
		EventListener:               &pebble.EventListener{DataCorruption: corrupt.report},
	}
	if popts.CacheSize == 0 {
		popts.CacheSize = defaultCacheSize
	}
	if popts.MemTableSize == 0 {
		popts.MemTableSize = defaultMemTableSize
	}
	db, err := pebble.Open(dir, popts)
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("storage: open %s: %w; if a file there is damaged, move the data directory away and let the replica rejoin from its peers", dir, err)
	}
	interval := opts.WatermarkInterval
	if interval <= 0 {
		interval = time.Second
	}
	s := &Store{db: db, lock: lock, marks: &watermarks{fs: fs, dir: dir, interval: interval, wal: wal}}
	err = s.verify(corrupt)
	if err == nil {
		err = s.checkLayout()
	}
	if err == nil {
		err = s.loadLogBounds()
	}
	if err == nil {
		var applied uint64
		if applied, err = s.AppliedIndex(); err == nil {
			err = s.marks.check(s.bounds.last, applied)
		}
	}
	if err != nil {
		s.db.Close()
		s.lock.Close()
		return nil, fmt.Errorf("storage: open %s: %w; move the data directory away and let the replica rejoin from its peers", dir, err)
	}
	s.marks.stop, s.marks.done = make(chan struct{}), make(chan struct{})
	go s.marks.run()
	return s, nil
}

// lockHeld tells whether a LockDirectory error means that someone else holds
// the lock. fcntl reports a conflicting lock as EAGAIN or EACCES; Pebble
// reports a lock this process already holds with a plain error; a failure to
// create the lock file comes wrapped in a PathError and is something else.
func lockHeld(err error) bool {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return false
	}
	return errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EACCES) ||
		errors.Is(err, syscall.EWOULDBLOCK) || err.Error() == "lock held by current process"
}

// checkLayout records the layout version in a new database and refuses a
// database whose version this build does not know. A database with data but
// no version did not come from this package.
func (s *Store) checkLayout() error {
	v, ok, err := s.getMeta(metaLayoutKey)
	if err != nil {
		return err
	}
	if ok {
		if len(v) != 4 {
			return fmt.Errorf("%w: layout version record of %d bytes", ErrLayoutVersion, len(v))
		}
		if got := binary.BigEndian.Uint32(v); got != layoutVersion {
			return fmt.Errorf("%w: the data directory has layout version %d, this build understands only %d",
				ErrLayoutVersion, got, layoutVersion)
		}
		return nil
	}
	empty, err := s.isEmpty()
	if err != nil {
		return err
	}
	if !empty {
		return fmt.Errorf("%w: the data directory holds data but no layout version", ErrLayoutVersion)
	}
	var buf [4]byte
	binary.BigEndian.PutUint32(buf[:], layoutVersion)
	return s.db.Set(metaLayoutKey, buf[:], pebble.Sync)
}

func (s *Store) isEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	empty := !it.First()
	return empty, it.Close()
}

// getMeta reads a meta value, copied out of Pebble's buffer.
func (s *Store) getMeta(key []byte) ([]byte, bool, error) {
	return getCopy(s.db, key)
}

// reader is what getCopy needs; both *pebble.DB and *pebble.Snapshot have it.
type reader interface {
	Get(key []byte) ([]byte, io.Closer, error)
}

// getCopy returns a copy of the value at key: Pebble's buffer is only valid
// until the closer is closed.
func getCopy(r reader, key []byte) ([]byte, bool, error) {
	v, closer, err := r.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte{}, v...)
	return out, true, closer.Close()
}

// Close closes the database and releases the directory. Every Snapshot must
// be closed first. Calling it again returns the first call's result, so that
// a shutdown path and a deferred cleanup can both close.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		close(s.marks.stop)
		<-s.marks.done
		// Everything synced so far is durable; say so for the next open.
		markErr := s.marks.flush()
		s.closeErr = s.db.Close()
		if s.closeErr == nil {
			s.closeErr = markErr
		}
		if err := s.lock.Close(); s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}
