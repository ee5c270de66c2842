package storage

import (
	"encoding/binary"
	"fmt"
	"time"

	"zkfs/tree"

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
		dst = tree.AppendBytes(dst, l.Data)
	}
	if flags&logHasExtensions != 0 {
		dst = tree.AppendBytes(dst, l.Extensions)
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
	d := tree.NewDecoder(b, nil)
	version := d.Byte()
	if d.Err() == nil && version != logCodecVersion {
		return fmt.Errorf("%w: raft log entry of unknown version %d", ErrCorrupt, version)
	}
	flags := d.Byte()
	if flags&^(logHasData|logHasExtensions|logHasTime) != 0 {
		return fmt.Errorf("%w: raft log entry with unknown flags %#x", ErrCorrupt, flags)
	}
	var out raft.Log
	out.Index = d.Uvarint()
	out.Term = d.Uvarint()
	out.Type = raft.LogType(d.Byte())
	if flags&logHasData != 0 {
		out.Data = append([]byte{}, d.Take(d.Uvarint())...)
	}
	if flags&logHasExtensions != 0 {
		out.Extensions = append([]byte{}, d.Take(d.Uvarint())...)
	}
	if flags&logHasTime != 0 {
		sec := d.Varint()
		nsec := d.Uvarint()
		if nsec >= 1e9 {
			d.Fail("nanoseconds out of range")
		}
		out.AppendedAt = time.Unix(sec, int64(nsec))
	}
	if d.Err() == nil && len(d.Rest()) != 0 {
		d.Fail("trailing bytes")
	}
	if d.Err() != nil {
		return fmt.Errorf("%w: raft log entry: %v", ErrCorrupt, d.Err())
	}
	*l = out
	return nil
}
