package zkclient

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"zkfs/wire"
)

// zkCodes maps go-zookeeper's sentinel errors back to the codes the server
// sent. go-zookeeper keeps its own table private, and turns the codes it has
// no sentinel for into "unknown error: CODE", which Code parses.
var zkCodes = []struct {
	err  error
	code int32
}{
	{zk.ErrAPIError, wire.CodeAPIError},
	{zk.ErrNoNode, wire.CodeNoNode},
	{zk.ErrNoAuth, wire.CodeNoAuth},
	{zk.ErrBadVersion, wire.CodeBadVersion},
	{zk.ErrNoChildrenForEphemerals, wire.CodeNoChildrenForEphemerals},
	{zk.ErrNodeExists, wire.CodeNodeExists},
	{zk.ErrNotEmpty, wire.CodeNotEmpty},
	{zk.ErrSessionExpired, wire.CodeSessionExpired},
	{zk.ErrInvalidACL, wire.CodeInvalidACL},
	{zk.ErrAuthFailed, wire.CodeAuthFailed},
	{zk.ErrSessionMoved, wire.CodeSessionMoved},
	{zk.ErrReconfigDisabled, wire.CodeReconfigDisabled},
	{zk.ErrBadArguments, wire.CodeBadArguments},
	// go-zookeeper's own conditions, reported as Java clients report them.
	{zk.ErrConnectionClosed, wire.CodeConnectionLoss},
	{zk.ErrNoServer, wire.CodeConnectionLoss},
	{zk.ErrClosing, wire.CodeConnectionLoss},
	{ErrNoServer, wire.CodeConnectionLoss},
	{ErrClosed, wire.CodeConnectionLoss},
}

// Code returns the ZooKeeper error code behind err, which may come from
// go-zookeeper or from Conn, and false if err carries none (a local failure
// such as an invalid path rejected before sending).
func Code(err error) (int32, bool) {
	if err == nil {
		return wire.CodeOK, true
	}
	for _, c := range zkCodes {
		if errors.Is(err, c.err) {
			return c.code, true
		}
	}
	var code int32
	if _, scanErr := fmt.Sscanf(err.Error(), "unknown error: %d", &code); scanErr == nil {
		return code, true
	}
	if code := wire.CodeOf(err); code != wire.CodeSystemError || errors.Is(err, wire.ErrSystemError) {
		return code, true
	}
	return 0, false
}
