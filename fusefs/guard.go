package fusefs

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A server killed while a thread of it waits in the kernel on its own
// mount cannot finish dying (abort.go). Nothing inside the dying process
// can act any more, so the mount's guard acts from outside: a small
// process of its own that the server starts once the mount is up. The
// kernel signals it (PR_SET_PDEATHSIG) as soon as the server thread that
// started it exits, which a SIGKILL does at once, even while another
// thread is stuck. The guard then checks that the server really is dying
// and gives it guardExitWait to finish: a server that exits closes its
// FUSE device, and the kernel ends the connection the usual way (the
// mount answers ENOTCONN, as after any crash, until the next server takes
// it over). Only if a thread of it is still alive then, stuck, does the
// guard abort the mount's FUSE connection: the stuck thread goes on and
// the process exits (the mount then answers ECONNABORTED). A clean
// shutdown unmounts first and stops the guard, which then has nothing to
// do.

// guardSignal is the signal the kernel sends the guard when its server
// dies. Not SIGTERM or SIGINT: the guard shares the server's process group
// and service cgroup, whose stop signals it ignores, so that it outlives
// the server by the moment it needs.
const guardSignal = syscall.SIGUSR1

// guardDyingWait bounds how long the guard waits, after the signal, to see
// the server's process dying. A real death shows within milliseconds; a
// SIGUSR1 from anyone else never does, and is ignored.
const guardDyingWait = 2 * time.Second

// guardPoll is how often the guard looks at its server's process.
const guardPoll = 250 * time.Millisecond

// guardExitWait is how long a dying server may take to exit on its own
// before the guard takes it for stuck. An exit takes milliseconds; a
// stuck thread never ends without the abort.
const guardExitWait = 2 * time.Second

// guard is the running guard process of a mount.
type guard struct {
	stop chan struct{} // closed to end the guard
	done chan struct{} // closed once the guard process has exited
}

// guardRestartWait spaces the starts of a guard that keeps exiting.
const guardRestartWait = time.Second

// startGuard starts the mount's guard: argv runs the guard (the zkfs
// binary's hidden mount-guard command, Options.Guard), to which the
// server's pid, the connection's device number and the mount point are
// appended, the form RunGuard parses. A guard that exits while the mount
// lives (a signal that came before the Go runtime could catch it kills
// it) is started again. Unmount stops it.
func (m *Mount) startGuard(argv []string) error {
	if m.dev == 0 {
		return errors.New("fusefs: the mount's FUSE connection is unknown; no guard")
	}
	// go-fuse's direct mount opens /dev/fuse without close-on-exec: a
	// guard holding it would keep a dead server's connection open.
	closeFuseOnExec()
	args := append(append([]string{}, argv[1:]...), strconv.Itoa(os.Getpid()), strconv.FormatUint(m.dev, 10), m.dir)
	g := &guard{stop: make(chan struct{}), done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		defer close(g.done)
		// The kernel ties the death signal to the thread that forks,
		// not to the process: this thread must live as long as the
		// server, so it stays locked to this goroutine, which waits.
		runtime.LockOSThread()
		for first := true; ; first = false {
			cmd := exec.Command(argv[0], args...)
			cmd.Stderr = os.Stderr
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: guardSignal}
			err := cmd.Start()
			if first {
				started <- err
			}
			if err != nil {
				if !first {
					m.log.Warn("the mount's guard did not start again; the mount is unguarded", "err", err)
				}
				return
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			select {
			case <-g.stop:
				cmd.Process.Kill()
				<-exited
				return
			case err := <-exited:
				m.log.Warn("the mount's guard exited; starting it again", "err", err)
			}
			select {
			case <-g.stop:
				return
			case <-time.After(guardRestartWait):
			}
		}
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("fusefs: starting the mount's guard: %w", err)
	}
	m.guard = g
	return nil
}

// fuseDescriptors returns this process's descriptors of /dev/fuse.
func fuseDescriptors() []int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return nil
	}
	var fds []int
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if target, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil && target == "/dev/fuse" {
			fds = append(fds, fd)
		}
	}
	return fds
}

