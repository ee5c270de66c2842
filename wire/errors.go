package wire

import (
	"errors"
	"strconv"

	"zkfs/replication"
	"zkfs/tree"
)

// ZooKeeper's error codes, as in KeeperException.Code (3.8). They travel in
// ReplyHeader.Err and in multi results.
const (
	CodeOK                       int32 = 0
	CodeSystemError              int32 = -1
	CodeRuntimeInconsistency     int32 = -2
	CodeDataInconsistency        int32 = -3
	CodeConnectionLoss           int32 = -4
	CodeMarshallingError         int32 = -5
	CodeUnimplemented            int32 = -6
	CodeOperationTimeout         int32 = -7
	CodeBadArguments             int32 = -8
	CodeUnknownSession           int32 = -12
	CodeNewConfigNoQuorum        int32 = -13
	CodeReconfigInProgress       int32 = -14
	CodeAPIError                 int32 = -100
	CodeNoNode                   int32 = -101
	CodeNoAuth                   int32 = -102
	CodeBadVersion               int32 = -103
	CodeNoChildrenForEphemerals  int32 = -108
	CodeNodeExists               int32 = -110
	CodeNotEmpty                 int32 = -111
	CodeSessionExpired           int32 = -112
	CodeInvalidCallback          int32 = -113
	CodeInvalidACL               int32 = -114
	CodeAuthFailed               int32 = -115
	CodeSessionMoved             int32 = -118
	CodeNotReadOnly              int32 = -119
	CodeEphemeralOnLocalSession  int32 = -120
	CodeNoWatcher                int32 = -121
	CodeRequestTimeout           int32 = -122
	CodeReconfigDisabled         int32 = -123
	CodeSessionClosedRequireSASL int32 = -124
	CodeQuotaExceeded            int32 = -125
	CodeThrottled                int32 = -127
)

// Sentinels for the codes the tree has no error for: conditions of sessions,
// connections and the cluster that the server, not the tree, detects.
var (
	// ErrSystemError is SystemError (-1), what ZooKeeper reports for an
	// unexpected server failure.
	ErrSystemError = errors.New("wire: system error")
	// ErrDataInconsistency is DataInconsistency (-3).
	ErrDataInconsistency = errors.New("wire: data inconsistency")
	// ErrConnectionLoss is ConnectionLoss (-4); clients raise it themselves
	// when a connection drops with requests in flight.
	ErrConnectionLoss = errors.New("wire: connection loss")
	// ErrOperationTimeout is OperationTimeout (-7).
	ErrOperationTimeout = errors.New("wire: operation timeout")
	// ErrUnknownSession is UnknownSession (-12).
	ErrUnknownSession = errors.New("wire: unknown session")
	// ErrNewConfigNoQuorum is NewConfigNoQuorum (-13), a reconfig failure.
	ErrNewConfigNoQuorum = errors.New("wire: no quorum of the new configuration")
	// ErrReconfigInProgress is ReconfigInProgress (-14).
	ErrReconfigInProgress = errors.New("wire: reconfiguration in progress")
	// ErrAPIError is APIError (-100), the base of ZooKeeper's API errors.
	ErrAPIError = errors.New("wire: API error")
	// ErrInvalidCallback is InvalidCallback (-113).
	ErrInvalidCallback = errors.New("wire: invalid callback")
	// ErrAuthFailed is AuthFailed (-115): an auth packet was rejected, after
	// which ZooKeeper closes the session.
	ErrAuthFailed = errors.New("wire: authentication failed")
	// ErrSessionMoved is SessionMoved (-118): the session is now attached to
	// another connection. The leader finds it (replication owns the rule).
	ErrSessionMoved = replication.ErrSessionMoved
	// ErrNotReadOnly is NotReadOnly (-119): a write sent to a read-only server.
	ErrNotReadOnly = errors.New("wire: not a read-only call")
	// ErrEphemeralOnLocalSession is EphemeralOnLocalSession (-120).
	ErrEphemeralOnLocalSession = errors.New("wire: ephemeral node on local session")
	// ErrNoWatcher is NoWatcher (-121): checkWatches or removeWatches found
	// no such watch.
	ErrNoWatcher = errors.New("wire: no such watcher")
	// ErrRequestTimeout is RequestTimeout (-122).
	ErrRequestTimeout = errors.New("wire: request timeout")
	// ErrReconfigDisabled is ReconfigDisabled (-123), the answer to reconfig
	// when dynamic reconfiguration is off.
	ErrReconfigDisabled = errors.New("wire: reconfiguration disabled")
	// ErrSessionClosedRequireSASL is SessionClosedRequireSasl (-124).
	ErrSessionClosedRequireSASL = errors.New("wire: session closed because client failed to authenticate")
	// ErrQuotaExceeded is QuotaExceeded (-125), for enforced quotas.
	ErrQuotaExceeded = errors.New("wire: quota exceeded")
	// ErrThrottled is Throttled (-127): the server shed the request under load.
	ErrThrottled = errors.New("wire: operation throttled")
)

