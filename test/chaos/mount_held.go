package chaos

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// mountFault reports whether an error from the mount is what a fault
// makes of a read: a replica that died answers ENOTCONN, or ECONNABORTED
// to requests the kernel had sent it; a lost quorum is EIO; a file not
// written yet is missing.
func mountFault(err error) bool {
	return errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOTCONN) || errors.Is(err, syscall.EIO) ||
		errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR)
}

// heldReader holds a descriptor of one followed file for a while and
// reads it over and over through it, with pread from offset 0 and with a
// seek and a read to the end: every read is one whole content, a
// descriptor never goes back, and neither does this reader across its
// descriptors. The exception is the file a rename through this same mount
// replaces (rr of this replica): a descriptor keeps the replaced file, as
// on a local file system, so across descriptors it may show an older
// content than the new file had.
func (rn *run) heldReader(r *replica, rng *rand.Rand, stop <-chan struct{}) {
	last := map[string]int{}
	files := rn.mountFiles()
	own := fmt.Sprintf("rr%d", r.id)
	for !stopped(stop) {
		f := files[rng.Intn(len(files))]
		fd, err := os.Open(filepath.Join(r.mnt, mountDir, f))
		if err != nil {
			if !mountFault(err) {
				rn.rec.anomaly("mount-read-error", "opening %s through mount %d: %v", f, r.id, err)
			}
			rn.rec.count("read mount-held", Fail)
			sleep(stop, 100*time.Millisecond)
			continue
		}
		seen := 0
		for until := time.Now().Add(time.Duration(300+rng.Intn(2000)) * time.Millisecond); time.Now().Before(until) && !stopped(stop); {
			var b []byte
			if rng.Intn(2) == 0 {
				buf := make([]byte, 64<<10)
				var n int
				n, err = fd.ReadAt(buf, 0)
				if errors.Is(err, io.EOF) {
					err = nil
				}
				b = buf[:n]
			} else if _, err = fd.Seek(0, io.SeekStart); err == nil {
				b, err = io.ReadAll(fd)
			}
			if err != nil {
				if !mountFault(err) {
					rn.rec.anomaly("mount-read-error", "reading %s through a held descriptor of mount %d: %v", f, r.id, err)
				}
				rn.rec.count("read mount-held", Fail)
				break
			}
			rn.rec.count("read mount-held", OK)
			n, perr := parseMount(f, string(b))
			switch {
			case perr != nil:
				rn.rec.anomaly("mount-held-torn", "mount %d, held descriptor: %v", r.id, perr)
			case n < seen:
				rn.rec.anomaly("mount-held-went-back", "mount %d: a held descriptor showed %s at %d after showing it at %d", r.id, f, n, seen)
			case f != own && n < last[f]:
				rn.rec.anomaly("mount-held-went-back", "mount %d: a held descriptor showed %s at %d after another showed it at %d", r.id, f, n, last[f])
			}
			seen = max(seen, n)
			last[f] = max(last[f], n)
			sleep(stop, time.Duration(10+rng.Intn(30))*time.Millisecond)
		}
		fd.Close()
	}
}

// mmapReader maps a followed file, MAP_SHARED or MAP_PRIVATE, through a
// descriptor it holds for a while, and reads the mapping: the bytes are
// one whole content, never padded or cut, and never older than the last
// the reader mapped. A mapping keeps the length it was made with, so a
// mapping whose length is no longer the file's (the file changed between
// fstat and the read) may rightly show a content cut or padded; that is
// counted, not flagged. A fault on the mapping (SIGBUS, from a mount that
// died) ends the descriptor.
func (rn *run) mmapReader(r *replica, rng *rand.Rand, stop <-chan struct{}) {
	last := map[string]int{}
	files := rn.mountFiles()
	for !stopped(stop) {
		f := files[rng.Intn(len(files))]
		fd, err := os.Open(filepath.Join(r.mnt, mountDir, f))
		if err != nil {
			if !mountFault(err) {
				rn.rec.anomaly("mount-read-error", "opening %s through mount %d: %v", f, r.id, err)
			}
			rn.rec.count("read mount-mmap", Fail)
			sleep(stop, 100*time.Millisecond)
			continue
		}
		for until := time.Now().Add(time.Duration(300+rng.Intn(2000)) * time.Millisecond); time.Now().Before(until) && !stopped(stop); {
			b, size, err := readMapped(fd, rng.Intn(2) == 0)
			if err != nil {
				if !mountFault(err) && !errors.Is(err, errMapFault) {
					rn.rec.anomaly("mount-read-error", "mapping %s through mount %d: %v", f, r.id, err)
				}
				rn.rec.count("read mount-mmap", Fail)
				break
			}
			if size == 0 {
				sleep(stop, 20*time.Millisecond)
				continue
			}
			n, perr := parseMount(f, string(b))
			if perr != nil && cutOrPadded(f, string(b)) {
				// One whole content through a mapping of another length.
				rn.rec.count("read mount-mmap-raced", OK)
				sleep(stop, 10*time.Millisecond)
				continue
			}
			if perr != nil {
				// Whole or not depends on whether the mapping's length is
				// still the file's: a direct read says what the file is.
				buf := make([]byte, 64<<10)
				cn, cerr := fd.ReadAt(buf, 0)
				if cerr != nil && !errors.Is(cerr, io.EOF) {
					rn.rec.count("read mount-mmap", Fail)
					break
				}
				if int64(cn) == size && !bytes.Equal(buf[:cn], b) {
					rn.rec.anomaly("mount-mmap-torn", "mount %d, mapping of %d bytes: %v", r.id, size, perr)
				} else {
					rn.rec.count("read mount-mmap-raced", OK)
				}
				sleep(stop, 10*time.Millisecond)
				continue
			}
			rn.rec.count("read mount-mmap", OK)
			if n < last[f] {
				rn.rec.anomaly("mount-mmap-went-back", "mount %d mapped %s at %d after mapping it at %d", r.id, f, n, last[f])
			}
			last[f] = max(last[f], n)
			sleep(stop, time.Duration(10+rng.Intn(30))*time.Millisecond)
		}
		fd.Close()
	}
}

