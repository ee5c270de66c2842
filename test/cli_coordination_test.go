package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// The tests of zkfs lock, elect, create -e -- and watch -- run the zkfs
// binary as a script would, against a real server, with kazoo on the other
// side where the recipe is kazoo's.

// proc is a zkfs client process running in the background.
type proc struct {
	cmd    *exec.Cmd
	out    *syncBuffer
	done   chan struct{}
	status int
}

func startCLI(t *testing.T, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(zkfsBin, args...), out: &syncBuffer{}, done: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		p.cmd.Wait()
		p.status = p.cmd.ProcessState.ExitCode()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// wait waits for the process to end and returns its exit status.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.status
	case <-time.After(d):
		t.Fatalf("%v still running after %v; output:\n%s", p.cmd.Args, d, p.out)
		return 0
	}
}

// runCLI runs zkfs to its end and returns its exit status and output.
func runCLI(t *testing.T, dir string, args ...string) (int, string) {
	t.Helper()
	p := startCLI(t, dir, args...)
	code := p.wait(t, 60*time.Second)
	return code, p.out.String()
}

// kazooLockScript takes or tries kazoo's Lock (or WriteLock) on a path:
// "try" prints acquired or busy; "hold" prints HELD once it holds the lock
// and releases it when its standard input closes.
const kazooLockScript = `
import sys
from kazoo.client import KazooClient
hosts, path, mode, kind = sys.argv[1:5]
c = KazooClient(hosts=hosts, timeout=10)
c.start(timeout=10)
lk = (c.WriteLock if kind == "write" else c.Lock)(path, "kazoo")
if mode == "try":
    print("acquired" if lk.acquire(blocking=False) else "busy", flush=True)
else:
    lk.acquire()
    print("HELD", flush=True)
    sys.stdin.read()
    lk.release()
c.stop()
`

