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

// errorTable is the one list of the tree's errors: each with ZooKeeper's
// code for it, and its number in the formats that carry the tree's errors
// whole between zkfs processes (the peer stream), which the codes cannot
// do: a refinement carries the code of the error it refines.
//
// Code and ErrorNumber take the first entry that matches with errors.Is,
// so a refinement comes before the error it refines. Numbers are on the
// wire: never change or reuse one; a new error takes the next.
var errorTable = []struct {
	err     error
	code    int32
	number  uint8
	refines bool // a refinement: ErrorOf(code) is another entry's error
}{
	{ErrNoNode, CodeNoNode, 1, false},
	{ErrNodeExists, CodeNodeExists, 2, false},
	{ErrNotEmpty, CodeNotEmpty, 3, false},
	{ErrBadVersion, CodeBadVersion, 4, false},
	{ErrNoChildrenForEphemerals, CodeNoChildrenForEphemerals, 5, false},
	{ErrInvalidPath, CodeBadArguments, 12, true},
	{ErrDataTooLarge, CodeBadArguments, 13, true},
	{ErrBadArguments, CodeBadArguments, 6, false},
	{ErrInvalidACL, CodeInvalidACL, 7, false},
	{ErrNoAuth, CodeNoAuth, 8, false},
	{ErrSessionExpired, CodeSessionExpired, 9, false},
	{ErrRuntimeInconsistency, CodeRuntimeInconsistency, 10, false},
	{ErrUnimplemented, CodeUnimplemented, 11, false},
}

// MaxErrorNumber is the highest number ErrorNumber gives.
const MaxErrorNumber = 13

// Code returns ZooKeeper's code for one of the tree's errors, wrapped or
// not, and false for nil and for an error the tree does not define.
func Code(err error) (int32, bool) {
	if err == nil {
		return CodeOK, false
	}
	for _, c := range errorTable {
		if errors.Is(err, c.err) {
			return c.code, true
		}
	}
	return 0, false
}

// ErrorOf returns the tree's error for a ZooKeeper code, and nil if the tree
// has none for it. Code(ErrorOf(c)) is c whenever ErrorOf(c) is not nil.
func ErrorOf(code int32) error {
	for _, c := range errorTable {
		if c.code == code && !c.refines {
			return c.err
		}
	}
	return nil
}

// ErrorNumber returns the number (1 to MaxErrorNumber) of the most precise
// of the tree's errors that err is or wraps, and false if there is none.
// Unlike Code it keeps refinements apart (ErrDataTooLarge is not
// ErrBadArguments), for a format that must give back the very error.
func ErrorNumber(err error) (uint8, bool) {
	if err == nil {
		return 0, false
	}
	for _, c := range errorTable {
		if errors.Is(err, c.err) {
			return c.number, true
		}
	}
	return 0, false
}

// ErrorOfNumber returns the tree's error numbered n, and nil for a number
// the tree does not define. ErrorNumber(ErrorOfNumber(n)) is n.
func ErrorOfNumber(n uint8) error {
	for _, c := range errorTable {
		if c.number == n {
			return c.err
		}
	}
	return nil
}
