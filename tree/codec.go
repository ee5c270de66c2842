package tree

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// nodeEncodingV1 and sessionEncodingV1 are the first byte of a record's
// value, so that a later encoding can be told apart and read alongside.
const (
	nodeEncodingV1    = 1
	nodeEncodingV2    = 2 // data as len+1, so empty and none differ
	sessionEncodingV1 = 1
)

// ErrCorruptRecord reports a record value that does not decode. It is not a
// ZooKeeper error: only loading from storage returns it.
var ErrCorruptRecord = errors.New("tree: corrupt record")

// NodeRecord is the decoded form of a node record: the node's persisted stat
// as ZooKeeper's StatPersisted holds it, plus its data, ACL and kind.
type NodeRecord struct {
	Czxid, Mzxid, Pzxid int64
	Ctime, Mtime        int64
	Version, Aversion   int32
	// Cversion is the persisted cversion: the number of children ever
	// created. The stat reports 2*Cversion-NumChildren.
	Cversion int32
	// NumChildren is stored so that loading can detect lost records.
	NumChildren int32
	// EphemeralOwner is the raw owner: a session id, ContainerOwner, or
	// TTLOwner(ttl).
	EphemeralOwner int64
	Kind           Kind
	Data           []byte
	ACL            []ACL
}

// EncodeNode encodes a node record: the version byte, then zigzag varints
// (mzxid, pzxid and mtime as deltas from czxid and ctime, which they usually
// equal), the kind, the data and the ACL.
func EncodeNode(r NodeRecord) []byte {
	b := make([]byte, 0, 24+len(r.Data)+16*len(r.ACL))
	b = append(b, nodeEncodingV2)
	b = binary.AppendVarint(b, r.Czxid)
	b = binary.AppendVarint(b, r.Mzxid-r.Czxid)
	b = binary.AppendVarint(b, r.Pzxid-r.Czxid)
	b = binary.AppendVarint(b, r.Ctime)
	b = binary.AppendVarint(b, r.Mtime-r.Ctime)
	b = binary.AppendVarint(b, int64(r.Version))
	b = binary.AppendVarint(b, int64(r.Cversion))
	b = binary.AppendVarint(b, int64(r.Aversion))
	b = binary.AppendVarint(b, int64(r.NumChildren))
	b = binary.AppendVarint(b, r.EphemeralOwner)
	b = append(b, byte(r.Kind))
	b = appendNullable(b, r.Data)
	b = appendACL(b, r.ACL)
	return b
}

// DecodeNode decodes a value written by EncodeNode. The returned record does
// not alias value.
func DecodeNode(value []byte) (NodeRecord, error) {
	if len(value) > 0 && value[0] != nodeEncodingV1 && value[0] != nodeEncodingV2 {
		return NodeRecord{}, fmt.Errorf("%w: node encoding version %d", ErrCorruptRecord, value[0])
	}
	var r NodeRecord
	d := decoder{b: value}
	decodeNodeFields(&d, &r)
	n := d.uvarint()
	if n > uint64(len(value)) {
		d.err = true
	}
	if !d.err && n > 0 {
		r.ACL = make([]ACL, 0, n)
		for i := uint64(0); i < n && !d.err; i++ {
			perms := d.int32()
			scheme := string(d.bytes())
			id := string(d.bytes())
			r.ACL = append(r.ACL, ACL{Perms: perms, ID: ID{Scheme: scheme, ID: id}})
		}
	}
	if d.err || len(d.b) != 0 || r.Kind > KindDir || r.NumChildren < 0 {
		return NodeRecord{}, fmt.Errorf("%w: bad node value", ErrCorruptRecord)
	}
	return r, nil
}

// decodeNodeFields decodes everything of a node value up to its ACL, which
// is left in d: the loader looks the ACL's bytes up in the tree's ACL cache
// before decoding them, since nearly every node shares one of a few lists.
func decodeNodeFields(d *decoder, r *NodeRecord) {
	v := d.byte()
	if v != nodeEncodingV1 && v != nodeEncodingV2 {
		d.err = true
		return
	}
	r.Czxid = d.varint()
	r.Mzxid = r.Czxid + d.varint()
	r.Pzxid = r.Czxid + d.varint()
	r.Ctime = d.varint()
	r.Mtime = r.Ctime + d.varint()
	r.Version = d.int32()
	r.Cversion = d.int32()
	r.Aversion = d.int32()
	r.NumChildren = d.int32()
	r.EphemeralOwner = d.varint()
	r.Kind = Kind(d.byte())
	if v == nodeEncodingV1 {
		r.Data = d.bytes() // version 1 did not keep empty data apart from none
	} else {
		r.Data = d.nullable()
	}
}

// EncodeSession encodes a session record; the id is the record's key.
func EncodeSession(s Session) []byte {
	b := make([]byte, 0, 8+len(s.Password))
	b = append(b, sessionEncodingV1)
	b = binary.AppendVarint(b, int64(s.Timeout))
	return appendBytes(b, s.Password)
}

// DecodeSession decodes a value written by EncodeSession for session id.
func DecodeSession(id int64, value []byte) (Session, error) {
	d := decoder{b: value}
	if v := d.byte(); v != sessionEncodingV1 {
		return Session{}, fmt.Errorf("%w: session encoding version %d", ErrCorruptRecord, v)
	}
	s := Session{ID: id}
	s.Timeout = d.int32()
	s.Password = d.bytes()
	if d.err || len(d.b) != 0 {
		return Session{}, fmt.Errorf("%w: bad session value", ErrCorruptRecord)
	}
	return s, nil
}

// appendNullable writes len+1, with 0 for nil, so that empty data and no
// data stay apart.
func appendNullable(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func (d *decoder) nullable() []byte {
	n := d.uvarint()
	if d.err || n == 0 {
		return nil
	}
	n--
	if n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b)
	d.b = d.b[n:]
	return v
}

func appendBytes(b, v []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

// appendACL is also the key of the ACL cache, so equal lists encode equally.
func appendACL(b []byte, acl []ACL) []byte {
	b = binary.AppendUvarint(b, uint64(len(acl)))
	for _, a := range acl {
		b = binary.AppendVarint(b, int64(a.Perms))
		b = appendBytes(b, []byte(a.ID.Scheme))
		b = appendBytes(b, []byte(a.ID.ID))
	}
	return b
}

// decoder reads a value and remembers the first error, so that the
// decoding code reads as a straight list of fields.
type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) byte() byte {
	if d.err || len(d.b) == 0 {
		d.err = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) varint() int64 {
	if d.err {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) int32() int32 {
	v := d.varint()
	if int64(int32(v)) != v {
		d.err = true
	}
	return int32(v)
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if d.err || n > uint64(len(d.b)) {
		d.err = true
		return nil
	}
	if n == 0 {
		return nil
	}
	v := make([]byte, n)
	copy(v, d.b)
	d.b = d.b[n:]
	return v
}
