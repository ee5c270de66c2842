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
	sessionEncodingV2 = 2 // adds the owner (ClaimSession)
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
	b = AppendNullable(b, r.Data)
	b = AppendACL(b, r.ACL)
	return b
}

// DecodeNode decodes a value written by EncodeNode. The returned record does
// not alias value.
func DecodeNode(value []byte) (NodeRecord, error) {
	if len(value) > 0 && value[0] != nodeEncodingV1 && value[0] != nodeEncodingV2 {
		return NodeRecord{}, fmt.Errorf("%w: node encoding version %d", ErrCorruptRecord, value[0])
	}
	var r NodeRecord
	d := NewDecoder(value, nil)
	decodeNodeFields(&d, &r)
	r.ACL = d.ACL()
	if d.Err() != nil || len(d.Rest()) != 0 || r.Kind > KindDir || r.NumChildren < 0 {
		return NodeRecord{}, fmt.Errorf("%w: bad node value", ErrCorruptRecord)
	}
	return r, nil
}

// decodeNodeFields decodes everything of a node value up to its ACL, which
// is left in d: the loader looks the ACL's bytes up in the tree's ACL cache
// before decoding them, since nearly every node shares one of a few lists.
func decodeNodeFields(d *Decoder, r *NodeRecord) {
	v := d.Byte()
	if v != nodeEncodingV1 && v != nodeEncodingV2 {
		d.Fail("unknown node encoding")
		return
	}
	r.Czxid = d.Varint()
	r.Mzxid = r.Czxid + d.Varint()
	r.Pzxid = r.Czxid + d.Varint()
	r.Ctime = d.Varint()
	r.Mtime = r.Ctime + d.Varint()
	r.Version = d.Int32()
	r.Cversion = d.Int32()
	r.Aversion = d.Int32()
	r.NumChildren = d.Int32()
	r.EphemeralOwner = d.Varint()
	r.Kind = Kind(d.Byte())
	if v == nodeEncodingV1 {
		r.Data = d.Bytes() // version 1 did not keep empty data apart from none
	} else {
		r.Data = d.Nullable()
	}
}

// EncodeSession encodes a session record; the id is the record's key.
// A session no connection has claimed is written as version 1, which it
// was before owners existed, so that its bytes stay the same.
func EncodeSession(s Session) []byte {
	b := make([]byte, 0, 16+len(s.Password))
	if s.Owner == 0 {
		b = append(b, sessionEncodingV1)
	} else {
		b = append(b, sessionEncodingV2)
	}
	b = binary.AppendVarint(b, int64(s.Timeout))
	b = AppendBytes(b, s.Password)
	if s.Owner != 0 {
		b = binary.AppendVarint(b, s.Owner)
	}
	return b
}

// DecodeSession decodes a value written by EncodeSession for session id.
func DecodeSession(id int64, value []byte) (Session, error) {
	d := NewDecoder(value, nil)
	v := d.Byte()
	if v != sessionEncodingV1 && v != sessionEncodingV2 {
		return Session{}, fmt.Errorf("%w: session encoding version %d", ErrCorruptRecord, v)
	}
	s := Session{ID: id}
	s.Timeout = d.Int32()
	s.Password = d.Bytes()
	if v == sessionEncodingV2 {
		s.Owner = d.Varint()
	}
	if d.Err() != nil || len(d.Rest()) != 0 {
		return Session{}, fmt.Errorf("%w: bad session value", ErrCorruptRecord)
	}
	return s, nil
}
