package tree

import "errors"

// ZooKeeper's error codes, as in KeeperException.Code (3.8). They travel in
// the client protocol's replies and multi results; the tree's errors map to
// them (Code), and the mount maps them to errnos.
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

// codes maps the tree's errors to ZooKeeper's codes. Code takes the first
// entry that matches with errors.Is, so refinements (ErrInvalidPath wraps
// ErrBadArguments) need no entry of their own.
var codes = []struct {
	err  error
	code int32
}{
	{ErrNoNode, CodeNoNode},
	{ErrNodeExists, CodeNodeExists},
	{ErrNotEmpty, CodeNotEmpty},
	{ErrBadVersion, CodeBadVersion},
	{ErrNoChildrenForEphemerals, CodeNoChildrenForEphemerals},
	{ErrBadArguments, CodeBadArguments},
	{ErrInvalidACL, CodeInvalidACL},
	{ErrNoAuth, CodeNoAuth},
	{ErrSessionExpired, CodeSessionExpired},
	{ErrRuntimeInconsistency, CodeRuntimeInconsistency},
	{ErrUnimplemented, CodeUnimplemented},
}

// Code returns ZooKeeper's code for one of the tree's errors, wrapped or
// not, and false for nil and for an error the tree does not define.
func Code(err error) (int32, bool) {
	if err == nil {
		return CodeOK, false
	}
	for _, c := range codes {
		if errors.Is(err, c.err) {
			return c.code, true
		}
	}
	return 0, false
}

// ErrorOf returns the tree's error for a ZooKeeper code, and nil if the tree
// has none for it. Code(ErrorOf(c)) is c whenever ErrorOf(c) is not nil.
func ErrorOf(code int32) error {
	for _, c := range codes {
		if c.code == code {
			return c.err
		}
	}
	return nil
}
