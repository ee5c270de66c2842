// Package fusefs serves the znode tree of a replica as a FUSE file system:
// file-kind znodes are files, directory-kind znodes are directories whose
// own data is the file @data, and @watch in every directory streams its
// events.
//
// # Caches
//
// The kernel caches entries and attributes for a long time; the mount
// keeps those caches right by invalidating them for every change the
// replica applies, whoever made it, from one goroutine (the notifier), in
// the order the changes were applied. Changes made through the mount
// itself also reach local inotify watchers, as the kernel produces those
// events; changes made elsewhere reach inotify only as cache
// invalidations, which inotify does not report, so @watch (or `zkfs
// watch`) is the dependable way to follow a directory.
//
// A name a lookup does not find is confirmed with the leader (a ReadIndex,
// as sync does) before the mount answers ENOENT, and the kernel then keeps
// the miss until the name's creation invalidates it. Without that, a
// follower that had not yet heard of a commit would answer a miss that the
// kernel keeps for an hour, and a directory made through one replica could
// not be written into through another at once. A replica cut off from the
// leader answers from its own view and lets the kernel keep nothing.
//
// # Reads
//
// File contents are read with direct I/O: every read(2) reaches the mount,
// which answers it from one whole version of the znode.
//
//   - A read that continues the previous read of the same descriptor (at
//     the offset where that one ended, after it returned data) is served
//     from the same version. A read the kernel splits into several
//     requests (larger than max_read, or into an unaligned buffer) and a
//     whole-file read from offset 0 to the end (cat, cp, the read-all of
//     Python, Go and Java) therefore see one version whole.
//   - Any other read (from offset 0, after a seek, a pread elsewhere, or a
//     read after one that found the end, as tail -f makes) is served from
//     the newest version applied on the replica, on every descriptor,
//     however long it has been open.
//   - A descriptor whose znode was deleted keeps serving the last version
//     it served, and fstat describes it (with no links). A descriptor
//     whose file a rename through this mount replaced keeps the replaced
//     content; opens after the rename get the new file. (A rename through
//     another replica reaches this one as a rewrite of the target.)
//
// The page cache is not used for reads, because the kernel cannot keep a
// cached file's size and pages together. Its read path collects the pages
// it will copy, and only then samples the size, with no lock in common
// with the code that changes the size (attribute replies, NOTIFY_STORE,
// NOTIFY_INVAL_INODE); NOTIFY_STORE also rewrites cached pages in place
// while readers copy from them unlocked. Whatever order the mount sends
// invalidations, stores and new attributes in, a read that took the pages
// of one version just before a change and sampled the size just after
// returns that version cut to the new size, or padded with the zeros of
// its last page: the torn reads an earlier keep_cache attempt gave. Never
// returning a torn value comes before speed, so each read costs a round
// trip to the mount (bench/results has the figures).
//
// stat and fstat are answered from the kernel's attribute cache, which the
// notifier invalidates once the change is applied; the invalidation
// follows the apply by the notifier's queue (microseconds on an idle
// replica). Reads do not wait for it: a read after a change sees the new
// version even before fstat does. A commit through the mount waits for
// its own invalidation before close returns, a write through this
// replica's client port before its reply (replication.AwaitFences), and
// an @watch line before its reader gets it.
//
// mmap works for reading, MAP_SHARED and MAP_PRIVATE
// (FUSE_DIRECT_IO_ALLOW_MMAP): the mapped pages are filled by reads on the
// mapping's descriptor, under the rules above, and dropped at each mmap
// call and by the invalidation of every change, so that the next access
// faults in the new version. The mapping's length is the caller's: a file
// that shrinks shows zeros past its end in the last page and SIGBUS
// beyond it, as on a local file system.
//
// # Writes
//
// Each open file description buffers its edits (its open's O_TRUNC,
// writes, ftruncate, O_APPEND writes at the end) and commits them as one
// setData, or one create, at close or fsync; on a version conflict the
// edits are replayed on the newer content. Nothing else sees them before
// that: other readers on this mount see the committed content and size.
// A write over the size limit fails with EFBIG, and a failed write or
// commit makes the description commit nothing ever after (see
// stateFailed). dup'ed descriptors and forked children share the
// description, as they share the kernel's file.
//
// # A dying server
//
// Kernel notifications are sent by the notifier alone: never from the
// replica's apply path, never from a FUSE handler, never while the mount
// holds a lock. Even so, an entry invalidation waits for the directory's
// lock and a page invalidation for the lock of a page being read, and a
// server killed during that wait cannot exit while the lock's holder waits
// for its reply. The way out is to abort the connection through fusectl
// (abort.go): the mount's guard process does it the moment its server is
// killed (guard.go), and failing that the next server at the same mount
// point, or `zkfs umount --force`.
package fusefs
