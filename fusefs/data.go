package fusefs

import "github.com/hanwen/go-fuse/v2/fs"

// Data is the @data file of a directory: the directory znode's own data.
// It behaves as a File whose target is its parent (see File.targetPath);
// the separate type gives it its own inode numbers and keeps the two kinds
// apart when reading the code.
type Data struct {
	File
}

func newData(m *Mount, dirCzxid int64) *Data {
	d := &Data{File: File{writers: map[*handle]struct{}{}}}
	d.m = m
	d.czxid.Store(dirCzxid)
	return d
}

var _ = (fs.NodeOpener)((*Data)(nil))
var _ = (fs.NodeGetattrer)((*Data)(nil))
var _ = (fs.NodeSetattrer)((*Data)(nil))
var _ = (fs.NodeGetxattrer)((*Data)(nil))
