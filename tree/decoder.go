package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Decoder reads the varint-based encodings that zkfs writes itself: tree
// records, Raft commands, peer frames and Raft log entries. The first
// failure sticks and later reads return zero values, so that a decoding
// function reads as a straight list of fields and checks Err once. Each
// format keeps its own layout and version; only the reading is shared.
type Decoder struct {
	b    []byte
	what string // the first failure, until Err turns it into err
	err  error
	bad  error // what the failures' errors wrap; nil for none
}

// NewDecoder returns a decoder of b whose failures wrap bad (nil: they wrap
// nothing).
func NewDecoder(b []byte, bad error) Decoder {
	return Decoder{b: b, bad: bad}
}

// Err returns the first failure, nil if there was none.
func (d *Decoder) Err() error {
	if d.what != "" && d.err == nil {
		d.buildErr()
	}
	return d.err
}

// buildErr turns the failure's description into its error. The reading
// methods only note the description, which keeps them small enough to
// inline: loading a tree decodes millions of fields.
func (d *Decoder) buildErr() {
	if d.bad != nil {
		d.err = fmt.Errorf("%w: %s", d.bad, d.what)
	} else {
		d.err = errors.New(d.what)
	}
}

// failed reports whether a failure is recorded.
func (d *Decoder) failed() bool { return d.what != "" || d.err != nil }

// Fail records a failure described by what, unless one is recorded already.
func (d *Decoder) Fail(what string) {
	if !d.failed() {
		d.what = what
	}
}

// FailWith records err as the failure, unless one is recorded already.
func (d *Decoder) FailWith(err error) {
	if !d.failed() {
		d.err = err
	}
}

// Rest returns the bytes not read yet, without consuming them.
func (d *Decoder) Rest() []byte { return d.b }

// The reading methods below check failed() first, so they note their own
// failure directly.

// Byte reads one byte.
func (d *Decoder) Byte() byte {
	if d.failed() {
		return 0
	}
	if len(d.b) == 0 {
		d.what = "truncated"
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

// Bool reads a byte that must be 0 or 1.
func (d *Decoder) Bool() bool {
	switch d.Byte() {
	case 0:
		return false
	case 1:
		return true
	}
	d.Fail("bad bool")
	return false
}

// Varint reads a zigzag varint (encoding/binary's AppendVarint).
func (d *Decoder) Varint() int64 {
	if d.failed() {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.what = "bad varint"
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Uvarint reads an unsigned varint (encoding/binary's AppendUvarint).
func (d *Decoder) Uvarint() uint64 {
	if d.failed() {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.what = "bad uvarint"
		return 0
	}
	d.b = d.b[n:]
	return v
}

// Int32 reads a Varint that must fit in an int32.
func (d *Decoder) Int32() int32 {
	v := d.Varint()
	if int64(int32(v)) != v {
		// Only a value that was read can be out of range: nothing failed yet.
		d.what = "int32 out of range"
		return 0
	}
	return int32(v)
}

// Count reads an element count and checks it against the bytes left, each
// element taking at least minSize bytes, so that a lying count cannot make
// the caller allocate.
func (d *Decoder) Count(minSize int) int {
	n := d.Uvarint()
	if !d.failed() && n > uint64(len(d.b)/minSize) {
		d.what = "count exceeds payload"
		return 0
	}
	return int(n)
}

// Take reads n bytes. The result aliases the decoder's input, with its
// capacity cut to n.
func (d *Decoder) Take(n uint64) []byte {
	if d.failed() {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.what = "length exceeds payload"
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

// Str reads a Uvarint length and that many bytes as a string.
func (d *Decoder) Str() string { return string(d.Take(d.Uvarint())) }

// Bytes reads a Uvarint length and a copy of that many bytes; nil for none.
func (d *Decoder) Bytes() []byte {
	v := d.Take(d.Uvarint())
	if len(v) == 0 {
		return nil
	}
	return append([]byte(nil), v...)
}

// Nullable reads bytes written as length+1, with 0 for nil, so that empty
// and absent stay apart; the result is a copy.
func (d *Decoder) Nullable() []byte {
	n := d.Uvarint()
	if d.failed() || n == 0 {
		return nil
	}
	v := d.Take(n - 1)
	if d.failed() {
		return nil
	}
	return append([]byte{}, v...)
}

// AppendString appends s after its Uvarint length; Decoder.Str reads it.
func AppendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// AppendBytes appends v after its Uvarint length; Decoder.Bytes reads it.
func AppendBytes(b, v []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(v))), v...)
}

// AppendNullable appends v as its length+1 and its bytes, with 0 for nil,
// so that empty and absent data stay apart; Decoder.Nullable reads it.
func AppendNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	return append(binary.AppendUvarint(b, uint64(len(v))+1), v...)
}

// AppendACL appends an ACL list: a Uvarint count, then for each entry its
// permissions as a Varint and its scheme and id as strings. Tree records and
// Raft commands hold ACLs this way; Decoder.ACL reads it. Equal lists encode
// equally, so the encoding is also the key of the tree's ACL cache.
func AppendACL(b []byte, acl []ACL) []byte {
	b = binary.AppendUvarint(b, uint64(len(acl)))
	for _, a := range acl {
		b = binary.AppendVarint(b, int64(a.Perms))
		b = AppendString(b, a.ID.Scheme)
		b = AppendString(b, a.ID.ID)
	}
	return b
}

// ACL reads what AppendACL wrote; nil for an empty list.
func (d *Decoder) ACL() []ACL {
	n := d.Count(3) // an entry takes at least 3 bytes
	if d.failed() || n == 0 {
		return nil
	}
	acl := make([]ACL, 0, n)
	for i := 0; i < n && !d.failed(); i++ {
		acl = append(acl, ACL{Perms: d.Int32(), ID: ID{Scheme: d.Str(), ID: d.Str()}})
	}
	return acl
}