// cutOrPadded reports whether a mapping's bytes are one whole content of
// the file seen through a mapping of another length: cut (the file grew
// since the mapping was made) or padded with zeros (it shrank). The
// harness used to decide that with a direct read after the mapping's, and
// flagged a third version of the mapping's length as torn (a 30-minute
// run, twice).
func cutOrPadded(file, b string) bool {
	if t := strings.TrimRight(b, "\x00"); len(t) < len(b) {
		_, err := parseMount(file, t)
		return err == nil
	}
	if strings.HasSuffix(b, "\n") {
		return false // whole length, yet not whole content
	}
	base := filepath.Base(file)
	rest, ok := strings.CutPrefix(b, base+" ")
	if !ok {
		return false
	}
	digits, tail, complete := strings.Cut(rest, " ")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	if !complete {
		return true // cut inside the counter: a prefix of that counter's content
	}
	n, err := strconv.Atoi(digits)
	if err != nil || !strings.HasPrefix(base, "rr") {
		return false // only rr files have a third field
	}
	whole := strconv.Itoa(checkValue(n)) + "\n"
	return len(tail) < len(whole) && strings.HasPrefix(whole, tail)
}

// errMapFault is a fault while reading a mapping.
var errMapFault = errors.New("fault reading the mapping")

// readMapped maps the file with its current size and copies the mapping.
//
// The copy is made by the kernel, with write(2) of the mapping into a
// pipe, never by touching the mapping from Go: a page fault on a mapping
// of a replica the nemesis has paused waits for that replica, and a
// goroutine waiting in a page fault cannot be stopped by the Go runtime,
// so the next garbage collection would wait for it too, and the whole
// harness, the nemesis that would resume the replica included, would
// hang (a 5-replica run froze so). Inside a system call the goroutine
// does not hold the runtime up.
func readMapped(fd *os.File, shared bool) (b []byte, size int64, err error) {
	st, err := fd.Stat()
	if err != nil || st.Size() == 0 {
		return nil, 0, err
	}
	size = st.Size()
	flag := syscall.MAP_PRIVATE
	if shared {
		flag = syscall.MAP_SHARED
	}
	m, err := syscall.Mmap(int(fd.Fd()), 0, int(size), syscall.PROT_READ, flag)
	if err != nil {
		return nil, 0, err
	}
	defer syscall.Munmap(m)
	if b, err = copyMapping(m); err != nil {
		return nil, 0, err
	}
	return b, size, nil
}

// copyMapping copies a mapping through a pipe (see readMapped).
func copyMapping(m []byte) ([]byte, error) {
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_CLOEXEC); err != nil {
		return nil, err
	}
	defer syscall.Close(p[0])
	defer syscall.Close(p[1])
	out := make([]byte, 0, len(m))
	buf := make([]byte, 16<<10)
	for off := 0; off < len(m); {
		end := min(off+len(buf), len(m))
		n, err := syscall.Write(p[1], m[off:end])
		if errors.Is(err, syscall.EFAULT) {
			return nil, errMapFault // SIGBUS, had Go touched it
		}
		if err != nil {
			return nil, err
		}
		if _, err := io.ReadFull(pipeReader(p[0]), buf[:n]); err != nil {
			return nil, err
		}
		out = append(out, buf[:n]...)
		off += n
	}
	return out, nil
}

// pipeReader reads a raw descriptor.
type pipeReader int

func (r pipeReader) Read(b []byte) (int, error) {
	n, err := syscall.Read(int(r), b)
	if n < 0 {
		n = 0
	}
	if err == nil && n == 0 {
		err = io.EOF
	}
	return n, err
}
