package test

import (
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// zkfsBin is the binary built once for every test in the package.
var zkfsBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zkfs-e2e-bin-")
	if err != nil {
		log.Fatal(err)
	}
	zkfsBin, err = Build("..", dir)
	if err != nil {
		os.RemoveAll(dir)
		log.Fatal(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// startServer starts a server for t and stops it when t ends, printing its
// log if t failed.
func startServer(t *testing.T, args ...string) *Server {
	t.Helper()
	s, err := NewServer(zkfsBin, t.TempDir(), args...)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(20 * time.Second); err != nil {
			t.Errorf("stopping the server: %v", err)
		}
		if t.Failed() {
			t.Logf("server log (tail):\n%s", s.LogTail(8000))
		}
	})
	return s
}

// quietLogger silences go-zookeeper, which logs every reconnection.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// connect opens a go-zookeeper session and waits until it is connected.
func connect(t *testing.T, addr string, timeout time.Duration) *zk.Conn {
	t.Helper()
	c, err := dial(addr, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func dial(addr string, timeout time.Duration) (*zk.Conn, error) {
	c, ev, err := zk.Connect([]string{addr}, timeout, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ev:
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c, nil
			}
		case <-deadline:
			c.Close()
			return nil, fmt.Errorf("no session with %s after 10s", addr)
		}
	}
}