func TestCLILock(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	s := "--server=" + srv.Addr()

	t.Run("exit status passes through", func(t *testing.T) {
		code, out := runCLI(t, dir, "lock", s, "/st/lk", "--", "sh", "-c", "exit 7")
		if code != 7 {
			t.Errorf("exit status %d, want 7; output %q", code, out)
		}
		if code, _ := runCLI(t, dir, "lock", s, "/st/lk", "--", "./no-such-command"); code != 127 {
			t.Errorf("a missing command exits %d, want 127", code)
		}
		if code, _ := runCLI(t, dir, "lock", s, "/st/lk"); code != 125 {
			t.Errorf("no command exits %d, want 125", code)
		}
	})

	t.Run("critical sections never overlap", func(t *testing.T) {
		// Each critical section makes a directory that must not exist
		// yet: a second holder would find it.
		section := `mkdir inside || echo overlap >> bad; echo x >> count; sleep 0.02; rmdir inside`
		var wg sync.WaitGroup
		const workers, rounds = 4, 3
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := 0; r < rounds; r++ {
					if code, out := runCLI(t, dir, "lock", s, "/mx/lk", "--", "sh", "-c", section); code != 0 {
						t.Errorf("zkfs lock exited %d: %s", code, out)
					}
				}
			}()
		}
		wg.Wait()
		if b, err := os.ReadFile(filepath.Join(dir, "bad")); err == nil {
			t.Errorf("two holders at once (%d times)", strings.Count(string(b), "overlap"))
		}
		if b, _ := os.ReadFile(filepath.Join(dir, "count")); strings.Count(string(b), "x") != workers*rounds {
			t.Errorf("%d critical sections ran, want %d", strings.Count(string(b), "x"), workers*rounds)
		}
		c := connect(t, srv.Addr(), 10*time.Second)
		if kids, _, err := c.Children("/mx/lk"); err != nil || len(kids) != 0 {
			t.Errorf("contenders left behind: %v %v", kids, err)
		}
	})

	t.Run("kazoo interop", func(t *testing.T) {
		requireKazoo(t)
		script := filepath.Join(dir, "kazoo_lock.py")
		if err := os.WriteFile(script, []byte(kazooLockScript), 0o644); err != nil {
			t.Fatal(err)
		}
		// kazoo holds: zkfs lock -n is refused, a waiting zkfs lock
		// runs once kazoo releases.
		holder := exec.Command(kazooPython, script, srv.Addr(), "/kz/lk", "hold", "plain")
		stdin, _ := holder.StdinPipe()
		var hout syncBuffer
		holder.Stdout, holder.Stderr = &hout, &hout
		if err := holder.Start(); err != nil {
			t.Fatal(err)
		}
		defer holder.Wait()
		defer holder.Process.Kill()
		eventually(t, 20*time.Second, "kazoo holding the lock", func() error {
			if !strings.Contains(hout.String(), "HELD") {
				return fmt.Errorf("kazoo says %q", hout.String())
			}
			return nil
		})
		if code, out := runCLI(t, dir, "lock", s, "-n", "/kz/lk", "--", "true"); code != 124 || !strings.Contains(out, `held by "kazoo"`) {
			t.Errorf("zkfs lock -n on kazoo's lock: status %d, output %q; want 124 naming kazoo", code, out)
		}
		waiter := startCLI(t, dir, "lock", s, "/kz/lk", "--", "sh", "-c", "echo ran > waited")
		c := connect(t, srv.Addr(), 10*time.Second)
		eventually(t, 20*time.Second, "the waiter's contender", func() error {
			kids, _, err := c.Children("/kz/lk")
			if err != nil || len(kids) != 2 {
				return fmt.Errorf("contenders %v %v", kids, err)
			}
			return nil
		})
		if _, err := os.Stat(filepath.Join(dir, "waited")); err == nil {
			t.Fatal("zkfs lock ran while kazoo held the lock")
		}
		stdin.Close() // kazoo releases
		if code := waiter.wait(t, 20*time.Second); code != 0 {
			t.Fatalf("waiting zkfs lock exited %d: %s", code, waiter.out)
		}

		// zkfs holds: kazoo's Lock and WriteLock are refused.
		check := fmt.Sprintf("%s %s %s /kz/lk try plain; %s %s %s /kz/lk try write", kazooPython, script, srv.Addr(), kazooPython, script, srv.Addr())
		code, out := runCLI(t, dir, "lock", s, "/kz/lk", "--", "sh", "-c", check)
		if code != 0 || strings.Count(out, "busy") != 2 {
			t.Errorf("kazoo under zkfs lock: status %d, output %q; want busy twice", code, out)
		}
		code, out = runCLI(t, dir, "lock", s, "--shared", "/kz/lk", "--", "sh", "-c", check)
		if code != 0 || !strings.Contains(out, "acquired\nbusy") {
			t.Errorf("kazoo under zkfs lock --shared: status %d, output %q; want Lock acquired (kazoo's Lock ignores readers), WriteLock busy", code, out)
		}
	})
}

// TestCLILockSessionLost pauses the only server while zkfs lock runs a
// command: once the session timeout has passed without a connection, the
// lock can no longer be trusted, and the command is stopped.
func TestCLILockSessionLost(t *testing.T) {
	t.Parallel() // mostly waiting for sessions to expire
	srv := startServer(t)
	dir := t.TempDir()
	cmd := `trap 'echo stopped > term; exit 0' TERM; echo started > began; while :; do sleep 0.05; done`
	p := startCLI(t, dir, "lock", "--server="+srv.Addr(), "--session-timeout=4s", "--grace=2s", "/lost/lk", "--", "sh", "-c", cmd)
	eventually(t, 20*time.Second, "the command to start", func() error { return readFile(filepath.Join(dir, "began")) })
	if err := srv.Pause(); err != nil {
		t.Fatal(err)
	}
	defer srv.Resume()
	if code := p.wait(t, 30*time.Second); code != 123 {
		t.Errorf("zkfs lock exited %d after losing its session, want 123; output %q", code, p.out)
	}
	if !strings.Contains(p.out.String(), "session lost") {
		t.Errorf("output %q does not say the session was lost", p.out)
	}
	if err := readFile(filepath.Join(dir, "term")); err != nil {
		t.Errorf("the command was not sent SIGTERM: %v", err)
	}
}

