package replication

import (
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"

	"zkfs/tree"
)

// CommandType is the one-byte tag that starts every command in the Raft log.
// Tags are never reused: a replica that meets a tag it does not know stops,
// because skipping an entry would make its tree diverge from its peers'.
type CommandType uint8

// The command types. Append new ones at the end.
const (
	CmdCreate        CommandType = 1
	CmdDelete        CommandType = 2
	CmdSetData       CommandType = 3
	CmdSetACL        CommandType = 4
	CmdCheck         CommandType = 5
	CmdMulti         CommandType = 6
	CmdCreateSession CommandType = 7
	CmdCloseSession  CommandType = 8
	CmdReap          CommandType = 9
	CmdSetKind       CommandType = 10
	CmdClaimSession  CommandType = 11
)

// The payload versions. Version 2 adds the sending connection's owner
// token after the session; a command without one is still written as
// version 1, so that its bytes have not changed. Decoders accept every
// version they know; a newer one stops the replica.
const (
	commandVersion1 = 1
	commandVersion2 = 2
)

// Command is one entry of the Raft log: an operation and the header fields
// that the leader fills in. The zxid is not encoded: it is the log index.
type Command struct {
	Time    int64
	Session int64
	// Owner is the client connection that sent the command (its
	// server's token), 0 for the server's own; the tree refuses the
	// writes of a connection that no longer owns its session.
	Owner    int64
	Identity tree.Identity
	Op       tree.Op
}

// Errors from decoding commands.
var (
	// ErrUnknownCommand reports a type tag this build does not know.
	ErrUnknownCommand = errors.New("replication: unknown command type")
	// ErrBadCommand reports a payload that does not decode.
	ErrBadCommand = errors.New("replication: malformed command")
)

// maxMultiDepth bounds nesting while decoding; ZooKeeper's multi holds no
// nested multi, so one level is all a valid command has.
const maxMultiDepth = 1

// EncodeCommand returns the deterministic encoding of c.
func EncodeCommand(c Command) ([]byte, error) {
	t, err := typeOf(c.Op)
	if err != nil {
		return nil, err
	}
	ver := byte(commandVersion1)
	if c.Owner != 0 {
		ver = commandVersion2
	}
	b := []byte{byte(t), ver}
	b = binary.AppendVarint(b, c.Time)
	b = binary.AppendVarint(b, c.Session)
	if c.Owner != 0 {
		b = binary.AppendVarint(b, c.Owner)
	}
	b = appendBool(b, c.Identity.Super)
	b = binary.AppendUvarint(b, uint64(len(c.Identity.IDs)))
	for _, id := range c.Identity.IDs {
		b = tree.AppendString(b, id.Scheme)
		b = tree.AppendString(b, id.ID)
	}
	return appendOp(b, c.Op, 0)
}

// DecodeCommand decodes what EncodeCommand wrote.
func DecodeCommand(data []byte) (Command, error) {
	d := tree.NewDecoder(data, ErrBadCommand)
	t := CommandType(d.Byte())
	ver := d.Byte()
	if d.Err() != nil {
		return Command{}, d.Err()
	}
	if _, ok := opCodecs[t]; !ok {
		return Command{}, fmt.Errorf("%w %d", ErrUnknownCommand, t)
	}
	if ver != commandVersion1 && ver != commandVersion2 {
		return Command{}, fmt.Errorf("%w: command %d has payload version %d", ErrUnknownCommand, t, ver)
	}
	var c Command
	c.Time = d.Varint()
	c.Session = d.Varint()
	if ver == commandVersion2 {
		c.Owner = d.Varint()
	}
	c.Identity.Super = d.Bool()
	n := d.Count(2)
	for i := 0; i < n && d.Err() == nil; i++ {
		c.Identity.IDs = append(c.Identity.IDs, tree.ID{Scheme: d.Str(), ID: d.Str()})
	}
	c.Op = decodeOp(&d, t, 0)
	if d.Err() == nil && len(d.Rest()) != 0 {
		d.FailWith(fmt.Errorf("%w: %d trailing bytes", ErrBadCommand, len(d.Rest())))
	}
	if d.Err() != nil {
		return Command{}, d.Err()
	}
	return c, nil
}

// opCodec encodes and decodes the payload of one command type.
type opCodec struct {
	op     tree.Op // the operation type the command carries (a zero value)
	encode func(b []byte, op tree.Op, depth int) ([]byte, error)
	decode func(d *tree.Decoder, depth int) tree.Op
}

// opCodecs is the table of command payloads, one entry per type: adding a
// command is adding an entry (and a CommandType).
var opCodecs map[CommandType]opCodec

// commandTypes maps an operation's type to its command type; init derives
// it from opCodecs.
var commandTypes = map[reflect.Type]CommandType{}

