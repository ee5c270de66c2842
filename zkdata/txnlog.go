package zkdata

import (
	"encoding/binary"
	"fmt"
	"hash/adler32"

	"zkfs/tree"
	"zkfs/wire"
)

// ZooKeeper's opcodes of logged transactions (ZooDefs.OpCode).
const (
	opCreate          = 1
	opDelete          = 2
	opSetData         = 5
	opSetACL          = 7
	opCheck           = 13
	opMulti           = 14
	opCreate2         = 15
	opReconfig        = 16
	opCreateContainer = 19
	opDeleteContainer = 20
	opCreateTTL       = 21
	opError           = -1
	opCreateSession   = -10
	opCloseSession    = -11
)

// txn is one logged transaction: its TxnHeader and undecoded body.
type txn struct {
	session int64
	zxid    int64
	time    int64
	typ     int32
	body    []byte
}

// logFile is the transactions of one log file, in file order.
type logFile struct {
	txns []txn
	// torn tells that the file ended in a partly written record, as a
	// crash leaves the log being written.
	torn bool
}

// decodeLog decodes a transaction log file, as FileTxnLog writes it:
//
//	FileHeader  magic, version, dbid
//	records     Adler-32 of the entry (long), entry length (int), entry
//	            (TxnHeader, then the transaction), then 'B'
//
// The file is preallocated with zeros, so a record of length zero ends
// it. A record cut short by the end of the file (or missing its 'B') is
// the tail of a write that never completed: ZooKeeper stops reading the
// file there, and so does decodeLog. A checksum that does not match is
// corruption. ZooKeeper 3.6+ may append a digest to an entry; apply
// ignores what follows a transaction.
func decodeLog(b []byte) (logFile, error) {
	var lf logFile
	d := wire.NewDecoder(b)
	if magic := d.Int(); d.Err() == nil && magic != logMagic {
		return lf, fmt.Errorf("%w: not a transaction log (magic %#x)", ErrCorrupt, uint32(magic))
	}
	if v := d.Int(); d.Err() == nil && v != formatVersion {
		return lf, fmt.Errorf("%w: transaction log format version %d, not %d", ErrCorrupt, v, formatVersion)
	}
	d.Long()
	if err := d.Err(); err != nil {
		return lf, fmt.Errorf("%w: transaction log header: %v", ErrCorrupt, err)
	}
	rest := b[len(b)-d.Remaining():]
	for len(rest) >= 12 {
		sum := binary.BigEndian.Uint64(rest)
		n := int64(int32(binary.BigEndian.Uint32(rest[8:])))
		if n == 0 {
			break // preallocated zeros: the end of the log
		}
		if n < 0 {
			return lf, fmt.Errorf("%w: record %d has length %d", ErrCorrupt, len(lf.txns), n)
		}
		if 12+n >= int64(len(rest)) || rest[12+n] != 'B' {
			lf.torn = true
			break
		}
		entry := rest[12 : 12+n]
		if got := adler32.Checksum(entry); uint64(got) != sum {
			return lf, fmt.Errorf("%w: record %d: checksum %#x, computed %#x", ErrCorrupt, len(lf.txns), sum, got)
		}
		ed := wire.NewDecoder(entry)
		t := txn{session: ed.Long()}
		ed.Int() // cxid
		t.zxid, t.time, t.typ = ed.Long(), ed.Long(), ed.Int()
		if err := ed.Err(); err != nil {
			return lf, fmt.Errorf("%w: record %d: header: %v", ErrCorrupt, len(lf.txns), err)
		}
		t.body = entry[len(entry)-ed.Remaining():]
		lf.txns = append(lf.txns, t)
		rest = rest[12+n+1:]
	}
	if len(rest) > 0 && len(rest) < 12 && !allZero(rest) {
		lf.torn = true
	}
	return lf, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// apply applies one transaction as DataTree.processTxn does during a
// restart's replay: a transaction that fails against the tree (its effect
// is already in a fuzzy snapshot) changes nothing, except a create that
// finds its node, which still moves its parent's cversion forward.
func (t *Tree) apply(x txn) error {
	if x.typ == opMulti {
		d := wire.NewDecoder(x.body)
		type sub struct {
			typ  int32
			body []byte
		}
		subs := wire.DecodeVector(d, 8, func(d *wire.Decoder) sub { return sub{d.Int(), d.Buffer()} })
		if err := d.Err(); err != nil {
			return fmt.Errorf("%w: multi at zxid %#x: %v", ErrCorrupt, x.zxid, err)
		}
		// A failed multi is logged as one error per operation; it
		// changed nothing.
		for _, s := range subs {
			if s.typ == opError {
				return nil
			}
		}
		for _, s := range subs {
			if s.typ == opMulti || s.typ == opCreateSession || s.typ == opCloseSession {
				return fmt.Errorf("%w: multi at zxid %#x holds operation type %d", ErrCorrupt, x.zxid, s.typ)
			}
			if err := t.apply(txn{session: x.session, zxid: x.zxid, time: x.time, typ: s.typ, body: s.body}); err != nil {
				return err
			}
		}
		return nil
	}
	d := wire.NewDecoder(x.body)
	bad := func() error {
		return fmt.Errorf("%w: transaction of type %d at zxid %#x: %v", ErrCorrupt, x.typ, x.zxid, d.Err())
	}
	acls := func() []tree.ACL { return wire.DecodeVector(d, minACLSize, (*wire.Decoder).ACL) }
	switch x.typ {
	case opCreate, opCreate2, opCreateContainer, opCreateTTL:
		path, data, acl := d.String(), d.Buffer(), acls()
		var owner int64
		switch x.typ {
		case opCreateContainer:
			owner = tree.ContainerOwner
		case opCreateTTL:
			// parentCVersion comes before the TTL here.
		default:
			if d.Bool() {
				owner = x.session
			}
		}
		// A create of ZooKeeper 3.3 (CreateTxnV0) ends after the
		// ephemeral flag; ZooKeeper reads it as -1 then, and so does this.
		parentCversion := int32(-1)
		if x.typ != opCreate || d.Remaining() >= 4 {
			parentCversion = d.Int()
		}
		if x.typ == opCreateTTL {
			ttl := d.Long()
			if d.Err() == nil && (ttl <= 0 || ttl > tree.MaxTTL) {
				return fmt.Errorf("%w: TTL %d at zxid %#x", ErrCorrupt, ttl, x.zxid)
			}
			owner = tree.TTLOwner(ttl)
		}
		if d.Err() != nil {
			return bad()
		}
		err := t.createNode(path, data, acl, owner, parentCversion, x.zxid, x.time)
		if err == errNodeExists && x.typ == opCreate {
			if parent, _, ok := split(path); ok {
				t.setCversionPzxid(parent, parentCversion, x.zxid)
			}
		}
	case opDelete, opDeleteContainer:
		path := d.String()
		if d.Err() != nil {
			return bad()
		}
		t.deleteNode(path, x.zxid)
	case opSetData, opReconfig:
		path, data, version := d.String(), d.Buffer(), d.Int()
		if d.Err() != nil {
			return bad()
		}
		t.setData(path, data, version, x.zxid, x.time)
	case opSetACL:
		path, acl, version := d.String(), acls(), d.Int()
		if d.Err() != nil {
			return bad()
		}
		t.setACL(path, acl, version)
	case opCreateSession:
		timeout := d.Int()
		if d.Err() != nil {
			return bad()
		}
		t.Sessions[x.session] = timeout
	case opCloseSession:
		// 3.6+ lists the session's nodes; what follows may instead be a
		// digest, as when the list is disabled, and ZooKeeper then falls
		// back to its own record of the session's nodes, as does this.
		var paths []string
		if d.Remaining() > 0 {
			if paths = d.Strings(); d.Err() != nil {
				paths = nil
			}
		}
		t.killSession(x.session, paths, x.zxid)
	case opError, opCheck:
	default:
		return fmt.Errorf("%w: unknown transaction type %d at zxid %#x", ErrCorrupt, x.typ, x.zxid)
	}
	return nil
}
