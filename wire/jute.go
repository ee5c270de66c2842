package wire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports a packet that is truncated, has a length field that
// lies, or is otherwise not what the protocol allows. ZooKeeper answers such
// requests with MarshallingError.
var ErrMalformed = errors.New("wire: malformed packet")

// Record is a jute record: it knows its own field order.
type Record interface {
	// Encode appends the record to e.
	Encode(e *Encoder)
	// Decode reads the record from d and returns d.Err().
	Decode(d *Decoder) error
}

// Decoder reads jute values from a byte slice. The first error sticks: later
// reads return zero values, so a record's Decode can read all its fields and
// check Err once at the end.
type Decoder struct {
	buf []byte
	err error
}

// NewDecoder returns a decoder over b. The decoder copies every buffer it
// returns, so b may be reused once decoding is done.
func NewDecoder(b []byte) *Decoder { return &Decoder{buf: b} }

// Err returns the first error met, nil if none.
func (d *Decoder) Err() error { return d.err }

// Remaining returns how many bytes are left unread.
func (d *Decoder) Remaining() int { return len(d.buf) }

// Fail records err (wrapped in ErrMalformed unless it already is one) as the
// decoder's error if there is none yet, and drops the remaining input. Record
// decoders use it for values that are well-formed jute but not allowed.
func (d *Decoder) Fail(err error) {
	if d.err != nil {
		return
	}
	if !errors.Is(err, ErrMalformed) {
		err = fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	d.err = err
	d.buf = nil
}

func (d *Decoder) failf(format string, args ...any) {
	d.Fail(fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...))
}

func (d *Decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n > len(d.buf) {
		d.failf("need %d bytes, %d left", n, len(d.buf))
		return nil
	}
	b := d.buf[:n:n]
	d.buf = d.buf[n:]
	return b
}

// Int reads a jute int: 4 bytes, big-endian.
func (d *Decoder) Int() int32 {
	b := d.take(4)
	if b == nil {
		return 0
	}
	return int32(binary.BigEndian.Uint32(b))
}

// Long reads a jute long: 8 bytes, big-endian.
func (d *Decoder) Long() int64 {
	b := d.take(8)
	if b == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(b))
}

// Bool reads a jute boolean: one byte, any non-zero value being true as in
// Java's DataInput.readBoolean.
func (d *Decoder) Bool() bool {
	b := d.take(1)
	return b != nil && b[0] != 0
}

// length reads a length prefix. It reports -1 as null and rejects any other
// negative value, and any count whose elements, at minSize bytes each, could
// not fit in what is left: the check that keeps a lying length from turning
// into an allocation.
func (d *Decoder) length(what string, minSize int) (n int, null bool) {
	l := d.Int()
	if d.err != nil {
		return 0, true
	}
	if l == -1 {
		return 0, true
	}
	if l < 0 {
		d.failf("negative %s length %d", what, l)
		return 0, true
	}
	if int64(l)*int64(minSize) > int64(len(d.buf)) {
		d.failf("%s length %d exceeds the %d bytes left", what, l, len(d.buf))
		return 0, true
	}
	return int(l), false
}

// Buffer reads a jute buffer. Length -1 is null and yields nil; length 0
// yields an empty, non-nil slice, because ZooKeeper tells null data from
// empty data. The result is a copy.
func (d *Decoder) Buffer() []byte {
	n, null := d.length("buffer", 1)
	if null {
		return nil
	}
	b := make([]byte, n)
	copy(b, d.take(n))
	return b
}

// String reads a jute ustring. Go has no null string, so -1 yields "".
// The bytes are not checked for UTF-8: Java would silently replace bad
// sequences, and paths are validated by the tree anyway.
func (d *Decoder) String() string {
	n, null := d.length("string", 1)
	if null {
		return ""
	}
	return string(d.take(n))
}

// Strings reads a vector of ustrings.
func (d *Decoder) Strings() []string {
	return DecodeVector(d, 4, (*Decoder).String)
}

// DecodeVector reads a jute vector whose elements each take at least minSize
// bytes on the wire. Length -1 (null) and 0 both yield nil: Go code does not
// tell a nil slice from an empty one, so neither does the decoder.
func DecodeVector[T any](d *Decoder, minSize int, elem func(*Decoder) T) []T {
	if minSize < 1 {
		minSize = 1
	}
	n, null := d.length("vector", minSize)
	if null || n == 0 {
		return nil
	}
	v := make([]T, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		v = append(v, elem(d))
	}
	if d.err != nil {
		return nil
	}
	return v
}

// Encoder appends jute values to a byte slice. Encoding cannot fail.
type Encoder struct {
	buf []byte
}

// NewEncoder returns an encoder that appends to dst.
func NewEncoder(dst []byte) *Encoder { return &Encoder{buf: dst} }

// Bytes returns the encoded bytes, including whatever dst held.
func (e *Encoder) Bytes() []byte { return e.buf }

// Int appends a jute int.
func (e *Encoder) Int(v int32) { e.buf = binary.BigEndian.AppendUint32(e.buf, uint32(v)) }

// Long appends a jute long.
func (e *Encoder) Long(v int64) { e.buf = binary.BigEndian.AppendUint64(e.buf, uint64(v)) }

// Bool appends a jute boolean as 0 or 1.
func (e *Encoder) Bool(v bool) {
	if v {
		e.buf = append(e.buf, 1)
	} else {
		e.buf = append(e.buf, 0)
	}
}

// Buffer appends a jute buffer; nil is written as null (-1), which is how
// ZooKeeper returns a node created without data.
func (e *Encoder) Buffer(b []byte) {
	if b == nil {
		e.Int(-1)
		return
	}
	e.Int(int32(len(b)))
	e.buf = append(e.buf, b...)
}

// String appends a jute ustring.
func (e *Encoder) String(s string) {
	e.Int(int32(len(s)))
	e.buf = append(e.buf, s...)
}

// Strings appends a vector of ustrings.
func (e *Encoder) Strings(v []string) { EncodeVector(e, v, (*Encoder).String) }

// EncodeVector appends a jute vector. A nil slice is written as an empty
// vector, never as null: Java clients dereference the lists they receive
// (an empty child list must not become a NullPointerException in zkCli).
func EncodeVector[T any](e *Encoder, v []T, elem func(*Encoder, T)) {
	e.Int(int32(len(v)))
	for _, x := range v {
		elem(e, x)
	}
}

// Unmarshal decodes r from b. Bytes after the record are ignored, as
// ZooKeeper ignores them.
func Unmarshal(b []byte, r Record) error {
	return r.Decode(NewDecoder(b))
}

// Marshal appends the encodings of recs to dst, unframed; nil records are
// skipped, like bodyless replies.
func Marshal(dst []byte, recs ...Record) []byte {
	e := NewEncoder(dst)
	for _, r := range recs {
		if r != nil {
			r.Encode(e)
		}
	}
	return e.Bytes()
}