// CodeError is the error ErrorOf returns for a code that has no sentinel, so
// that CodeOf gives the same code back.
type CodeError struct {
	Code int32
}

// Error returns ZooKeeper's message for the code.
func (e *CodeError) Error() string {
	return "wire: error code " + strconv.Itoa(int(e.Code)) + " (" + CodeMessage(e.Code) + ")"
}

// codes is the one mapping between errors and codes. CodeOf takes the first
// entry that matches with errors.Is, so refinements (tree.ErrInvalidPath
// wraps tree.ErrBadArguments) need no entry of their own; ErrorOf takes the
// first entry with the code, so the tree's sentinels come first.
var codes = []struct {
	err  error
	code int32
}{
	{tree.ErrNoNode, CodeNoNode},
	{tree.ErrNodeExists, CodeNodeExists},
	{tree.ErrNotEmpty, CodeNotEmpty},
	{tree.ErrBadVersion, CodeBadVersion},
	{tree.ErrNoChildrenForEphemerals, CodeNoChildrenForEphemerals},
	{tree.ErrBadArguments, CodeBadArguments},
	{tree.ErrInvalidACL, CodeInvalidACL},
	{tree.ErrNoAuth, CodeNoAuth},
	{tree.ErrSessionExpired, CodeSessionExpired},
	{tree.ErrRuntimeInconsistency, CodeRuntimeInconsistency},
	{tree.ErrUnimplemented, CodeUnimplemented},

	{ErrUnknownOpcode, CodeUnimplemented},
	{ErrMalformed, CodeMarshallingError},
	{ErrSystemError, CodeSystemError},
	{ErrDataInconsistency, CodeDataInconsistency},
	{ErrConnectionLoss, CodeConnectionLoss},
	{ErrOperationTimeout, CodeOperationTimeout},
	{ErrUnknownSession, CodeUnknownSession},
	{ErrNewConfigNoQuorum, CodeNewConfigNoQuorum},
	{ErrReconfigInProgress, CodeReconfigInProgress},
	{ErrAPIError, CodeAPIError},
	{ErrInvalidCallback, CodeInvalidCallback},
	{ErrAuthFailed, CodeAuthFailed},
	{ErrSessionMoved, CodeSessionMoved},
	{ErrNotReadOnly, CodeNotReadOnly},
	{ErrEphemeralOnLocalSession, CodeEphemeralOnLocalSession},
	{ErrNoWatcher, CodeNoWatcher},
	{ErrRequestTimeout, CodeRequestTimeout},
	{ErrReconfigDisabled, CodeReconfigDisabled},
	{ErrSessionClosedRequireSASL, CodeSessionClosedRequireSASL},
	{ErrQuotaExceeded, CodeQuotaExceeded},
	{ErrThrottled, CodeThrottled},
}

