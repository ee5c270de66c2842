package fusefs

// maxHiddenData bounds the directories whose empty @data is hidden.
const maxHiddenData = 1 << 16

// An empty @data is hidden right after mkdir, or after rm of @data, through
// this mount, until something writes it. Tools that copy a tree (cp -r,
// tar -x) create @data with O_EXCL in a directory they just made, or after
// removing the old one; a @data that is always there would make them fail
// with EEXIST. The mark is kept by path and czxid rather than on the inode,
// because the kernel may forget the inode in between; a lookup through
// another replica shows @data as always.

func (m *Mount) dataHidden(path string, in info) bool {
	m.hiddenDataMu.Lock()
	defer m.hiddenDataMu.Unlock()
	czxid, ok := m.hiddenData[path]
	if !ok {
		return false
	}
	if czxid != in.stat.Czxid || in.stat.DataLength > 0 {
		delete(m.hiddenData, path)
		return false
	}
	return true
}

func (m *Mount) setDataHidden(path string, czxid int64, hide bool) {
	m.hiddenDataMu.Lock()
	defer m.hiddenDataMu.Unlock()
	if !hide {
		delete(m.hiddenData, path)
		return
	}
	if len(m.hiddenData) >= maxHiddenData {
		clear(m.hiddenData) // a safe loss: @data simply shows again
	}
	m.hiddenData[path] = czxid
}
