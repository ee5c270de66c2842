package wire

import (
	"errors"
	"strconv"

	"zkfs/tree"
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
	// another connection. The leader finds it (replication owns the rule and
	// its own sentinel, which the server maps to this code).
	ErrSessionMoved = errors.New("wire: session moved")
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

// codes maps this package's errors to codes; the tree maps its own
// (tree.Code), and CodeOf and ErrorOf ask it first, so that a code the tree
// has an error for comes back as the tree's sentinel.
var codes = []struct {
	err  error
	code int32
}{
	{ErrUnknownOpcode, tree.CodeUnimplemented},
	{ErrMalformed, tree.CodeMarshallingError},
	{ErrSystemError, tree.CodeSystemError},
	{ErrDataInconsistency, tree.CodeDataInconsistency},
	{ErrConnectionLoss, tree.CodeConnectionLoss},
	{ErrOperationTimeout, tree.CodeOperationTimeout},
	{ErrUnknownSession, tree.CodeUnknownSession},
	{ErrNewConfigNoQuorum, tree.CodeNewConfigNoQuorum},
	{ErrReconfigInProgress, tree.CodeReconfigInProgress},
	{ErrAPIError, tree.CodeAPIError},
	{ErrInvalidCallback, tree.CodeInvalidCallback},
	{ErrAuthFailed, tree.CodeAuthFailed},
	{ErrSessionMoved, tree.CodeSessionMoved},
	{ErrNotReadOnly, tree.CodeNotReadOnly},
	{ErrEphemeralOnLocalSession, tree.CodeEphemeralOnLocalSession},
	{ErrNoWatcher, tree.CodeNoWatcher},
	{ErrRequestTimeout, tree.CodeRequestTimeout},
	{ErrReconfigDisabled, tree.CodeReconfigDisabled},
	{ErrSessionClosedRequireSASL, tree.CodeSessionClosedRequireSASL},
	{ErrQuotaExceeded, tree.CodeQuotaExceeded},
	{ErrThrottled, tree.CodeThrottled},
}

// CodeOf returns the ZooKeeper error code for err: 0 for nil, the matching
// code for the tree's and this package's sentinels (wrapped or not), the
// code of a *CodeError, and SystemError for anything else, which is what
// ZooKeeper reports for an unexpected failure.
func CodeOf(err error) int32 {
	if err == nil {
		return tree.CodeOK
	}
	if code, ok := tree.Code(err); ok {
		return code
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
	return tree.CodeSystemError
}

// ErrorOf returns the error for a code: nil for CodeOK, the tree's sentinel
// where there is one, this package's otherwise, and a *CodeError for a code
// ZooKeeper 3.8 does not define. CodeOf(ErrorOf(c)) == c for every c.
func ErrorOf(code int32) error {
	if code == tree.CodeOK {
		return nil
	}
	if err := tree.ErrorOf(code); err != nil {
		return err
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
	tree.CodeOK:                       "ok",
	tree.CodeSystemError:              "SystemError",
	tree.CodeRuntimeInconsistency:     "RuntimeInconsistency",
	tree.CodeDataInconsistency:        "DataInconsistency",
	tree.CodeConnectionLoss:           "ConnectionLoss",
	tree.CodeMarshallingError:         "MarshallingError",
	tree.CodeUnimplemented:            "Unimplemented",
	tree.CodeOperationTimeout:         "OperationTimeout",
	tree.CodeBadArguments:             "BadArguments",
	tree.CodeNewConfigNoQuorum:        "NewConfigNoQuorum",
	tree.CodeReconfigInProgress:       "ReconfigInProgress",
	tree.CodeAPIError:                 "APIError",
	tree.CodeNoNode:                   "NoNode",
	tree.CodeNoAuth:                   "NoAuth",
	tree.CodeBadVersion:               "BadVersion",
	tree.CodeNoChildrenForEphemerals:  "NoChildrenForEphemerals",
	tree.CodeNodeExists:               "NodeExists",
	tree.CodeInvalidACL:               "InvalidACL",
	tree.CodeAuthFailed:               "AuthFailed",
	tree.CodeNotEmpty:                 "Directory not empty",
	tree.CodeSessionExpired:           "Session expired",
	tree.CodeInvalidCallback:          "Invalid callback",
	tree.CodeSessionMoved:             "Session moved",
	tree.CodeNotReadOnly:              "Not a read-only call",
	tree.CodeEphemeralOnLocalSession:  "Ephemeral node on local session",
	tree.CodeNoWatcher:                "No such watcher",
	tree.CodeReconfigDisabled:         "Reconfig is disabled",
	tree.CodeSessionClosedRequireSASL: "Session closed because client failed to authenticate",
	tree.CodeQuotaExceeded:            "Quota has exceeded",
	tree.CodeThrottled:                "Op throttled due to high load",
	// ZooKeeper 3.8 has no message for these two and falls back to "Unknown
	// error" followed by the enum constant's name; zkCli.sh shows exactly that.
	tree.CodeUnknownSession: "Unknown error UNKNOWNSESSION",
	tree.CodeRequestTimeout: "Unknown error REQUESTTIMEOUT",
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
	tree.CodeNoNode:                  "Node does not exist: ",
	tree.CodeNoChildrenForEphemerals: "Ephemerals cannot have children: ",
	tree.CodeNodeExists:              "Node already exists: ",
	tree.CodeNotEmpty:                "Node not empty: ",
	tree.CodeNotReadOnly:             "Not a read-only call: ",
	tree.CodeInvalidACL:              "Acl is not valid : ",
	tree.CodeNoAuth:                  "Insufficient permission : ",
	tree.CodeBadArguments:            "Arguments are not valid : ",
	tree.CodeBadVersion:              "version No is not valid : ",
	tree.CodeQuotaExceeded:           "Quota has exceeded : ",
}

// CLIMessage returns the line zkCli.sh prints when a command on path fails
// with code ("Node does not exist: /a"), so that the zkfs command line reads
// the same. Codes zkCli.sh has no wording for fall back to KeeperMessage.
func CLIMessage(code int32, path string) string {
	if p, ok := cliMessages[code]; ok {
		return p + path
	}
	switch code {
	case tree.CodeReconfigInProgress:
		return "Another reconfiguration is in progress -- concurrent reconfigs not supported (yet)"
	case tree.CodeNewConfigNoQuorum:
		return "No quorum of new config is connected and up-to-date with the leader of last committed config - try invoking reconfiguration after new servers are connected and synced"
	}
	return KeeperMessage(code, path)
}
