package fusefs

// Mounted reports whether the mount is up: not unmounted by the server,
// and still in the kernel's mount table (an administrator's umount, or a
// FUSE connection aborted through /sys/fs/fuse, removes it from there).
func (m *Mount) Mounted() bool {
	return !m.closed.Load() && mounted(m.dir)
}
