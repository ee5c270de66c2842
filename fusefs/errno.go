package fusefs

import (
	"context"
	"errors"
	"syscall"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/xattr"
)

// codeErrnos is the errno of each ZooKeeper code that the tree's errors
// carry (tree.Code). The choices that the issue leaves open:
// NoChildrenForEphemerals is EPERM (the parent exists and is not a file,
// creating below it is just not allowed); BadArguments and InvalidACL are
// EINVAL; a session that is gone is EIO.
var codeErrnos = map[int32]syscall.Errno{
	tree.CodeNoNode:                  syscall.ENOENT,
	tree.CodeNodeExists:              syscall.EEXIST,
	tree.CodeNotEmpty:                syscall.ENOTEMPTY,
	tree.CodeNoAuth:                  syscall.EACCES,
	tree.CodeBadVersion:              syscall.EAGAIN,
	tree.CodeBadArguments:            syscall.EINVAL,
	tree.CodeInvalidACL:              syscall.EINVAL,
	tree.CodeNoChildrenForEphemerals: syscall.EPERM,
	tree.CodeUnimplemented:           syscall.ENOSYS,
	tree.CodeSessionExpired:          syscall.EIO,
	tree.CodeRuntimeInconsistency:    syscall.EIO,
}

// toErrno maps an error from the tree, the replica or the xattr package to
// the errno the mount returns. It is the only place that does so, and it
// unwraps with errors.Is because go-fuse's own ToStatus does not. Every
// write whose outcome is unknown (timeout, no leader, shutdown) is EIO; an
// interrupted wait is EINTR.
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	if err == nil {
		return 0
	}
	if errors.As(err, &errno) {
		return errno
	}
	// Oversized data refines BadArguments, which the mount can tell apart.
	if errors.Is(err, tree.ErrDataTooLarge) {
		return syscall.EFBIG
	}
	if code, ok := tree.Code(err); ok {
		if e, ok := codeErrnos[code]; ok {
			return e
		}
		return syscall.EIO
	}
	switch {
	case errors.Is(err, xattr.ErrNoAttr):
		return syscall.ENODATA
	case errors.Is(err, xattr.ErrReadOnly):
		return syscall.EPERM
	case errors.Is(err, xattr.ErrInvalid):
		return syscall.EINVAL
	case errors.Is(err, context.Canceled):
		return syscall.EINTR
	case errors.Is(err, replication.ErrReadOnly):
		return syscall.EROFS
	}
	return syscall.EIO
}
