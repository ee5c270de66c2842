package fusefs

import (
	"context"
	"syscall"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"zkfs/tree"
)

var _ = (fs.NodeStatfser)((*node)(nil))

// Statfs describes the mount for df and getconf: the blocks of the
// replica's data directory's file system, where the znodes are stored,
// and as many files as znodes (with as many free as that file system has
// inodes free). The name limit is the longest name the mount can list
// (fuseNameMax), which is also what the kernel lets a lookup through.
func (n *node) Statfs(ctx context.Context, out *fuse.StatfsOut) syscall.Errno {
	m := n.m
	var count int
	m.rep.Read(func(t *tree.Tree) { count = t.NodeCount() })
	out.NameLen = fuseNameMax
	out.Bsize = 4096
	out.Frsize = 4096
	out.Files = uint64(count)
	if m.dataDir != "" {
		var st syscall.Statfs_t
		if err := syscall.Statfs(m.dataDir, &st); err == nil {
			bs := uint64(st.Bsize)
			out.Blocks = st.Blocks * bs / 4096
			out.Bfree = st.Bfree * bs / 4096
			out.Bavail = st.Bavail * bs / 4096
			out.Ffree = st.Ffree
			out.Files += st.Ffree
		}
	}
	return 0
}
