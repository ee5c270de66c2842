package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"zkfs/test"
)

// zkHome is where Debian's zookeeper package installs the scripts.
const zkHome = "/usr/share/zookeeper"

// ensureZooKeeper installs Debian's zookeeper package when it is missing.
func ensureZooKeeper() error {
	if _, err := os.Stat(filepath.Join(zkHome, "bin", "zkServer.sh")); err == nil {
		return nil
	}
	fmt.Fprintln(os.Stderr, "bench: installing ZooKeeper (apt-get install zookeeper)")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "zookeeper"}} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if _, err := os.Stat(filepath.Join(zkHome, "bin", "zkServer.sh")); err != nil {
		return fmt.Errorf("zookeeper installed but %v", err)
	}
	return nil
}

// zkEnsemble is three Apache ZooKeeper servers, each started with
// `zkServer.sh start-foreground` on its own generated zoo.cfg and myid.
type zkEnsemble struct {
	heap    string
	servers []*zkServer
}

type zkServer struct {
	id         int
	dir        string
	cfg        string
	data       string
	log        string
	clientPort int
	peer       int
	elect      int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
}

func (s *zkServer) addr() string { return fmt.Sprintf("127.0.0.1:%d", s.clientPort) }

func startZooKeeper(ctx context.Context, dir, heap string) (*zkEnsemble, error) {
	if err := ensureZooKeeper(); err != nil {
		return nil, err
	}
	e := &zkEnsemble{heap: heap}
	for id := 1; id <= 3; id++ {
		sdir := filepath.Join(dir, fmt.Sprintf("zk%d", id))
		var ports [3]int
		for i := range ports {
			p, err := test.FreePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		s := &zkServer{id: id, dir: sdir, cfg: filepath.Join(sdir, "zoo.cfg"), data: filepath.Join(sdir, "data"),
			log: filepath.Join(sdir, "server.log"), clientPort: ports[0], peer: ports[1], elect: ports[2]}
		e.servers = append(e.servers, s)
	}
	var servers strings.Builder
	for _, s := range e.servers {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d\n", s.id, s.peer, s.elect)
	}
	for _, s := range e.servers {
		// ZooKeeper's defaults otherwise: forceSync (fsync) on, snapCount
		// 100,000, no autopurge. Connections are unlimited because every
		// benchmark session comes from 127.0.0.1.
		cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.enableServer=false\n4lw.commands.whitelist=*\n%s",
			zkfsTickTime, s.data, s.clientPort, servers.String())
		if err := writeMyID(s.data, s.id); err != nil {
			return nil, err
		}
		if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(e.servers))
	for i := range e.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.start(ctx, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func (e *zkEnsemble) name() string         { return "ZooKeeper" }
func (e *zkEnsemble) size() int            { return len(e.servers) }
func (e *zkEnsemble) addr(i int) string    { return e.servers[i].addr() }
func (e *zkEnsemble) dataDir(i int) string { return e.servers[i].data }

func (e *zkEnsemble) pid(i int) int {
	s := e.servers[i]
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// start runs the server and waits until it serves. start-foreground execs
// java, so the process is the JVM itself and its RSS is ZooKeeper's.
func (e *zkEnsemble) start(ctx context.Context, i int) error {
	s := e.servers[i]
	s.mu.Lock()
	if s.cmd != nil {
		s.mu.Unlock()
		return fmt.Errorf("ZooKeeper server %d already runs", s.id)
	}
	logf, err := os.OpenFile(s.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	cmd := exec.Command(filepath.Join(zkHome, "bin", "zkServer.sh"), "start-foreground", s.cfg)
	cmd.Env = append(os.Environ(),
		"JMXDISABLE=true",
		"SERVER_JVMFLAGS=-Xmx"+e.heap,
		"ZOO_LOG_DIR="+s.dir,
		"ZOO_LOG4J_PROP=INFO,CONSOLE")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.mu.Unlock()
		return err
	}
	done := make(chan struct{})
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	deadline := time.Now().Add(120 * time.Second)
	for mode(s.addr()) == "" {
		select {
		case <-done:
			return fmt.Errorf("ZooKeeper server %d exited while starting:\n%s", s.id, tail(s.log, 3000))
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper server %d does not serve after 120s:\n%s", s.id, tail(s.log, 3000))
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (e *zkEnsemble) kill(i int) error { return e.signalAndWait(i, syscall.SIGKILL) }

func (e *zkEnsemble) stop(i int) error { return e.signalAndWait(i, syscall.SIGTERM) }

func (e *zkEnsemble) signalAndWait(i int, sig syscall.Signal) error {
	s := e.servers[i]
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return nil
	}
	syscall.Kill(-cmd.Process.Pid, sig)
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.mu.Lock()
	s.cmd = nil
	s.mu.Unlock()
	return nil
}

func (e *zkEnsemble) close() {
	var wg sync.WaitGroup
	for i := range e.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e.stop(i)
		}()
	}
	wg.Wait()
}

// version is the server's version line from srvr.
func (e *zkEnsemble) version() string {
	out, _ := test.FourLetter(e.addr(0), "srvr", 2*time.Second)
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Zookeeper version: "); ok {
			return v
		}
	}
	return "unknown"
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
