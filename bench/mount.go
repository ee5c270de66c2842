package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-zookeeper/zk"
	"golang.org/x/sys/unix"
)

// The mount workload's nodes: a 100 B file, a file that is rewritten, and
// a directory with many children.
const (
	mountDir   = "/bench/mount"
	mountFile  = mountDir + "/f"
	mountWrite = mountDir + "/w"
	mountList  = mountDir + "/d"
)

// mountWorkload runs the same syscall loops on server 2's mount and on
// tmpfs, in this process: the mount is served by the zkfs process, so the
// loops measure what any program on the machine would see.
func mountWorkload(ctx context.Context, o *options, zf *zkfsEnsemble, rep *report) error {
	local, err := dial(ctx, zf.addr(2))
	if err != nil {
		return err
	}
	defer local.Close()
	remote, err := dial(ctx, zf.addr(0))
	if err != nil {
		return err
	}
	defer remote.Close()
	if err := fillMountTree(local, o.readdirChildren); err != nil {
		return err
	}
	mnt := filepath.Join(zf.mount(2), mountDir)
	tmp, cleanup, err := tmpfsDir(o.readdirChildren)
	if err != nil {
		return err
	}
	defer cleanup()
	// The replica behind the mount applies the tree before it shows.
	deadline := time.Now().Add(20 * time.Second)
	for {
		names, err := os.ReadDir(filepath.Join(mnt, "d"))
		if err == nil && len(names) >= o.readdirChildren {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("the mount at %s does not show %d children of %s: %v", mnt, o.readdirChildren, mountList, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	const section = "Mount"
	both := func(name string, f func(dir string) error) (base, z loadResult) {
		// Once untimed, so that both start cached.
		f(tmp)
		f(mnt)
		base, z = pairedLoop(ctx, 2*o.mountDuration, func() error { return f(tmp) }, func() error { return f(mnt) })
		rep.check(check{workload: "mount", what: name, system: "tmpfs", ops: base.ops, errs: base.errs, firstErr: base.firstErr})
		rep.check(check{workload: "mount", what: name, system: "zkfs", ops: z.ops, errs: z.errs, firstErr: z.firstErr})
		return base, z
	}
	buf := make([]byte, 64<<10)
	readFile := func(dir string) error {
		_, err := readAll(filepath.Join(dir, "f"), buf)
		return err
	}
	base, cached := both("read", readFile)
	r := rateRow(section, "open+read+close of a 100 B file, cached", "tmpfs", base, cached)
	r.goal, r.met = "≥ 0.5×", r.ratio >= 0.5
	rep.add(r)

	base, z := both("stat", func(dir string) error {
		var st unix.Stat_t
		return unix.Stat(filepath.Join(dir, "f"), &st)
	})
	r = rateRow(section, "stat", "tmpfs", base, z)
	r.goal, r.met = "≥ 0.8×", r.ratio >= 0.8
	rep.add(r)

	entries := 0
	base, z = both("readdir", func(dir string) error {
		n, err := readDir(filepath.Join(dir, "d"), buf)
		entries = n
		return err
	})
	if entries < o.readdirChildren {
		return fmt.Errorf("readdir of the mount's %s returned %d entries, want at least %d", mountList, entries, o.readdirChildren)
	}
	r = rateRow(section, fmt.Sprintf("readdir of %d children", o.readdirChildren), "tmpfs", base, z)
	r.goal, r.met = "≥ 0.25×", r.ratio >= 0.25
	rep.add(r)

	// echo >: every iteration is one replicated write, committed when the
	// file is closed, against a client's set through the same replica.
	// Both are fsync-bound, and the fsyncs of a shared disk stall in
	// bursts: the two alternate call by call, so that both meet the same
	// stalls.
	val := value(100)
	echo, set := pairedLoop(ctx, o.mountDuration, func() error { return writeFile(filepath.Join(mnt, "w"), val) }, func() error {
		_, err := local.Set(mountWrite, val, -1)
		return err
	})
	rep.check(check{workload: "mount", what: "echo >", system: "zkfs", ops: echo.ops, errs: echo.errs, firstErr: echo.firstErr})
	rep.check(check{workload: "mount", what: "client set for echo >", system: "zkfs", ops: set.ops, errs: set.errs, firstErr: set.firstErr})
	r = rateRow(section, "open(O_TRUNC)+write+close of 100 B, one writer", "zkfs client set, same replica", set, echo)
	r.goal, r.met = "≥ 1×", r.ratio >= 1
	rep.add(r)

	return readAfterChange(ctx, o, zf, local, remote, mnt, buf, cached, rep)
}

// readAfterChange times the first read of the mount's file after a set
// through another server, once the mount's server has applied it, and
// compares the cost beyond a cached read with one FUSE round trip. The
// cached read it is compared with is taken the same way, after a set of
// another file: a single read after an idle wait for an event costs more
// than one in a tight loop (sleeping threads wake), and that cost is not
// the change's.
func readAfterChange(ctx context.Context, o *options, zf *zkfsEnsemble, local, remote *zk.Conn, mnt string, buf []byte, cached loadResult, rep *report) error {
	path := filepath.Join(mnt, "f")
	var fresh, quiet latencies
	stale, errs := 0, 0
	var firstErr error
	fail := func(err error) {
		errs++
		if firstErr == nil {
			firstErr = err
		}
	}
	// changeAndWait sets node through the remote server and waits until
	// the mount's server has applied it.
	changeAndWait := func(node string, data []byte) error {
		_, _, ch, err := local.GetW(node)
		if err == nil {
			_, err = remote.Set(node, data, -1)
		}
		if err == nil {
			select {
			case <-ch:
			case <-time.After(watchTimeout):
				err = fmt.Errorf("no watch event for %s at the mount's server", node)
			}
		}
		return err
	}
	var want []byte
	for i := 0; i < o.mountSamples && ctx.Err() == nil; i++ {
		// The file is unchanged: a cached read, after the same wait.
		if i > 0 {
			if err := changeAndWait(mountWrite, value(100)); err != nil {
				fail(err)
				continue
			}
			t0 := time.Now()
			n, err := readAll(path, buf)
			if err != nil {
				fail(err)
				continue
			}
			if !bytes.Equal(buf[:n], want) {
				fail(fmt.Errorf("the mount shows %q for an unchanged file, want %q", buf[:n], want))
				continue
			}
			quiet = append(quiet, time.Since(t0))
		}
		want = []byte(fmt.Sprintf("%-99d\n", i))
		if err := changeAndWait(mountFile, want); err != nil {
			fail(err)
			continue
		}
		// The change is applied on the mount's server: the first read is
		// the one measured; any stale one is counted and read again.
		t0 := time.Now()
		for {
			n, err := readAll(path, buf)
			if err != nil {
				fail(err)
				break
			}
			if bytes.Equal(buf[:n], want) {
				fresh = append(fresh, time.Since(t0))
				break
			}
			stale++
			if time.Since(t0) > watchTimeout {
				fail(fmt.Errorf("the mount still shows %q after %v", buf[:n], watchTimeout))
				break
			}
		}
	}
	rep.check(check{workload: "mount", what: "read after a remote change", system: "zkfs", ops: len(fresh), errs: errs, firstErr: firstErr})
	fresh, quiet = fresh.sorted(), quiet.sorted()

	// One FUSE round trip: getxattr, which the kernel never caches.
	var attr [64]byte
	rt := syscallLoop(ctx, o.mountDuration, func() error {
		_, err := unix.Getxattr(path, "user.zk.version", attr[:])
		return err
	})
	rep.check(check{workload: "mount", what: "getxattr", system: "zkfs", ops: rt.ops, errs: rt.errs, firstErr: rt.firstErr})
	extra := max(0, fresh.percentile(50)-quiet.percentile(50))
	trip := rt.lat.percentile(50)
	r := ratioOf(float64(extra), float64(trip))
	rep.add(row{section: "Mount", name: "read right after a remote change, p50 beyond a cached read after the same wait", baseline: "one FUSE round trip (getxattr p50)",
		base: fmtDur(trip), zkfs: fmtDur(extra), ratio: r, goal: "≤ 1×", met: r <= 1})
	rep.note("Mount read after a remote change: p50 %s, p99 %s; of the unchanged file after a change of another, p50 %s; cached read in a loop p50 %s; getxattr p50 %s; %d stale reads in %d samples.",
		fmtDur(fresh.percentile(50)), fmtDur(fresh.percentile(99)), fmtDur(quiet.percentile(50)), fmtDur(cached.lat.percentile(50)), fmtDur(trip), stale, len(fresh))
	return nil
}

func rateRow(section, name, baseline string, base, z loadResult) row {
	return row{section: section, name: name + " ops/s (p50)", baseline: baseline,
		base:  fmt.Sprintf("%s (%s)", fmtRate(base.rate()), fmtDur(base.lat.percentile(50))),
		zkfs:  fmt.Sprintf("%s (%s)", fmtRate(z.rate()), fmtDur(z.lat.percentile(50))),
		ratio: ratioOf(z.rate(), base.rate())}
}

// syscallLoop calls f in a loop for d on this goroutine.
func syscallLoop(ctx context.Context, d time.Duration, f func() error) loadResult {
	return runWorkers(1, d, ctx.Done(), func(int, int) error { return f() })
}

// pairedLoop calls a and b in turn, one call each, for d. Each result's
// elapsed time is the time spent in its own calls, so that its rate is
// calls per second of its own work, and both sides of a ratio meet the same
// moments of a noisy machine.
func pairedLoop(ctx context.Context, d time.Duration, a, b func() error) (ra, rb loadResult) {
	one := func(r *loadResult, f func() error) {
		t0 := time.Now()
		err := f()
		took := time.Since(t0)
		r.elapsed += took
		if err != nil {
			r.errs++
			if r.firstErr == nil {
				r.firstErr = err
			}
			time.Sleep(time.Millisecond) // not a hot loop on a failing system
			return
		}
		r.ops++
		r.lat = append(r.lat, took)
	}
	for deadline := time.Now().Add(d); time.Now().Before(deadline) && ctx.Err() == nil; {
		one(&ra, a)
		one(&rb, b)
	}
	slices.Sort(ra.lat)
	slices.Sort(rb.lat)
	return ra, rb
}

func readAll(path string, buf []byte) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for n < len(buf) {
		m, err := unix.Read(fd, buf[n:])
		if err != nil {
			unix.Close(fd)
			return 0, err
		}
		if m == 0 {
			break
		}
		n += m
	}
	return n, unix.Close(fd)
}

func writeFile(path string, data []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_TRUNC|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	if _, err := unix.Write(fd, data); err != nil {
		unix.Close(fd)
		return err
	}
	return unix.Close(fd)
}

// readDir lists a directory with getdents64 and returns how many entries
// it has besides . and .., which a FUSE file system need not list.
func readDir(path string, buf []byte) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	entries := 0
	for {
		n, err := unix.Getdents(fd, buf)
		if err != nil {
			return 0, err
		}
		if n == 0 {
			return entries, nil
		}
		// linux_dirent64: ino (8), off (8), reclen (2), type (1), name.
		for off := 0; off < n; {
			reclen := int(buf[off+16]) | int(buf[off+17])<<8
			name := buf[off+19 : off+reclen]
			if i := bytes.IndexByte(name, 0); i >= 0 {
				name = name[:i]
			}
			if s := string(name); s != "." && s != ".." {
				entries++
			}
			off += reclen
		}
	}
}

// fillMountTree creates the mount workload's nodes through a client.
func fillMountTree(c *zk.Conn, children int) error {
	if err := ensure(c, mountList); err != nil {
		return err
	}
	for _, p := range []string{mountFile, mountWrite} {
		if _, err := c.Create(p, value(100), 0, acl); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return err
		}
	}
	var batch []any
	for i := 0; i < children; i++ {
		batch = append(batch, &zk.CreateRequest{Path: fmt.Sprintf("%s/c%05d", mountList, i), Data: value(10), Acl: acl})
		if len(batch) == 500 || i == children-1 {
			if _, err := c.Multi(batch...); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				return fmt.Errorf("creating the children of %s: %w", mountList, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// tmpfsDir builds the same files on tmpfs: /dev/shm when it is one, else
// a tmpfs mounted for the purpose.
func tmpfsDir(children int) (string, func(), error) {
	var st unix.Statfs_t
	var dir string
	var cleanup func()
	if unix.Statfs("/dev/shm", &st) == nil && st.Type == unix.TMPFS_MAGIC {
		d, err := os.MkdirTemp("/dev/shm", "zkfs-bench-")
		if err != nil {
			return "", nil, err
		}
		dir, cleanup = d, func() { os.RemoveAll(d) }
	} else {
		d, err := os.MkdirTemp("", "zkfs-bench-tmpfs-")
		if err != nil {
			return "", nil, err
		}
		if err := unix.Mount("tmpfs", d, "tmpfs", 0, "size=256m"); err != nil {
			os.Remove(d)
			return "", nil, fmt.Errorf("mounting a tmpfs: %w", err)
		}
		dir, cleanup = d, func() { unix.Unmount(d, unix.MNT_DETACH); os.Remove(d) }
	}
	if err := os.MkdirAll(filepath.Join(dir, "d"), 0o755); err != nil {
		cleanup()
		return "", nil, err
	}
	for _, name := range []string{"f", "w"} {
		if err := os.WriteFile(filepath.Join(dir, name), value(100), 0o644); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	for i := 0; i < children; i++ {
		if err := os.WriteFile(filepath.Join(dir, "d", fmt.Sprintf("c%05d", i)), value(10), 0o644); err != nil {
			cleanup()
			return "", nil, err
		}
	}
	return dir, cleanup, nil
}