// TestCLIElectHandsOver kills the leader's zkfs elect: its command dies
// with it, and the other contender takes over once the session expires.
func TestCLIElectHandsOver(t *testing.T) {
	t.Parallel() // mostly waiting for sessions to expire
	srv := startServer(t)
	dir := t.TempDir()
	s := "--server=" + srv.Addr()
	stand := func(id string) *proc {
		return startCLI(t, dir, "elect", s, "--id", id, "--session-timeout=4s", "/el", "--",
			"sh", "-c", "echo $$ > leader-"+id+"; exec sleep 1000")
	}
	procs := map[string]*proc{"a": stand("a"), "b": stand("b")}
	var first string
	eventually(t, 20*time.Second, "a leader", func() error {
		for id := range procs {
			if readFile(filepath.Join(dir, "leader-"+id)) == nil {
				first = id
				return nil
			}
		}
		return errors.New("no leader yet")
	})
	second := map[string]string{"a": "b", "b": "a"}[first]
	if code, out := runCLI(t, dir, "elect", s, "--leader", "/el"); code != 0 || strings.TrimSpace(out) != first {
		t.Fatalf("elect --leader: status %d, output %q, want %q", code, out, first)
	}
	if readFile(filepath.Join(dir, "leader-"+second)) == nil {
		t.Fatal("two leaders at once")
	}
	b, _ := os.ReadFile(filepath.Join(dir, "leader-"+first))
	var pid int
	fmt.Sscan(string(b), &pid)
	procs[first].cmd.Process.Kill()
	procs[first].wait(t, 10*time.Second)
	eventually(t, 10*time.Second, "the killed leader's command to die with it", func() error {
		if syscall.Kill(pid, 0) == nil {
			return fmt.Errorf("pid %d still alive", pid)
		}
		return nil
	})
	eventually(t, 30*time.Second, "the other contender to take over", func() error {
		return readFile(filepath.Join(dir, "leader-"+second))
	})
	if code, out := runCLI(t, dir, "elect", s, "--leader", "/el"); code != 0 || strings.TrimSpace(out) != second {
		t.Errorf("elect --leader after the handover: status %d, output %q, want %q", code, out, second)
	}

	// kazoo's Election sees zkfs's leader, and zkfs sees kazoo's.
	requireKazoo(t)
	script := filepath.Join(dir, "kazoo_elect.py")
	if err := os.WriteFile(script, []byte(kazooElectScript), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(kazooPython, script, srv.Addr(), "/el", "contenders").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != second {
		t.Errorf("kazoo Election.contenders()[0]: %v %q, want %q", err, out, second)
	}
	leader := exec.Command(kazooPython, script, srv.Addr(), "/kel", "run")
	stdin, _ := leader.StdinPipe()
	var lout syncBuffer
	leader.Stdout, leader.Stderr = &lout, &lout
	if err := leader.Start(); err != nil {
		t.Fatal(err)
	}
	defer leader.Wait()
	defer leader.Process.Kill()
	eventually(t, 20*time.Second, "kazoo to lead", func() error {
		if !strings.Contains(lout.String(), "LEADING") {
			return fmt.Errorf("kazoo says %q", lout.String())
		}
		return nil
	})
	if code, out := runCLI(t, dir, "elect", s, "--leader", "/kel"); code != 0 || strings.TrimSpace(out) != "kazoo" {
		t.Errorf("elect --leader under kazoo's Election: status %d, output %q, want kazoo", code, out)
	}
	stdin.Close()
}

// kazooElectScript prints the first of an election's contenders, or runs
// for election as "kazoo", prints LEADING and leads until its standard
// input closes.
const kazooElectScript = `
import sys
from kazoo.client import KazooClient
hosts, path, mode = sys.argv[1:4]
c = KazooClient(hosts=hosts, timeout=10)
c.start(timeout=10)
e = c.Election(path, "kazoo")
if mode == "contenders":
    print(e.contenders()[0], flush=True)
else:
    def lead():
        print("LEADING", flush=True)
        sys.stdin.read()
    e.run(lead)
c.stop()
`

// TestCLICreateEphemeralCommand registers a node for as long as a command
// runs: gone when the command exits, and gone (once the session expires)
// after zkfs is killed.
func TestCLICreateEphemeralCommand(t *testing.T) {
	t.Parallel() // mostly waiting for sessions to expire
	srv := startServer(t)
	dir := t.TempDir()
	s := "--server=" + srv.Addr()
	c := connect(t, srv.Addr(), 10*time.Second)
	if _, err := c.Create("/svc", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	code, out := runCLI(t, dir, "create", s, "-e", "/svc/a", "10.0.0.1:80", "--", "sh", "-c",
		zkfsBin+" get "+s+" /svc/a; exit 3")
	if code != 3 || !strings.Contains(out, "10.0.0.1:80") {
		t.Errorf("create -e with a command: status %d, output %q; want 3 and the node's data", code, out)
	}
	if ok, _, _ := c.Exists("/svc/a"); ok {
		t.Error("/svc/a outlived its command")
	}
	if code, _ := runCLI(t, dir, "create", s, "/svc/p", "x", "--", "true"); code != 125 {
		t.Errorf("a command without -e exits %d, want 125", code)
	}

	p := startCLI(t, dir, "create", s, "-e", "--session-timeout=4s", "/svc/b", "10.0.0.2:80", "--", "sleep", "1000")
	eventually(t, 20*time.Second, "/svc/b to be registered", func() error {
		if ok, _, err := c.Exists("/svc/b"); err != nil || !ok {
			return fmt.Errorf("exists: %v %v", ok, err)
		}
		return nil
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.wait(t, 10*time.Second)
	eventually(t, 30*time.Second, "/svc/b to go once the session expires", func() error {
		if ok, _, err := c.Exists("/svc/b"); err != nil || ok {
			return fmt.Errorf("exists: %v %v", ok, err)
		}
		return nil
	})
}

// TestCLIWatchCommand runs a command at start and after changes, one run
// at a time, coalescing the changes made during a run into one more run.
func TestCLIWatchCommand(t *testing.T) {
	srv := startServer(t)
	dir := t.TempDir()
	s := "--server=" + srv.Addr()
	c := connect(t, srv.Addr(), 10*time.Second)
	if _, err := c.Create("/cfg", []byte("v0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// Each run records what it read; runs wait for the file "go", so
	// that the first one is still running while the test changes /cfg.
	run := `mkdir inside || echo overlap >> bad; ` + zkfsBin + ` get ` + s + ` /cfg >> runs; while [ ! -e go ]; do sleep 0.02; done; rmdir inside`
	p := startCLI(t, dir, "watch", s, "/cfg", "--", "sh", "-c", run)
	eventually(t, 20*time.Second, "the first run", fileIs(filepath.Join(dir, "runs"), "v0\n"))
	for i := 1; i <= 5; i++ {
		if _, err := c.Set("/cfg", []byte(fmt.Sprintf("v%d", i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a run for the five changes", func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		if !strings.HasSuffix(string(b), "v5\n") {
			return fmt.Errorf("runs read %q", b)
		}
		return nil
	})
	if _, err := c.Set("/cfg", []byte("last"), -1); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "a run for the last change", func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		if !strings.HasSuffix(string(b), "last\n") {
			return fmt.Errorf("runs read %q", b)
		}
		return nil
	})
	// The five changes made during the first run lead to one more run, or
	// two when their events straddle that run's end; never one each. The
	// last change may be read by a run its event did not start.
	b, _ := os.ReadFile(filepath.Join(dir, "runs"))
	lines := strings.Fields(string(b))
	v5, last := strings.Count(string(b), "v5\n"), strings.Count(string(b), "last\n")
	if lines[0] != "v0" || v5 < 1 || v5+last > 3 || len(lines) != 1+v5+last {
		t.Errorf("runs read %q: want v0, then v5 once or twice, then last (changes during a run coalesce)", b)
	}
	if readFile(filepath.Join(dir, "bad")) == nil {
		t.Error("two runs at once")
	}

	// Changes made while the connection is down send no events, so a
	// reconnection (here to the restarted server, within the session)
	// brings one more run.
	before := len(lines)
	if err := srv.Restart(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "a run after the reconnection", func() error {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		if n := len(strings.Fields(string(b))); n <= before {
			return fmt.Errorf("%d runs", n)
		}
		return nil
	})

	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.wait(t, 20*time.Second); code != 0 {
		t.Errorf("zkfs watch exited %d on SIGTERM, want 0: %s", code, p.out)
	}
}
