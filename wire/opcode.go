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

var opNames = map[OpCode]string{
	OpNotification:         "notification",
	OpCreate:               "create",
	OpDelete:               "delete",
	OpExists:               "exists",
	OpGetData:              "getData",
	OpSetData:              "setData",
	OpGetACL:               "getACL",
	OpSetACL:               "setACL",
	OpGetChildren:          "getChildren",
	OpSync:                 "sync",
	OpPing:                 "ping",
	OpGetChildren2:         "getChildren2",
	OpCheck:                "check",
	OpMulti:                "multi",
	OpCreate2:              "create2",
	OpReconfig:             "reconfig",
	OpCheckWatches:         "checkWatches",
	OpRemoveWatches:        "removeWatches",
	OpCreateContainer:      "createContainer",
	OpDeleteContainer:      "deleteContainer",
	OpCreateTTL:            "createTTL",
	OpMultiRead:            "multiRead",
	OpAuth:                 "auth",
	OpSetWatches:           "setWatches",
	OpSASL:                 "sasl",
	OpGetEphemerals:        "getEphemerals",
	OpGetAllChildrenNumber: "getAllChildrenNumber",
	OpSetWatches2:          "setWatches2",
	OpAddWatch:             "addWatch",
	OpWhoAmI:               "whoAmI",
	OpCreateSession:        "createSession",
	OpCloseSession:         "closeSession",
	OpError:                "error",
}

// String returns ZooKeeper's name for the operation, as logs and the
// four-letter words show it.
func (o OpCode) String() string {
	if s, ok := opNames[o]; ok {
		return s
	}
	return "unknown(" + strconv.Itoa(int(o)) + ")"
}

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
