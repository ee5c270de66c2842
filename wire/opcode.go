package wire

import "strconv"

// OpCode is a request type, numbered as in ZooKeeper's ZooDefs.OpCode.
type OpCode int32

// The operation codes of ZooKeeper 3.8. OpCreateSession, OpDeleteContainer and
// OpError only occur inside ZooKeeper servers; clients never send them.
const (
	OpNotification         OpCode = 0
	OpCreate               OpCode = 1
	OpDelete               OpCode = 2
	OpExists               OpCode = 3
	OpGetData              OpCode = 4
	OpSetData              OpCode = 5
	OpGetACL               OpCode = 6
	OpSetACL               OpCode = 7
	OpGetChildren          OpCode = 8
	OpSync                 OpCode = 9
	OpPing                 OpCode = 11
	OpGetChildren2         OpCode = 12
	OpCheck                OpCode = 13
	OpMulti                OpCode = 14
	OpCreate2              OpCode = 15
	OpReconfig             OpCode = 16
	OpCheckWatches         OpCode = 17
	OpRemoveWatches        OpCode = 18
	OpCreateContainer      OpCode = 19
	OpDeleteContainer      OpCode = 20
	OpCreateTTL            OpCode = 21
	OpMultiRead            OpCode = 22
	OpAuth                 OpCode = 100
	OpSetWatches           OpCode = 101
	OpSASL                 OpCode = 102
	OpGetEphemerals        OpCode = 103
	OpGetAllChildrenNumber OpCode = 104
	OpSetWatches2          OpCode = 105
	OpAddWatch             OpCode = 106
	OpWhoAmI               OpCode = 107
	OpCreateSession        OpCode = -10
	OpCloseSession         OpCode = -11
	// OpError marks a failed operation inside a multi response.
	OpError OpCode = -1
)

// opInfo is what the protocol says about one opcode.
type opInfo struct {
	name string // ZooKeeper's name, as logs and four-letter words show it
	// abbrev is the short name FinalRequestProcessor gives the operation
	// in the output of cons; "" reads "NA".
	abbrev string
	// request makes the body of the request, nil for the opcodes that
	// clients never send. Opcodes that share a body (create, create2,
	// createContainer) share a type; the server tells them apart by the
	// opcode.
	request func() Record
	// response makes the body of a successful reply, nil when the reply
	// is the header alone. Replies with a non-zero error code never have
	// a body.
	response func() Record
	// write marks the requests that change the tree or the ensemble,
	// which a read-only server refuses.
	write bool
	// multi is the kind of multi the operation may go in, if any.
	multi multiKind
}

// multiKind tells the two kinds of multi apart: ZooKeeper refuses to mix
// reads and writes in one.
type multiKind uint8

const (
	notInMulti multiKind = iota
	multiWrite           // multi: all or nothing
	multiRead            // multiRead: each on its own
)

// newBody returns a new, empty record of type T.
func newBody[T any, P interface {
	*T
	Record
}]() Record {
	return P(new(T))
}

