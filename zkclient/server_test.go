package zkclient

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// zkServer is a standalone ZooKeeper 3.8 that a test can stop and start
// again on the same port and data, to exercise reconnection.
type zkServer struct {
	t    *testing.T
	addr string
	cfg  string
	cmd  *exec.Cmd
	done chan struct{}
	log  bytes.Buffer
}

const zkBin = "/usr/share/zookeeper/bin"

// startZooKeeper starts a server and stops it when the test ends. Tests
// fail, never skip, when ZooKeeper is not installed.
func startZooKeeper(t *testing.T) *zkServer {
	t.Helper()
	if _, err := os.Stat(filepath.Join(zkBin, "zkServer.sh")); err != nil {
		t.Fatalf("ZooKeeper is not installed (%v): install Debian's zookeeper package (apt-get install zookeeper), which these tests run against", err)
	}
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	s := &zkServer{t: t, addr: fmt.Sprintf("127.0.0.1:%d", port), cfg: filepath.Join(dir, "zoo.cfg")}
	// tickTime 1000 lets the tests ask for sessions as short as 2 s.
	conf := fmt.Sprintf("tickTime=1000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n4lw.commands.whitelist=*\n",
		filepath.Join(dir, "data"), port)
	if err := os.WriteFile(s.cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.stop)
	return s
}

func (s *zkServer) start() {
	s.t.Helper()
	s.log.Reset()
	s.cmd = exec.Command(filepath.Join(zkBin, "zkServer.sh"), "start-foreground", s.cfg)
	s.cmd.Env = append(os.Environ(), "JMXDISABLE=true", "ZOO_LOG_DIR="+filepath.Dir(s.cfg))
	s.cmd.Stdout, s.cmd.Stderr = &s.log, &s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting ZooKeeper: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(s.cmd, s.done)
	deadline := time.Now().Add(60 * time.Second)
	for !s.ruok() {
		select {
		case <-s.done:
			s.t.Fatalf("ZooKeeper exited at start:\n%s", s.log.String())
		default:
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ZooKeeper did not start within 60s:\n%s", s.log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (s *zkServer) ruok() bool { return fourLetter(s.addr, "ruok") == "imok" }

// fourLetter sends a four-letter word and returns the answer, "" on error.
func fourLetter(addr, word string) string {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		return ""
	}
	var b bytes.Buffer
	b.ReadFrom(c)
	return b.String()
}

// stop kills the server and waits for it to go; stopping twice is fine.
func (s *zkServer) stop() {
	if s.cmd == nil {
		return
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.done
	s.cmd = nil
}
