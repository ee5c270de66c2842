package main

// The subcommands that run a command (lock, elect, create -e ... --, watch
// ... --) share what is here: the exit statuses, the running of the
// command with its signals, and the watch over the session that stops the
// command once whatever the session stood for (a lock, a leadership, a
// registration) can no longer be trusted.
//
// Exit statuses, the convention of timeout(1) and env(1), so that a script
// can tell zkfs's own outcome from the command's:
//
//	N        the command's exit status, or 128+S if signal S killed it
//	123      the session was lost while the command ran; it was stopped
//	124      the lock was not taken: -n found it held, or --timeout passed
//	125      zkfs failed: bad usage, no server, a ZooKeeper error
//	126      the command was found but could not be run
//	127      the command was not found

import (
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	exitSessionLost = 123
	exitNotAcquired = 124
	exitFailed      = 125
	exitCannotRun   = 126
	exitNotFound    = 127
)

// exitStatus ends a subcommand with a given status, after printing msg (if
// any) as "zkfs NAME: msg".
type exitStatus struct {
	code int
	msg  string
}

func (e *exitStatus) Error() string { return e.msg }

// defaultGrace is how long a command has between SIGTERM and SIGKILL when
// its session is lost.
const defaultGrace = 5 * time.Second

const runHelp = `Exit status: the command's own (128+N if signal N killed it); 123 if the
session was lost while it ran (it was sent SIGTERM, then SIGKILL after
--grace); 124 if the lock was not taken (-n, --timeout); 125 if zkfs
itself failed (usage, no server, a ZooKeeper error); 126 if the command
could not be run; 127 if it was not found. SIGINT, SIGTERM and SIGHUP
sent to zkfs are passed on to the command; if zkfs itself is killed, the
kernel kills the command (SIGKILL) too. Standard input, output and error
are the command's.`

// sessionGuard follows a go-zookeeper session and reports its loss: the
// session expired, or the connection has been down for longer than the
// session timeout, after which the servers have expired it (or will at
// once) even if this client has not heard so yet.
type sessionGuard struct {
	timeout time.Duration
	lostCh  chan struct{}

	mu        sync.Mutex
	lost      bool
	connected bool
	downTimer *time.Timer
}

func newSessionGuard(timeout time.Duration) *sessionGuard {
	return &sessionGuard{timeout: timeout, lostCh: make(chan struct{}), connected: true}
}

// event is the connection's event callback.
func (g *sessionGuard) event(ev zk.Event) {
	if ev.Type != zk.EventSession {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	switch ev.State {
	case zk.StateExpired, zk.StateAuthFailed:
		g.loseLocked()
	case zk.StateDisconnected:
		if g.connected && g.downTimer == nil && !g.lost {
			g.downTimer = time.AfterFunc(g.timeout, func() {
				g.mu.Lock()
				defer g.mu.Unlock()
				g.loseLocked()
			})
		}
		g.connected = false
	case zk.StateHasSession:
		g.connected = true
		if g.downTimer != nil {
			g.downTimer.Stop()
			g.downTimer = nil
		}
	}
}

func (g *sessionGuard) loseLocked() {
	if !g.lost {
		g.lost = true
		close(g.lostCh)
	}
}

// Lost is closed once the session is lost. A lost session never comes
// back: go-zookeeper opens a new one, without the old one's ephemeral
// nodes.
func (g *sessionGuard) Lost() <-chan struct{} { return g.lostCh }

// connectGuarded opens a session whose loss the returned guard reports.
func (o *clientOptions) connectGuarded() (*zk.Conn, *sessionGuard, error) {
	timeout := sessionTimeout
	if o.sessionTimeout > 0 {
		timeout = o.sessionTimeout
	}
	g := newSessionGuard(timeout)
	c, err := o.connect(g.event)
	if err != nil {
		return nil, nil, err
	}
	return c, g, nil
}

// forwardedSignals are passed on to a running command.
var forwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP}

// startCommand starts argv with zkfs's standard streams and environment.
// The command never outlives zkfs: if zkfs is killed, nothing is left to
// stop the command when the session goes, so the kernel kills it at once
// (Pdeathsig; Go never ends the thread that started it, as no goroutine
// here is locked to its thread).
func startCommand(argv []string) (*exec.Cmd, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		code := exitCannotRun
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			code = exitNotFound
		}
		return nil, &exitStatus{code: code, msg: err.Error()}
	}
	return cmd, nil
}

// commandStatus is a finished command's status as a shell reports it.
func commandStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

// superviseCommand runs argv to its end and returns its status, unless
// lost is closed first: the command is then sent SIGTERM, and SIGKILL
// after grace, and superviseCommand returns exitSessionLost once it has
// ended. Signals sent to zkfs meanwhile go to the command.
func superviseCommand(argv []string, lost <-chan struct{}, grace time.Duration) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	cmd, err := startCommand(argv)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	for {
		select {
		case s := <-sigs:
			cmd.Process.Signal(s)
		case <-done:
			return &exitStatus{code: commandStatus(cmd.ProcessState)}
		case <-lost:
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(grace):
				cmd.Process.Kill()
				<-done
			}
			return &exitStatus{code: exitSessionLost, msg: "session lost; command stopped"}
		}
	}
}

// interrupts returns a channel that is closed at the first SIGINT, SIGTERM
// or SIGHUP, and a function that stops listening.
func interrupts() (<-chan struct{}, func()) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, forwardedSignals...)
	ch := make(chan struct{})
	stop := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			close(ch)
		case <-stop:
		}
	}()
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			signal.Stop(sigs)
			close(stop)
		})
	}
}