// CodeOf returns the ZooKeeper error code for err: 0 for nil, the matching
// code for the tree's and this package's sentinels (wrapped or not), the
// code of a *CodeError, and SystemError for anything else, which is what
// ZooKeeper reports for an unexpected failure.
func CodeOf(err error) int32 {
	if err == nil {
		return CodeOK
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return CodeSystemError
}

// ErrorOf returns the error for a code: nil for CodeOK, the tree's sentinel
// where there is one, this package's otherwise, and a *CodeError for a code
// ZooKeeper 3.8 does not define. CodeOf(ErrorOf(c)) == c for every c.
func ErrorOf(code int32) error {
	if code == CodeOK {
		return nil
	}
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return &CodeError{Code: code}
}

// codeMessages are the texts of KeeperException.getCodeMessage in
// ZooKeeper 3.8, which Java clients put in their exceptions' messages.
var codeMessages = map[int32]string{
	CodeOK:                       "ok",
	CodeSystemError:              "SystemError",
	CodeRuntimeInconsistency:     "RuntimeInconsistency",
	CodeDataInconsistency:        "DataInconsistency",
	CodeConnectionLoss:           "ConnectionLoss",
	CodeMarshallingError:         "MarshallingError",
	CodeUnimplemented:            "Unimplemented",
	CodeOperationTimeout:         "OperationTimeout",
	CodeBadArguments:             "BadArguments",
	CodeNewConfigNoQuorum:        "NewConfigNoQuorum",
	CodeReconfigInProgress:       "ReconfigInProgress",
	CodeAPIError:                 "APIError",
	CodeNoNode:                   "NoNode",
	CodeNoAuth:                   "NoAuth",
	CodeBadVersion:               "BadVersion",
	CodeNoChildrenForEphemerals:  "NoChildrenForEphemerals",
	CodeNodeExists:               "NodeExists",
	CodeInvalidACL:               "InvalidACL",
	CodeAuthFailed:               "AuthFailed",
	CodeNotEmpty:                 "Directory not empty",
	CodeSessionExpired:           "Session expired",
	CodeInvalidCallback:          "Invalid callback",
	CodeSessionMoved:             "Session moved",
	CodeNotReadOnly:              "Not a read-only call",
	CodeEphemeralOnLocalSession:  "Ephemeral node on local session",
	CodeNoWatcher:                "No such watcher",
	CodeReconfigDisabled:         "Reconfig is disabled",
	CodeSessionClosedRequireSASL: "Session closed because client failed to authenticate",
	CodeQuotaExceeded:            "Quota has exceeded",
	CodeThrottled:                "Op throttled due to high load",
	// ZooKeeper 3.8 has no message for these two and falls back to "Unknown
	// error" followed by the enum constant's name; zkCli.sh shows exactly that.
	CodeUnknownSession: "Unknown error UNKNOWNSESSION",
	CodeRequestTimeout: "Unknown error REQUESTTIMEOUT",
}

// CodeMessage returns ZooKeeper's short message for a code ("NoNode",
// "Directory not empty").
func CodeMessage(code int32) string {
	if m, ok := codeMessages[code]; ok {
		return m
	}
	return "Unknown error " + strconv.Itoa(int(code))
}

// KeeperMessage returns the message of the KeeperException a Java client
// raises for code on path: "KeeperErrorCode = NoNode for /a". An empty path
// leaves out the " for" part, as Java does.
func KeeperMessage(code int32, path string) string {
	m := "KeeperErrorCode = " + CodeMessage(code)
	if path != "" {
		m += " for " + path
	}
	return m
}

// cliMessages are the prefixes zkCli.sh (CliWrapperException) puts before
// the path for the errors users meet most.
var cliMessages = map[int32]string{
	CodeNoNode:                  "Node does not exist: ",
	CodeNoChildrenForEphemerals: "Ephemerals cannot have children: ",
	CodeNodeExists:              "Node already exists: ",
	CodeNotEmpty:                "Node not empty: ",
	CodeNotReadOnly:             "Not a read-only call: ",
	CodeInvalidACL:              "Acl is not valid : ",
	CodeNoAuth:                  "Insufficient permission : ",
	CodeBadArguments:            "Arguments are not valid : ",
	CodeBadVersion:              "version No is not valid : ",
	CodeQuotaExceeded:           "Quota has exceeded : ",
}

// CLIMessage returns the line zkCli.sh prints when a command on path fails
// with code ("Node does not exist: /a"), so that the zkfs command line reads
// the same. Codes zkCli.sh has no wording for fall back to KeeperMessage.
func CLIMessage(code int32, path string) string {
	if p, ok := cliMessages[code]; ok {
		return p + path
	}
	switch code {
	case CodeReconfigInProgress:
		return "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
	case CodeNewConfigNoQuorum:
		return "No quorum of new config is connected and up-to-date with the leader of last committed config - try invoking reconfiguration after new servers are connected and synced"
	}
	return KeeperMessage(code, path)
}
