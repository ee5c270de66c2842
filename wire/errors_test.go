package wire

import (
	"errors"
	"fmt"
	"io"
	"testing"

	"zkfs/tree"
)

func TestCodeOf(t *testing.T) {
	tests := []struct {
		err  error
		want int32
	}{
		{nil, tree.CodeOK},
		{tree.ErrNoNode, -101},
		{tree.ErrNodeExists, -110},
		{tree.ErrNotEmpty, -111},
		{tree.ErrBadVersion, -103},
		{tree.ErrNoChildrenForEphemerals, -108},
		{tree.ErrBadArguments, -8},
		{tree.ErrInvalidPath, -8},
		{tree.ErrDataTooLarge, -8},
		{tree.ErrInvalidACL, -114},
		{tree.ErrNoAuth, -102},
		{tree.ErrSessionExpired, -112},
		{tree.ErrRuntimeInconsistency, -2},
		{tree.ErrUnimplemented, -6},
		{fmt.Errorf("create /a: %w", tree.ErrNodeExists), -110},
		{ErrUnknownOpcode, -6},
		{ErrMalformed, -5},
		{ErrBadMultiOp, -5},
		{ErrSessionMoved, -118},
		{ErrNoWatcher, -121},
		{ErrThrottled, -127},
		{&CodeError{Code: -999}, -999},
		{io.EOF, tree.CodeSystemError},
		{errors.New("surprise"), tree.CodeSystemError},
	}
	for _, tt := range tests {
		if got := CodeOf(tt.err); got != tt.want {
			t.Errorf("CodeOf(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}

// allCodes are the codes of KeeperException.Code in ZooKeeper 3.8.
var allCodes = []int32{0, -1, -2, -3, -4, -5, -6, -7, -8, -12, -13, -14, -100, -101,
	-102, -103, -108, -110, -111, -112, -113, -114, -115, -118, -119, -120, -121, -122,
	-123, -124, -125, -127}

func TestErrorOf(t *testing.T) {
	tests := []struct {
		code int32
		want error
	}{
		{tree.CodeOK, nil},
		{-101, tree.ErrNoNode},
		{-110, tree.ErrNodeExists},
		{-8, tree.ErrBadArguments},
		{-6, tree.ErrUnimplemented},
		{-2, tree.ErrRuntimeInconsistency},
		{-5, ErrMalformed},
		{-4, ErrConnectionLoss},
		{-112, tree.ErrSessionExpired},
		{-115, ErrAuthFailed},
	}
	for _, tt := range tests {
		if got := ErrorOf(tt.code); got != tt.want {
			t.Errorf("ErrorOf(%d) = %v, want %v", tt.code, got, tt.want)
		}
	}
	for _, c := range append(allCodes, -999, 7) {
		if got := CodeOf(ErrorOf(c)); got != c {
			t.Errorf("CodeOf(ErrorOf(%d)) = %d", c, got)
		}
	}
	var ce *CodeError
	if err := ErrorOf(-999); !errors.As(err, &ce) || ce.Code != -999 {
		t.Errorf("ErrorOf(-999) = %v", err)
	}
}

func TestEveryCodeHasAnErrorAndAMessage(t *testing.T) {
	seen := map[error]int32{}
	for _, c := range allCodes {
		if _, ok := codeMessages[c]; !ok {
			t.Errorf("code %d has no message", c)
		}
		if c == tree.CodeOK {
			continue
		}
		err := ErrorOf(c)
		var ce *CodeError
		if errors.As(err, &ce) {
			t.Errorf("code %d has no sentinel", c)
		}
		if prev, dup := seen[err]; dup {
			t.Errorf("codes %d and %d share %v", prev, c, err)
		}
		seen[err] = c
	}
}

func TestMessages(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{CodeMessage(tree.CodeNoNode), "NoNode"},
		{CodeMessage(tree.CodeNotEmpty), "Directory not empty"},
		{CodeMessage(tree.CodeOK), "ok"},
		{CodeMessage(tree.CodeRequestTimeout), "Unknown error REQUESTTIMEOUT"},
		{CodeMessage(-999), "Unknown error -999"},
		{KeeperMessage(tree.CodeNoNode, "/a"), "KeeperErrorCode = NoNode for /a"},
		{KeeperMessage(tree.CodeConnectionLoss, ""), "KeeperErrorCode = ConnectionLoss"},
		// These are what zkCli.sh 3.8.0 printed against a real server (see
		// the capture session in testdata/capture-zk-3.8.0.txt).
		{CLIMessage(tree.CodeNoNode, "/nope"), "Node does not exist: /nope"},
		{CLIMessage(tree.CodeNodeExists, "/cli"), "Node already exists: /cli"},
		{CLIMessage(tree.CodeNotEmpty, "/cli"), "Node not empty: /cli"},
		{CLIMessage(tree.CodeBadVersion, "/cli"), "version No is not valid : /cli"},
		{CLIMessage(tree.CodeNoChildrenForEphemerals, "/cli/eph/x"), "Ephemerals cannot have children: /cli/eph/x"},
		{CLIMessage(tree.CodeInvalidACL, "/cli"), "Acl is not valid : /cli"},
		{CLIMessage(tree.CodeNoWatcher, "/cli"), "KeeperErrorCode = No such watcher for /cli"},
		{CLIMessage(tree.CodeReconfigDisabled, ""), "KeeperErrorCode = Reconfig is disabled"},
		{(&CodeError{Code: -999}).Error(), "wire: error code -999 (Unknown error -999)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}
