package fusefs

import (
	"context"
	"errors"
	"syscall"

	"zkfs/replication"
	"zkfs/tree"
	"zkfs/xattr"
)

// toErrno maps an error from the tree, the replica or the xattr package to
// the errno the mount returns. It is the only place that does so, and it
// unwraps with errors.Is because go-fuse's own ToStatus does not.
//
// The choices that the issue leaves open: NoChildrenForEphemerals is EPERM
// (the parent exists and is not a file, creating below it is just not
// allowed); BadArguments and InvalidACL are EINVAL; a session that is gone
// and every write whose outcome is unknown (timeout, no leader, shutdown)
// is EIO; an interrupted wait is EINTR.
func toErrno(err error) syscall.Errno {
	var errno syscall.Errno
	switch {
	case err == nil:
		return 0
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, tree.ErrNoNode):
		return syscall.ENOENT
	case errors.Is(err, tree.ErrNodeExists):
		return syscall.EEXIST
	case errors.Is(err, tree.ErrNotEmpty):
		return syscall.ENOTEMPTY
	case errors.Is(err, tree.ErrNoAuth):
		return syscall.EACCES
	case errors.Is(err, tree.ErrBadVersion):
		return syscall.EAGAIN
	case errors.Is(err, tree.ErrDataTooLarge):
		return syscall.EFBIG
	case errors.Is(err, tree.ErrInvalidPath), errors.Is(err, tree.ErrInvalidACL),
		errors.Is(err, tree.ErrBadArguments):
		return syscall.EINVAL
	case errors.Is(err, tree.ErrNoChildrenForEphemerals):
		return syscall.EPERM
	case errors.Is(err, tree.ErrUnimplemented):
		return syscall.ENOSYS
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
	case errors.Is(err, replication.ErrTimeout), errors.Is(err, replication.ErrNotLeader),
		errors.Is(err, replication.ErrClosed), errors.Is(err, tree.ErrSessionExpired),
		errors.Is(err, tree.ErrRuntimeInconsistency), errors.Is(err, context.DeadlineExceeded):
		return syscall.EIO
	}
	return syscall.EIO
}
