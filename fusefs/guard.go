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
// thread is stuck. The guard then checks that the server really is dying,
// and aborts the mount's FUSE connection if it is still there: the stuck
// thread goes on, the process exits, and the mount answers ENOTCONN until
// the next server takes it over (New detaches a dead mount). A clean
// shutdown unmounts first and stops the guard, which then has nothing to do.

// guardSignal is the signal the kernel sends the guard when its server
// dies. Not SIGTERM or SIGINT: the guard shares the server's process group
// and service cgroup, whose stop signals it ignores, so that it outlives
// the server by the moment it needs.
const guardSignal = syscall.SIGUSR1

// guardDyingWait bounds how long the guard waits, after the signal, to see
// the server's process dying. A real death shows within milliseconds; a
// SIGUSR1 from anyone else never does, and is ignored.
const guardDyingWait = 2 * time.Second

// guard is the running guard process of a mount.
type guard struct {
	cmd  *exec.Cmd
	stop chan struct{} // closed to let the guard's thread go
	done chan error    // the guard's exit
}

// startGuard starts the mount's guard: argv runs the guard (the zkfs
// binary's hidden mount-guard command, Options.Guard), to which the
// server's pid, the connection's device number and the mount point are
// appended, the form RunGuard parses. Unmount stops it.
func (m *Mount) startGuard(argv []string) error {
	if m.dev == 0 {
		return errors.New("fusefs: the mount's FUSE connection is unknown; no guard")
	}
	args := append(append([]string{}, argv[1:]...), strconv.Itoa(os.Getpid()), strconv.FormatUint(m.dev, 10), m.dir)
	g := &guard{cmd: exec.Command(argv[0], args...), stop: make(chan struct{}), done: make(chan error, 1)}
	g.cmd.Stderr = os.Stderr
	g.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: guardSignal}
	started := make(chan error, 1)
	go func() {
		// The kernel ties the death signal to the thread that forks,
		// not to the process: this thread must live as long as the
		// server, so it stays locked to this goroutine, which waits.
		runtime.LockOSThread()
		if err := g.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		go func() { g.done <- g.cmd.Wait() }()
		<-g.stop
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("fusefs: starting the mount's guard: %w", err)
	}
	m.guard = g
	return nil
}

// stopGuard ends the guard once the mount is gone.
func (g *guard) stopGuard() {
	g.cmd.Process.Kill()
	<-g.done
	close(g.stop)
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
	signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	died := make(chan os.Signal, 1)
	signal.Notify(died, guardSignal)
	// The server may have died before Notify; then the signal was lost,
	// but the process shows it.
	if !processDying(pid) {
		for range died {
			if waitDying(pid) {
				break
			}
			log.Warn("mount-guard: SIGUSR1, but the server lives on; ignored", "pid", pid)
		}
	}
	if e, ok := mountEntryAt(dir); !ok || e.dev != dev {
		return nil // unmounted, or another mount took the place
	}
	log.Warn("mount-guard: the server died with its mount attached; aborting the FUSE connection, so that nothing stays blocked on it", "pid", pid, "dir", dir, "connection", dev)
	return abortConnection(dev)
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

// processDying reports whether pid is gone, its main thread has exited,
// or a SIGKILL waits for it: the states of a process that is exiting,
// whether or not one of its threads is stuck in the kernel.
func processDying(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses and
	// may hold anything.
	if i := bytes.LastIndexByte(stat, ')'); i >= 0 && i+2 < len(stat) {
		if s := stat[i+2]; s == 'Z' || s == 'X' {
			return true
		}
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