func init() {
	opCodecs = map[CommandType]opCodec{
		CmdCreate: {
			op: tree.Create{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.Create)
				b = tree.AppendString(b, o.Path)
				b = tree.AppendNullable(b, o.Data)
				b = tree.AppendACL(b, o.ACL)
				b = binary.AppendVarint(b, int64(o.Mode))
				b = binary.AppendVarint(b, o.TTL)
				return append(b, byte(o.Kind)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.Create{Path: d.Str(), Data: d.Nullable(), ACL: d.ACL(),
					Mode: tree.Mode(d.Int32()), TTL: d.Varint(), Kind: tree.Kind(d.Byte())}
			},
		},
		CmdDelete: {
			op: tree.Delete{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.Delete)
				return binary.AppendVarint(tree.AppendString(b, o.Path), int64(o.Version)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.Delete{Path: d.Str(), Version: d.Int32()}
			},
		},
		CmdSetData: {
			op: tree.SetData{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.SetData)
				b = tree.AppendNullable(tree.AppendString(b, o.Path), o.Data)
				return binary.AppendVarint(b, int64(o.Version)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.SetData{Path: d.Str(), Data: d.Nullable(), Version: d.Int32()}
			},
		},
		CmdSetACL: {
			op: tree.SetACL{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.SetACL)
				b = tree.AppendACL(tree.AppendString(b, o.Path), o.ACL)
				return binary.AppendVarint(b, int64(o.Version)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.SetACL{Path: d.Str(), ACL: d.ACL(), Version: d.Int32()}
			},
		},
		CmdCheck: {
			op: tree.Check{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.Check)
				return binary.AppendVarint(tree.AppendString(b, o.Path), int64(o.Version)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.Check{Path: d.Str(), Version: d.Int32()}
			},
		},
		CmdMulti: {
			op: tree.Multi{},
			encode: func(b []byte, op tree.Op, depth int) ([]byte, error) {
				o := op.(tree.Multi)
				if depth >= maxMultiDepth {
					return nil, fmt.Errorf("%w: nested multi", ErrBadCommand)
				}
				b = binary.AppendUvarint(b, uint64(len(o.Ops)))
				for _, sub := range o.Ops {
					t, err := typeOf(sub)
					if err != nil {
						return nil, err
					}
					b = append(b, byte(t))
					if b, err = appendOp(b, sub, depth+1); err != nil {
						return nil, err
					}
				}
				return b, nil
			},
			decode: func(d *tree.Decoder, depth int) tree.Op {
				if depth >= maxMultiDepth {
					d.Fail("nested multi")
					return nil
				}
				n := d.Count(2)
				m := tree.Multi{Ops: make([]tree.Op, 0, n)}
				for i := 0; i < n && d.Err() == nil; i++ {
					t := CommandType(d.Byte())
					if _, ok := opCodecs[t]; !ok && d.Err() == nil {
						d.FailWith(fmt.Errorf("%w %d inside a multi", ErrUnknownCommand, t))
					}
					if d.Err() != nil {
						break
					}
					m.Ops = append(m.Ops, decodeOp(d, t, depth+1))
				}
				return m
			},
		},
		CmdCreateSession: {
			op: tree.CreateSession{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.CreateSession)
				b = binary.AppendVarint(b, o.ID)
				b = binary.AppendVarint(b, int64(o.Timeout))
				return tree.AppendNullable(b, o.Password), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.CreateSession{ID: d.Varint(), Timeout: d.Int32(), Password: d.Nullable()}
			},
		},
		CmdCloseSession: {
			op: tree.CloseSession{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				return binary.AppendVarint(b, op.(tree.CloseSession).ID), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.CloseSession{ID: d.Varint()}
			},
		},
		CmdClaimSession: {
			op: tree.ClaimSession{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.ClaimSession)
				return binary.AppendVarint(binary.AppendVarint(b, o.ID), o.Owner), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.ClaimSession{ID: d.Varint(), Owner: d.Varint()}
			},
		},
		CmdReap: {
			op: tree.Reap{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				return tree.AppendString(b, op.(tree.Reap).Path), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.Reap{Path: d.Str()}
			},
		},
		CmdSetKind: {
			op: tree.SetKind{},
			encode: func(b []byte, op tree.Op, _ int) ([]byte, error) {
				o := op.(tree.SetKind)
				return append(tree.AppendString(b, o.Path), byte(o.Kind)), nil
			},
			decode: func(d *tree.Decoder, _ int) tree.Op {
				return tree.SetKind{Path: d.Str(), Kind: tree.Kind(d.Byte())}
			},
		},
	}
	for t, c := range opCodecs {
		commandTypes[reflect.TypeOf(c.op)] = t
	}
}

func typeOf(op tree.Op) (CommandType, error) {
	if t, ok := commandTypes[reflect.TypeOf(op)]; ok {
		return t, nil
	}
	return 0, fmt.Errorf("%w: no command for %T", ErrBadCommand, op)
}

func appendOp(b []byte, op tree.Op, depth int) ([]byte, error) {
	t, err := typeOf(op)
	if err != nil {
		return nil, err
	}
	return opCodecs[t].encode(b, op, depth)
}

func decodeOp(d *tree.Decoder, t CommandType, depth int) tree.Op {
	op := opCodecs[t].decode(d, depth)
	if d.Err() != nil {
		return nil
	}
	return op
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}
