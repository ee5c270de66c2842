package zkclient

import (
	"errors"
	"fmt"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
)

// zkCodes maps go-zookeeper's sentinel errors back to the codes the server
// sent. go-zookeeper keeps its own table private, and turns the codes it has
// no sentinel for into "unknown error: CODE", which Code parses.
var zkCodes = []struct {
	err  error
	code int32
}{
	{zk.ErrAPIError, tree.CodeAPIError},
	{zk.ErrNoNode, tree.CodeNoNode},
	{zk.ErrNoAuth, tree.CodeNoAuth},
	{zk.ErrBadVersion, tree.CodeBadVersion},
	{zk.ErrNoChildrenForEphemerals, tree.CodeNoChildrenForEphemerals},
	{zk.ErrNodeExists, tree.CodeNodeExists},
	{zk.ErrNotEmpty, tree.CodeNotEmpty},
	{zk.ErrSessionExpired, tree.CodeSessionExpired},
	{zk.ErrInvalidACL, tree.CodeInvalidACL},
	{zk.ErrAuthFailed, tree.CodeAuthFailed},
	{zk.ErrSessionMoved, tree.CodeSessionMoved},
	{zk.ErrReconfigDisabled, tree.CodeReconfigDisabled},
	{zk.ErrBadArguments, tree.CodeBadArguments},
	// go-zookeeper's own conditions, reported as Java clients report them.
	{zk.ErrConnectionClosed, tree.CodeConnectionLoss},
	{zk.ErrNoServer, tree.CodeConnectionLoss},
	{zk.ErrClosing, tree.CodeConnectionLoss},
	{ErrNoServer, tree.CodeConnectionLoss},
	{ErrClosed, tree.CodeConnectionLoss},
}

// Code returns the ZooKeeper error code behind err, which may come from
// go-zookeeper or from Conn, and false if err carries none (a local failure
// such as an invalid path rejected before sending).
func Code(err error) (int32, bool) {
	if err == nil {
		return tree.CodeOK, true
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
	if code := wire.CodeOf(err); code != tree.CodeSystemError || errors.Is(err, wire.ErrSystemError) {
		return code, true
	}
	return 0, false
}
