// Package test holds zkfs's end-to-end tests: real `zkfs server` processes
// on loopback ports, driven by real clients. This file has the process
// helpers that the tests share (and that ensemble and chaos tests reuse):
// build the binary once, start, stop, kill, pause, resume, restart, wipe
// the data directory, and wait until a server answers.
package test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	mathrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Build compiles ./cmd/zkfs from the module rooted at moduleDir into dir
// and returns the binary's path. Tests call it once, from TestMain.
func Build(moduleDir, dir string) (string, error) {
	bin := filepath.Join(dir, "zkfs")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/zkfs")
	cmd.Dir = moduleDir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
}

// FreePort returns a loopback TCP port that was free a moment ago, for a
// server that binds it later. It picks below the kernel's ephemeral range
// (32768 and up by default), from which every outgoing connection takes
// its local port: a port from there can be taken by some client's
// connection before the server binds it, which on a busy machine made
// ZooKeeper's servers exit at start. Processes that pick at the same time
// can still collide, with a chance of about one in ten thousand.
//
// A port is handed out once per process: the servers of one ensemble pick
// their ports before any binds, and a second pick of a port still unbound
// would pass the check (the ports of about a hundred ensembles made that
// a one-in-five chance per make test).
func FreePort() (int, error) {
	for range 100 {
		p := lowPortMin + mathrand.IntN(lowPortMax-lowPortMin)
		if _, taken := handedOut.LoadOrStore(p, true); taken {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		l.Close()
		return p, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// handedOut holds the ports FreePort has returned in this process.
var handedOut sync.Map

// lowPortMin and lowPortMax bound FreePort's picks: below the ephemeral
// range, above the ports services usually own.
const (
	lowPortMin = 12000
	lowPortMax = 32000
)

// Server is one `zkfs server` process and the data directory it owns. The
// port and the directory stay the same across restarts, so that clients
// can reconnect and state must survive.
type Server struct {
	// Bin is the zkfs binary.
	Bin string
	// DataDir is the server's --data-dir.
	DataDir string
	// ClientPort is the server's --client-port on 127.0.0.1.
	ClientPort int
	// Args are extra flags for `zkfs server`.
	Args []string
	// Env holds extra NAME=value environment variables for the process.
	Env []string
	// LogPath receives the server's standard error, appended across
	// restarts.
	LogPath string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the current process has exited
	exit error
}

// NewServer prepares a server with its own data directory and log under
// dir and a free port. It does not start it.
func NewServer(bin, dir string, args ...string) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	return &Server{
		Bin:        bin,
		DataDir:    filepath.Join(dir, "data"),
		ClientPort: port,
		Args:       args,
		LogPath:    filepath.Join(dir, "server.log"),
	}, nil
}

// Addr is the client address, host:port.
func (s *Server) Addr() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.ClientPort))
}

// Start launches the process and waits until it answers ruok, or fails if
// it exits or does not answer within timeout.
func (s *Server) Start(timeout time.Duration) error {
	s.mu.Lock()
	if s.cmd != nil {
		select {
		case <-s.done:
			s.cmd = nil // the last process exited on its own
		default:
			s.mu.Unlock()
			return errors.New("test: server already running")
		}
	}
	logf, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	args := append([]string{"server",
		"--data-dir", s.DataDir,
		"--client-address", "127.0.0.1",
		"--client-port", strconv.Itoa(s.ClientPort),
		"--4lw-whitelist", "*",
	}, s.Args...)
	cmd := exec.Command(s.Bin, args...)
	if len(s.Env) > 0 {
		cmd.Env = append(os.Environ(), s.Env...)
	}
	cmd.Stdout = logf
	cmd.Stderr = logf
	// Its own process group, so that a signal meant for the test run does
	// not reach it and SIGSTOP affects it alone. SIGTERM when the test
	// binary dies (a -timeout panic runs no cleanup), so that the server
	// unmounts and exits instead of living on with its mount.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	s.cmd, s.done, s.exit = cmd, done, nil
	s.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		s.mu.Lock()
		s.exit = err
		s.mu.Unlock()
		close(done)
	}()
	return s.WaitServing(timeout)
}

// WaitServing polls ruok until the server answers imok.
func (s *Server) WaitServing(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		done := s.done
		s.mu.Unlock()
		if done != nil {
			select {
			case <-done:
				return fmt.Errorf("test: server exited while starting: %v\n%s", s.ExitErr(), s.LogTail(2000))
			default:
			}
		}
		out, err := FourLetter(s.Addr(), "ruok", time.Second)
		if err == nil && out == "imok" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("test: server at %s not serving after %v (last: %q, %v)\n%s", s.Addr(), timeout, out, err, s.LogTail(2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM and waits for a clean exit.
func (s *Server) Stop(timeout time.Duration) error {
	return s.signalAndWait(syscall.SIGTERM, timeout)
}

// Kill sends SIGKILL, as a crash or a power cut would end the process, and
// waits for it to be gone.
func (s *Server) Kill() error {
	err := s.signalAndWait(syscall.SIGKILL, 10*time.Second)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return nil // killed, as asked
	}
	return err
}

// Pause stops the process with SIGSTOP: it keeps its sockets but answers
// nothing, like a server stuck in a long GC pause or a frozen VM.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume continues a paused process.
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// Restart stops the process (SIGTERM) if it runs and starts it again on
// the same port and data directory.
func (s *Server) Restart(timeout time.Duration) error {
	if s.Running() {
		if err := s.Stop(timeout); err != nil {
			return err
		}
	}
	return s.Start(timeout)
}

// WipeData deletes the data directory; the server must not be running.
func (s *Server) WipeData() error {
	if s.Running() {
		return errors.New("test: wipe the data of a running server")
	}
	return os.RemoveAll(s.DataDir)
}

// Running reports whether the process is alive.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.done:
		return false // exited on its own
	default:
		return true
	}
}

// ExitErr returns how the last process ended (nil for exit status 0).
func (s *Server) ExitErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.exit
}

// Done returns a channel closed when the current process exits, nil if
// none was started. A harness that kills on purpose watches it to tell a
// crash from its own doing.
func (s *Server) Done() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	return s.done
}

// Pid returns the running process's id, 0 if none.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// LogTail returns the last n bytes of the server's log, for failure
// messages.
func (s *Server) LogTail(n int) string {
	b, err := os.ReadFile(s.LogPath)
	if err != nil {
		return ""
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

func (s *Server) signal(sig syscall.Signal) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return errors.New("test: server not running")
	}
	return s.cmd.Process.Signal(sig)
}

func (s *Server) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	// A paused process would not act on SIGTERM until continued.
	cmd.Process.Signal(syscall.SIGCONT)
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
	case <-time.After(timeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("test: server did not exit within %v of %v; killed", timeout, sig)
	}
	s.mu.Lock()
	s.cmd = nil
	err := s.exit
	s.mu.Unlock()
	return err
}

// FourLetter sends a four-letter word to addr and returns the whole answer.
func FourLetter(addr, word string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte(word)); err != nil {
		return "", err
	}
	var b bytes.Buffer
	_, err = io.Copy(&b, c)
	return b.String(), err
}