// ops is the one table of opcodes: adding a request to the protocol is
// adding its entry (and its records).
var ops = map[OpCode]opInfo{
	OpNotification: {name: "notification"},
	OpCreate:       {name: "create", abbrev: "CREA", request: newBody[CreateRequest], response: newBody[CreateResponse], write: true, multi: multiWrite},
	OpDelete:       {name: "delete", abbrev: "DELE", request: newBody[DeleteRequest], write: true, multi: multiWrite},
	OpExists:       {name: "exists", abbrev: "EXIS", request: newBody[ExistsRequest], response: newBody[ExistsResponse]},
	OpGetData:      {name: "getData", abbrev: "GETD", request: newBody[GetDataRequest], response: newBody[GetDataResponse], multi: multiRead},
	OpSetData:      {name: "setData", abbrev: "SETD", request: newBody[SetDataRequest], response: newBody[SetDataResponse], write: true, multi: multiWrite},
	OpGetACL:       {name: "getACL", abbrev: "GETA", request: newBody[GetACLRequest], response: newBody[GetACLResponse]},
	OpSetACL:       {name: "setACL", abbrev: "SETA", request: newBody[SetACLRequest], response: newBody[SetACLResponse], write: true},
	OpGetChildren:  {name: "getChildren", abbrev: "GETC", request: newBody[GetChildrenRequest], response: newBody[GetChildrenResponse], multi: multiRead},
	OpSync:         {name: "sync", abbrev: "SYNC", request: newBody[SyncRequest], response: newBody[SyncResponse]},
	OpPing:         {name: "ping", abbrev: "PING", request: newBody[PingRequest]},
	OpGetChildren2: {name: "getChildren2", abbrev: "GETC", request: newBody[GetChildren2Request], response: newBody[GetChildren2Response]},
	// A check outside a multi is answered like setData: ZooKeeper 3.8's
	// FinalRequestProcessor does so, though its Java client never sends one.
	OpCheck:                {name: "check", abbrev: "CHEC", request: newBody[CheckVersionRequest], response: newBody[SetDataResponse], write: true, multi: multiWrite},
	OpMulti:                {name: "multi", abbrev: "MULT", request: newBody[MultiRequest], response: newBody[MultiResponse], write: true},
	OpCreate2:              {name: "create2", abbrev: "CREA", request: newBody[CreateRequest], response: newBody[Create2Response], write: true, multi: multiWrite},
	OpReconfig:             {name: "reconfig", abbrev: "RECO", request: newBody[ReconfigRequest], response: newBody[GetDataResponse], write: true},
	OpCheckWatches:         {name: "checkWatches", abbrev: "CHKW", request: newBody[CheckWatchesRequest]},
	OpRemoveWatches:        {name: "removeWatches", abbrev: "REMW", request: newBody[RemoveWatchesRequest]},
	OpCreateContainer:      {name: "createContainer", abbrev: "CREA", request: newBody[CreateRequest], response: newBody[Create2Response], write: true, multi: multiWrite},
	OpDeleteContainer:      {name: "deleteContainer"},
	OpCreateTTL:            {name: "createTTL", abbrev: "CREA", request: newBody[CreateTTLRequest], response: newBody[Create2Response], write: true, multi: multiWrite},
	OpMultiRead:            {name: "multiRead", abbrev: "MLTR", request: newBody[MultiReadRequest], response: newBody[MultiResponse]},
	OpAuth:                 {name: "auth", request: newBody[AuthPacket]},
	OpSetWatches:           {name: "setWatches", abbrev: "SETW", request: newBody[SetWatches]},
	OpSASL:                 {name: "sasl", request: newBody[GetSASLRequest], response: newBody[SetSASLResponse]},
	OpGetEphemerals:        {name: "getEphemerals", abbrev: "GETE", request: newBody[GetEphemeralsRequest], response: newBody[GetEphemeralsResponse]},
	OpGetAllChildrenNumber: {name: "getAllChildrenNumber", abbrev: "GETACN", request: newBody[GetAllChildrenNumberRequest], response: newBody[GetAllChildrenNumberResponse]},
	OpSetWatches2:          {name: "setWatches2", abbrev: "STW2", request: newBody[SetWatches2]},
	OpAddWatch:             {name: "addWatch", abbrev: "ADDW", request: newBody[AddWatchRequest], response: newBody[ErrorResponse]},
	OpWhoAmI:               {name: "whoAmI", abbrev: "HOMI", request: newBody[WhoAmIRequest], response: newBody[WhoAmIResponse]},
	OpCreateSession:        {name: "createSession"},
	OpCloseSession:         {name: "closeSession", abbrev: "CLOS", request: newBody[CloseSessionRequest]},
	OpError:                {name: "error"},
}

// String returns ZooKeeper's name for the operation, as logs and the
// four-letter words show it.
func (o OpCode) String() string {
	if info, ok := ops[o]; ok {
		return info.name
	}
	return "unknown(" + strconv.Itoa(int(o)) + ")"
}

// Abbrev returns the short name ZooKeeper's cons shows for the operation
// ("CREA", "GETD"), "NA" for one it has none for.
func (o OpCode) Abbrev() string {
	if a := ops[o].abbrev; a != "" {
		return a
	}
	return "NA"
}

// IsWrite reports the requests that change the tree or the ensemble, which
// a read-only server refuses.
func (o OpCode) IsWrite() bool { return ops[o].write }

// Reserved xids. Replies and notifications that answer no numbered request
// carry these in their header, which is how clients route them. A server
// must dispatch on the opcode, not the xid, and echo whatever xid came in:
// go-zookeeper sends auth and setWatches with ordinary xids, and the Java
// 3.8 client sends setWatches2 with an ordinary xid too.
const (
	// XidNotification marks a watch event sent by the server; ZooKeeper 3.8
	// sends it with zxid -1.
	XidNotification int32 = -1
	// XidPing marks a ping and its reply.
	XidPing int32 = -2
	// XidAuth marks the Java client's auth packets and their replies.
	XidAuth int32 = -4
	// XidSetWatches is what the Java client reserves for setWatches.
	XidSetWatches int32 = -8
)

// ProtocolVersion is the only protocol version ZooKeeper's clients and
// servers use in ConnectRequest and ConnectResponse.
const ProtocolVersion int32 = 0
