package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// JuteMaxBuffer is ZooKeeper 3.8's default jute.maxbuffer, 0xfffff bytes.
// Both ZooKeeper's server (NIOServerCnxn) and its Java client refuse a packet
// whose length prefix exceeds it. (The extra zookeeper.jute.maxbuffer.extrasize
// margin, which defaults to jute.maxbuffer itself and is at least 1024, only
// applies to lengths inside a record, never to the packet.)
const JuteMaxBuffer = 0xfffff

// DefaultMaxPacket is the packet limit zkfs uses when none is configured:
// 1 MiB, the tree's default data limit, plus 1024 bytes for the header, path
// and ACL around the data. It is slightly above JuteMaxBuffer on purpose, so
// that a write carrying just over the data limit reaches the tree and gets
// BadArguments rather than a dropped connection.
const DefaultMaxPacket = 1<<20 + 1024

// ErrPacketLength reports a length prefix that is negative or larger than the
// configured maximum. The connection cannot be resynchronised after one, so
// the caller should close it, as ZooKeeper does.
var ErrPacketLength = errors.New("wire: packet length out of range")

// readChunk bounds how much is allocated ahead of the bytes actually
// received, so a peer that announces a large packet and then stalls ties up
// little memory.
const readChunk = 64 << 10

// FrameReader reads length-prefixed packets from a stream.
type FrameReader struct {
	r   io.Reader
	max int
	hdr [4]byte
}

// NewFrameReader returns a reader of packets of at most max bytes (not
// counting the 4-byte prefix); max <= 0 means DefaultMaxPacket.
func NewFrameReader(r io.Reader, max int) *FrameReader {
	if max <= 0 {
		max = DefaultMaxPacket
	}
	return &FrameReader{r: r, max: max}
}

// Next reads one packet and returns its payload in a fresh slice that the
// caller may keep. It returns io.EOF at a clean end of stream,
// io.ErrUnexpectedEOF if the stream ends inside a packet, and an error
// wrapping ErrPacketLength for a bad length prefix, before reading further.
func (f *FrameReader) Next() ([]byte, error) {
	if _, err := io.ReadFull(f.r, f.hdr[:]); err != nil {
		return nil, err
	}
	n := int32(binary.BigEndian.Uint32(f.hdr[:]))
	if n < 0 || int64(n) > int64(f.max) {
		return nil, fmt.Errorf("%w: %d (max %d)", ErrPacketLength, n, f.max)
	}
	return ReadPayload(f.r, int(n))
}

// ReadFrame reads one packet of at most max bytes from r; see FrameReader.Next.
func ReadFrame(r io.Reader, max int) ([]byte, error) {
	return NewFrameReader(r, max).Next()
}

// ReadPayload reads the n bytes of a packet after its length prefix,
// growing the buffer as data arrives rather than trusting n up front. A
// server that peeks at the first 4 bytes (for four-letter words) reads the
// rest with it.
func ReadPayload(r io.Reader, n int) ([]byte, error) {
	buf := make([]byte, 0, min(n, readChunk))
	for len(buf) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(n-len(buf), len(buf)))
		}
		end := min(n, cap(buf))
		m, err := io.ReadFull(r, buf[len(buf):end])
		buf = buf[:len(buf)+m]
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	return buf, nil
}

// WriteFrame writes payload to w behind its 4-byte length prefix, in one
// Write call so that concurrent writers serialised by the caller never
// interleave halves of packets.
func WriteFrame(w io.Writer, payload []byte) error {
	b := make([]byte, 4, 4+len(payload))
	binary.BigEndian.PutUint32(b, uint32(len(payload)))
	_, err := w.Write(append(b, payload...))
	return err
}

// AppendFrame appends to dst one packet holding recs in order, length prefix
// included: a reply is AppendFrame(nil, &ReplyHeader{...}, &GetDataResponse{...}).
// A nil record is skipped, which suits replies that carry only a header.
func AppendFrame(dst []byte, recs ...Record) []byte {
	start := len(dst)
	e := NewEncoder(append(dst, 0, 0, 0, 0))
	for _, r := range recs {
		if r != nil {
			r.Encode(e)
		}
	}
	b := e.Bytes()
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start-4))
	return b
}
