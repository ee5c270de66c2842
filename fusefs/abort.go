package fusefs

import (
	"bufio"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A server killed while its notifier waits in the kernel can wedge: entry
// invalidations take the directory's lock, page invalidations the locks of
// pages being read, and when that lock is held by a process that waits
// for a reply from the server, the killed server cannot finish dying (the
// waiting thread is uninterruptible) and its mount answers nothing until
// the FUSE connection is aborted. The kernel offers no notification that
// avoids the wait, so the way out is the abort: fusectl's
// /sys/fs/fuse/connections/N/abort fails every waiting request with
// ENOTCONN, the lock is released, the notifier's write returns and the old
// process exits. The mount's guard does it when its server is killed
// (guard.go); `zkfs server` does it when the mount point it is given is
// held by a zkfs mount that does not answer, and `zkfs umount --force`
// does it by hand.

// connectionsDir is where the kernel's fusectl file system lists the FUSE
// connections, one directory per connection named by its device number.
const connectionsDir = "/sys/fs/fuse/connections"

// wedgeWait is how long a zkfs mount may take to answer statfs before its
// server is taken for dead or wedged. It is long, because the mount is
// aborted after it, and a live server answers statfs without any I/O.
const wedgeWait = 5 * time.Second

// ErrNotMounted is returned for a directory that is not a mount point.
var ErrNotMounted = errors.New("fusefs: not a mount point")

// mountEntry is one line of /proc/self/mountinfo.
type mountEntry struct {
	dev    uint64 // the kernel's device number, which names the connection
	fstype string
}

// mountEntryAt finds the topmost mount at dir.
func mountEntryAt(dir string) (mountEntry, bool) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mountEntry{}, false
	}
	defer f.Close()
	var e mountEntry
	found := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 7 || unescapeMountPath(fields[4]) != dir {
			continue
		}
		var major, minor uint64
		if _, err := fmt.Sscanf(fields[2], "%d:%d", &major, &minor); err != nil {
			continue
		}
		for i, fl := range fields {
			if fl == "-" && i+1 < len(fields) {
				e = mountEntry{dev: major<<20 | minor, fstype: fields[i+1]}
				found = true
				break
			}
		}
	}
	return e, found
}

// probe asks the file system at dir for statfs, which always reaches the
// server; answered is false when no answer came within wedgeWait. The
// goroutine of an unanswered probe returns once the connection is aborted.
func probe(dir string) (answered bool, err error) {
	ch := make(chan error, 1)
	go func() {
		var sfs syscall.Statfs_t
		ch <- syscall.Statfs(dir, &sfs)
	}()
	select {
	case err := <-ch:
		return true, err
	case <-time.After(wedgeWait):
		return false, nil
	}
}

// AbortConnection aborts the FUSE connection of the zkfs mount at dir and
// detaches the mount: every request waiting on its server fails with
// ENOTCONN, so that processes blocked on the mount, and a server wedged
// while dying, go on. It refuses a directory that is not a zkfs mount.
func AbortConnection(dir string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	e, ok := mountEntryAt(dir)
	if !ok {
		return fmt.Errorf("%w: %s", ErrNotMounted, dir)
	}
	if e.fstype != "fuse.zkfs" {
		return fmt.Errorf("fusefs: %s is a %s mount, not a zkfs one", dir, e.fstype)
	}
	if err := abortConnection(e.dev); err != nil {
		return err
	}
	return detach(dir)
}

func abortConnection(dev uint64) error {
	conn := filepath.Join(connectionsDir, strconv.FormatUint(dev, 10))
	if _, err := os.Stat(conn); errors.Is(err, os.ErrNotExist) {
		// fusectl is not mounted on every system; mounting it needs root.
		// A mount made here is undone once the abort is written, so that
		// the system is left as it was found.
		err := syscall.Mount("fusectl", connectionsDir, "fusectl", 0, "")
		if err != nil && !errors.Is(err, syscall.EBUSY) {
			return fmt.Errorf("fusefs: mounting fusectl on %s to abort the connection: %w", connectionsDir, err)
		}
		if err == nil {
			defer syscall.Unmount(connectionsDir, 0)
		}
	}
	if err := os.WriteFile(filepath.Join(conn, "abort"), []byte("1"), 0); err != nil {
		return fmt.Errorf("fusefs: aborting FUSE connection %d: %w", dev, err)
	}
	return nil
}

// ReleaseWedged aborts the zkfs mount at dir if its server does not answer
// (dead but unable to exit, or stopped), and reports whether it did. A
// live mount and a plain stale one are left to New, which refuses the
// first and detaches the second. The server calls it before it takes its
// data directory, whose lock a wedged predecessor still holds.
func ReleaseWedged(dir string, log *slog.Logger) (bool, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return false, err
	}
	if e, ok := mountEntryAt(dir); !ok || e.fstype != "fuse.zkfs" {
		return false, nil
	}
	if answered, _ := probe(dir); answered {
		return false, nil
	}
	log.Warn("the zkfs mount at the mount point does not answer; aborting its FUSE connection", "dir", dir, "waited", wedgeWait)
	if err := AbortConnection(dir); err != nil {
		return false, err
	}
	return true, nil
}
