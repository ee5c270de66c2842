package storage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"slices"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"zkfs/tree"
)

// snapMagic and the constants after it define the snapshot stream format.
// It names records by path and session id, not
// by database key, so that it outlives changes to keys.go:
//
//	header   magic "ZKFSSNAP", version uint32, applied index uint64
//	records  tag byte, then
//	           node:    uvarint path length, path, uvarint value length, value
//	           session: id int64, uvarint value length, value
//	trailer  tag byte (snapEnd), record count uint64, CRC-32C uint32
//
// Integers of fixed width are big-endian. The CRC covers every byte before
// it. Records come in the order of their database keys, nodes first, and
// Restore insists on it, which also rules out duplicates.
const (
	snapMagic   = "ZKFSSNAP"
	snapVersion = uint32(1)

	snapNode    byte = 1
	snapSession byte = 2
	snapEnd     byte = 0xff
)

// Limits that keep a damaged length field from making Restore allocate
// without bound; far above what the tree produces.
const (
	maxSnapPath  = 1 << 20
	maxSnapValue = 1 << 28
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot is a consistent, point-in-time view of the tree and its applied
// index. It pins Pebble's state, not a copy, so taking one is cheap and
// applies may continue while it is written out.
type Snapshot struct {
	snap    *pebble.Snapshot
	applied uint64
	once    sync.Once
}

// Snapshot captures the stored tree at the current applied index, which
// AppliedIndex reports: every CommitApplied is atomic, so the records and the
// index always agree. Raft labels a snapshot with its own last applied
// index, so take it where no apply is in flight (FSM.Snapshot runs on the
// apply goroutine). Close the snapshot before closing the Store.
func (s *Store) Snapshot() (*Snapshot, error) {
	snap := s.db.NewSnapshot()
	applied, err := readApplied(snap)
	if err != nil {
		snap.Close()
		return nil, err
	}
	return &Snapshot{snap: snap, applied: applied}, nil
}

// AppliedIndex returns the applied index the snapshot was taken at.
func (sn *Snapshot) AppliedIndex() uint64 { return sn.applied }

// Close releases the snapshot; Pebble can then drop the versions it pinned.
// Calling it again does nothing.
func (sn *Snapshot) Close() error {
	var err error
	sn.once.Do(func() { err = sn.snap.Close() })
	return err
}

// WriteTo streams the snapshot to w in a self-describing, versioned and
// checksummed format (see the comment on snapMagic in snapshot.go) and
// returns the number of bytes written. It may run on any goroutine, while
// the Store keeps applying.
func (sn *Snapshot) WriteTo(w io.Writer) (int64, error) {
	sw := &snapWriter{bw: bufio.NewWriterSize(w, 64<<10), crc: crc32.New(castagnoli)}
	var hdr [len(snapMagic) + 4 + 8]byte
	copy(hdr[:], snapMagic)
	binary.BigEndian.PutUint32(hdr[8:], snapVersion)
	binary.BigEndian.PutUint64(hdr[12:], sn.applied)
	sw.write(hdr[:])
	var count uint64
	var scratch []byte
	err := scanRecords(sn.snap, func(r tree.Record) error {
		scratch = scratch[:0]
		if r.Type == tree.RecordNode {
			scratch = append(scratch, snapNode)
			scratch = binary.AppendUvarint(scratch, uint64(len(r.Path)))
			scratch = append(scratch, r.Path...)
		} else {
			scratch = append(scratch, snapSession)
			scratch = binary.BigEndian.AppendUint64(scratch, uint64(r.Session))
		}
		scratch = binary.AppendUvarint(scratch, uint64(len(r.Value)))
		sw.write(scratch)
		sw.write(r.Value)
		count++
		return sw.err
	})
	if err != nil {
		return sw.n, fmt.Errorf("storage: write snapshot: %w", err)
	}
	var trailer [1 + 8]byte
	trailer[0] = snapEnd
	binary.BigEndian.PutUint64(trailer[1:], count)
	sw.write(trailer[:])
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], sw.crc.Sum32())
	sw.write(sum[:])
	if sw.err == nil {
		sw.err = sw.bw.Flush()
	}
	if sw.err != nil {
		return sw.n, fmt.Errorf("storage: write snapshot: %w", sw.err)
	}
	return sw.n, nil
}

// snapWriter checksums and counts what it writes. The first error sticks.
type snapWriter struct {
	bw  *bufio.Writer
	crc hash.Hash32
	n   int64
	err error
}

func (w *snapWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	w.crc.Write(p)
	// bufio.Writer counts bytes it accepted, not bytes that reached w; a
	// failed flush makes n an overestimate, which io.WriterTo permits only
	// together with the error we return.
	n, err := w.bw.Write(p)
	w.n += int64(n)
	w.err = err
}

// snapReader reads the snapshot format, checksumming what it consumes.
type snapReader struct {
	br  *bufio.Reader
	crc hash.Hash32
	buf []byte
	n   int64 // bytes consumed
}

// snapErr marks a read error as a bad snapshot, and reports an end of
// stream as what it is here: a truncation.
func snapErr(err error) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return fmt.Errorf("%w: %v", ErrBadSnapshot, err)
}

func (r *snapReader) full(p []byte) error {
	if _, err := io.ReadFull(r.br, p); err != nil {
		return snapErr(err)
	}
	r.crc.Write(p)
	r.n += int64(len(p))
	return nil
}

func (r *snapReader) byte() (byte, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		return 0, snapErr(err)
	}
	r.crc.Write([]byte{c})
	r.n++
	return c, nil
}

func (r *snapReader) uint64() (uint64, error) {
	var b [8]byte
	if err := r.full(b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint64(b[:]), nil
}

func (r *snapReader) uvarint() (uint64, error) {
	var b [binary.MaxVarintLen64]byte
	for i := range b {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		b[i] = c
		if c < 0x80 {
			v, n := binary.Uvarint(b[:i+1])
			if n <= 0 {
				break
			}
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: malformed length", ErrBadSnapshot)
}

// bytes reads a length-prefixed field into the reader's scratch buffer,
// which is only valid until the next call. The buffer grows as data
// arrives, so a damaged length runs into the end of a short stream instead
// of allocating its full size up front.
func (r *snapReader) bytes(limit uint64, what string) ([]byte, error) {
	n, err := r.uvarint()
	if err != nil {
		return nil, err
	}
	if n > limit {
		return nil, fmt.Errorf("%w: %s of %d bytes", ErrBadSnapshot, what, n)
	}
	r.buf = r.buf[:0]
	for uint64(len(r.buf)) < n {
		chunk := min(n-uint64(len(r.buf)), 1<<20)
		start := len(r.buf)
		r.buf = slices.Grow(r.buf, int(chunk))[:start+int(chunk)]
		if err := r.full(r.buf[start:]); err != nil {
			return nil, err
		}
	}
	return r.buf, nil
}
