package wire

import "zkfs/tree"

// Stat, ACL and ID are the tree's own types: they are field for field
// ZooKeeper's, so the server passes them between the tree and the wire
// without conversion.
type (
	// Stat is ZooKeeper's Stat record.
	Stat = tree.Stat
	// ACL is ZooKeeper's ACL record.
	ACL = tree.ACL
	// ID is ZooKeeper's Id record.
	ID = tree.ID
)

// Encoded sizes, used to bound vector lengths before allocating.
const (
	statSize    = 8*4 + 4*3 + 8 + 4*2 + 8 // 68 bytes
	minACLSize  = 4 + 4 + 4               // perms and two empty strings
	minInfoSize = 4 + 4                   // two empty strings
)

// Stat appends a Stat record.
func (e *Encoder) Stat(s *Stat) {
	e.Long(s.Czxid)
	e.Long(s.Mzxid)
	e.Long(s.Ctime)
	e.Long(s.Mtime)
	e.Int(s.Version)
	e.Int(s.Cversion)
	e.Int(s.Aversion)
	e.Long(s.EphemeralOwner)
	e.Int(s.DataLength)
	e.Int(s.NumChildren)
	e.Long(s.Pzxid)
}

// Stat reads a Stat record.
func (d *Decoder) Stat() Stat {
	// Check the whole record up front so a truncated stat is all zeroes
	// rather than half filled.
	if d.err == nil && d.Remaining() < statSize {
		d.failf("stat needs %d bytes, %d left", statSize, d.Remaining())
	}
	if d.err != nil {
		return Stat{}
	}
	return Stat{
		Czxid:          d.Long(),
		Mzxid:          d.Long(),
		Ctime:          d.Long(),
		Mtime:          d.Long(),
		Version:        d.Int(),
		Cversion:       d.Int(),
		Aversion:       d.Int(),
		EphemeralOwner: d.Long(),
		DataLength:     d.Int(),
		NumChildren:    d.Int(),
		Pzxid:          d.Long(),
	}
}

// ID appends an Id record.
func (e *Encoder) ID(id ID) {
	e.String(id.Scheme)
	e.String(id.ID)
}

// ID reads an Id record.
func (d *Decoder) ID() ID {
	return ID{Scheme: d.String(), ID: d.String()}
}

// ACL appends an ACL record.
func (e *Encoder) ACL(a ACL) {
	e.Int(a.Perms)
	e.ID(a.ID)
}

// ACL reads an ACL record.
func (d *Decoder) ACL() ACL {
	return ACL{Perms: d.Int(), ID: d.ID()}
}

// ACLs appends a vector of ACL records.
func (e *Encoder) ACLs(v []ACL) { EncodeVector(e, v, (*Encoder).ACL) }

// ACLs reads a vector of ACL records.
func (d *Decoder) ACLs() []ACL { return DecodeVector(d, minACLSize, (*Decoder).ACL) }

// ClientInfo is one identity of a session, as whoAmI reports it.
type ClientInfo struct {
	AuthScheme string
	User       string
}

// Encode appends the record.
func (r *ClientInfo) Encode(e *Encoder) {
	e.String(r.AuthScheme)
	e.String(r.User)
}

// Decode reads the record.
func (r *ClientInfo) Decode(d *Decoder) error {
	r.AuthScheme = d.String()
	r.User = d.String()
	return d.Err()
}