// closeFuseOnExec marks this process's /dev/fuse descriptors
// close-on-exec, so that no child inherits a mount's connection.
func closeFuseOnExec() {
	for _, fd := range fuseDescriptors() {
		syscall.CloseOnExec(fd)
	}
}

// stopGuard ends the guard once the mount is gone.
func (g *guard) stopGuard() {
	close(g.stop)
	<-g.done
}

// RunGuard is the guard process: args are the server's pid, the FUSE
// connection's device number and the mount point. It returns when its
// server has died, after aborting the connection if the mount outlived it.
func RunGuard(args []string, log *slog.Logger) error {
	if len(args) != 3 {
		return errors.New("usage: mount-guard PID DEV DIR")
	}
	pid, err := strconv.Atoi(args[0])
	if err != nil {
		return fmt.Errorf("mount-guard: pid %q: %w", args[0], err)
	}
	dev, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil {
		return fmt.Errorf("mount-guard: device %q: %w", args[1], err)
	}
	dir := args[2]
	// A FUSE connection this process held would outlive its server.
	for _, fd := range fuseDescriptors() {
		syscall.Close(fd)
	}
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	died := make(chan os.Signal, 1)
	signal.Notify(died, guardSignal)
	// The signal comes when the thread that started the guard exits,
	// after it closed its files if it was the process's last: a last
	// thread stuck closing a file of its own mount never sends it. So the
	// guard also looks at the process every guardPoll.
	poll := time.NewTicker(guardPoll)
	defer poll.Stop()
	for !processDying(pid) {
		select {
		case <-died:
			if !waitDying(pid) {
				log.Warn("mount-guard: SIGUSR1, but the server lives on; ignored", "pid", pid)
			}
		case <-poll.C:
		}
	}
	if waitExited(pid, guardExitWait) {
		return nil // the kernel ended the connection as the process closed it
	}
	if e, ok := mountEntryAt(dir); !ok || e.dev != dev {
		return nil // unmounted, or another mount took the place
	}
	log.Warn("mount-guard: the killed server is stuck on its own mount; aborting the FUSE connection, so that it and the processes waiting on it go on", "pid", pid, "dir", dir, "connection", dev, "waited", guardExitWait)
	return abortConnection(dev)
}

// waitExited reports whether every thread of pid exits within d: the
// process is gone, or only its main thread is left, a zombie waiting for
// its parent.
func waitExited(pid int, d time.Duration) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(10 * time.Millisecond) {
		tasks, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/task")
		if err != nil {
			return true
		}
		if len(tasks) <= 1 && processZombie(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// pfExiting is the kernel's PF_EXITING task flag: the thread is in
// do_exit.
const pfExiting = 0x4

// leaderExiting reports whether pid's main thread has begun to exit, as
// the flags in /proc/PID/stat say: a main thread stuck in do_exit (the
// process's last thread, closing a file of its own mount) shows it. Only
// the main thread is looked at: other threads of a live process may end,
// but Go's main thread ends only with the process.
func leaderExiting(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return false
	}
	// After the command: state, ppid, pgrp, session, tty_nr, tpgid, flags.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 7 {
		return false
	}
	flags, err := strconv.ParseUint(f[6], 10, 64)
	return err == nil && flags&pfExiting != 0
}

// processZombie reports whether pid's main thread has exited (or pid is
// gone). The state follows the command name, which is in parentheses and
// may hold anything.
func processZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := bytes.LastIndexByte(stat, ')')
	return i >= 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X')
}

// waitDying reports whether the process shows it is dying within
// guardDyingWait.
func waitDying(pid int) bool {
	for deadline := time.Now().Add(guardDyingWait); ; {
		if processDying(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// processDying reports whether pid is gone, its main thread has exited or
// is exiting, or a SIGKILL waits for it: the states of a process that is
// exiting, whether or not one of its threads is stuck in the kernel.
func processDying(pid int) bool {
	if processZombie(pid) || leaderExiting(pid) {
		return true
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return true
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok || (name != "SigPnd" && name != "ShdPnd") {
			continue
		}
		mask, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
		if err == nil && mask&(1<<(uint(syscall.SIGKILL)-1)) != 0 {
			return true
		}
	}
	return false
}
