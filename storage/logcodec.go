package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// The encoding of a raft.Log value (the key carries nothing but the index,
// which is repeated in the value so that a value can be checked against its
// key):
//
//	version   byte (logCodecVersion)
//	flags     byte (logHasData, logHasExtensions, logHasTime)
//	index     uvarint
//	term      uvarint
//	type      byte
//	data      uvarint length, bytes           (if logHasData)
//	ext       uvarint length, bytes           (if logHasExtensions)
//	appended  varint seconds, uvarint nanos   (if logHasTime)
//
// The flags keep nil and empty slices and the zero time apart, so that a
// stored entry reads back exactly as it was given.
const logCodecVersion byte = 1

const (
	logHasData byte = 1 << iota
	logHasExtensions
	logHasTime
)

// appendLog appends the encoding of l to dst.
func appendLog(dst []byte, l *raft.Log) []byte {
	var flags byte
	if l.Data != nil {
		flags |= logHasData
	}
	if l.Extensions != nil {
		flags |= logHasExtensions
	}
	if !l.AppendedAt.IsZero() {
		flags |= logHasTime
	}
	dst = append(dst, logCodecVersion, flags)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	dst = append(dst, byte(l.Type))
	if flags&logHasData != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
		dst = append(dst, l.Data...)
	}
	if flags&logHasExtensions != 0 {
		dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
		dst = append(dst, l.Extensions...)
	}
	if flags&logHasTime != 0 {
		dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
		dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	}
	return dst
}

// encodedLogSize bounds the size of l's encoding, to size batches up front.
func encodedLogSize(l *raft.Log) int {
	return 2 + 3*binary.MaxVarintLen64 + 1 + 2*binary.MaxVarintLen64 + len(l.Data) + len(l.Extensions) + binary.MaxVarintLen64
}

// decodeLog decodes b into l. The slices in l are fresh copies: b belongs to
// Pebble and is reused once its closer is closed.
func decodeLog(b []byte, l *raft.Log) error {
	d := decoder{b: b}
	version := d.byte()
	if d.err == nil && version != logCodecVersion {
		return fmt.Errorf("%w: raft log entry of unknown version %d", ErrCorrupt, version)
	}
	flags := d.byte()
	if flags&^(logHasData|logHasExtensions|logHasTime) != 0 {
		return fmt.Errorf("%w: raft log entry with unknown flags %#x", ErrCorrupt, flags)
	}
	var out raft.Log
	out.Index = d.uvarint()
	out.Term = d.uvarint()
	out.Type = raft.LogType(d.byte())
	if flags&logHasData != 0 {
		out.Data = d.bytesCopy()
	}
	if flags&logHasExtensions != 0 {
		out.Extensions = d.bytesCopy()
	}
	if flags&logHasTime != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		if nsec >= 1e9 {
			d.fail()
		}
		out.AppendedAt = time.Unix(sec, int64(nsec))
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("%w: raft log entry: %v", ErrCorrupt, d.err)
	}
	*l = out
	return nil
}

// decoder reads the varint-based encodings of this package. The first
// failure sticks, so callers check err once at the end.
type decoder struct {
	b   []byte
	err error
}

var errShort = fmt.Errorf("truncated or malformed value")

func (d *decoder) fail() {
	if d.err == nil {
		d.err = errShort
	}
	d.b = nil
}

func (d *decoder) byte() byte {
	if d.err != nil || len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytesCopy() []byte {
	n := d.uvarint()
	if d.err != nil || n > uint64(len(d.b)) {
		d.fail()
		return nil
	}
	out := make([]byte, n)
	copy(out, d.b[:n])
	d.b = d.b[n:]
	return out
}
