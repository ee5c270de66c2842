package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Debian's zookeeper package: the reference server and its shell. CI
// installs it; a machine without it fails these tests rather than passing
// them unseen.
const (
	zkBinDir     = "/usr/share/zookeeper/bin"
	zkCliPath    = zkBinDir + "/zkCli.sh"
	zkServerPath = zkBinDir + "/zkServer.sh"
	zkInstallMsg = "install them with: apt-get install -y zookeeper python3-kazoo"
)

// requireZooKeeper fails t unless zkCli.sh, zkServer.sh and java are there.
func requireZooKeeper(t *testing.T) {
	t.Helper()
	for _, p := range []string{zkCliPath, zkServerPath} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("Debian's ZooKeeper is missing (%v); %s", err, zkInstallMsg)
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is missing (%v); %s", err, zkInstallMsg)
	}
}

// zooKeeper is an Apache ZooKeeper 3.8 standalone server run by a test.
type zooKeeper struct {
	addr    string
	logPath string
	dataDir string        // its dataDir, for tests that read it offline
	pid     int           // of the process group
	done    chan struct{} // closed when the process has exited
}

// startZooKeeper launches Apache ZooKeeper 3.8 standalone, through
// Debian's zkServer.sh, on a free loopback port with its own zoo.cfg and
// data directory, and kills it when t ends. It does not wait for the JVM,
// which takes a second or two: the caller starts its other servers
// meanwhile and then calls addr. The configuration matches zkfs's test
// servers: every four-letter word, TTL nodes enabled, and no admin HTTP
// server, whose fixed port 8080 would clash between concurrent runs.
func startZooKeeper(t *testing.T) *zooKeeper {
	t.Helper()
	requireZooKeeper(t)
	dir := t.TempDir()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	z := &zooKeeper{
		addr:    "127.0.0.1:" + strconv.Itoa(port),
		logPath: filepath.Join(dir, "zookeeper.log"),
		dataDir: filepath.Join(dir, "data"),
		done:    make(chan struct{}),
	}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\n4lw.commands.whitelist=*\nextendedTypesEnabled=true\n",
		filepath.Join(dir, "data"), port)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(z.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(zkServerPath, "start-foreground", cfgPath)
	// JMX would open a listener nobody here needs.
	cmd.Env = append(os.Environ(), "JMXDISABLE=true")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so that cleanup ends the script and the JVM
	// it runs, and nothing else.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("starting ZooKeeper: %v", err)
	}
	z.pid = cmd.Process.Pid
	go func() {
		cmd.Wait()
		logf.Close()
		close(z.done)
	}()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-z.done
		if t.Failed() {
			t.Logf("ZooKeeper log (tail):\n%s", z.logTail())
		}
	})
	return z
}

// Addr waits until the server serves clients and returns its address.
func (z *zooKeeper) Addr(t *testing.T) string {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		select {
		case <-z.done:
			t.Fatalf("ZooKeeper exited while starting:\n%s", z.logTail())
		default:
		}
		// ZooKeeper answers ruok before it serves sessions; srvr tells.
		if out, err := FourLetter(z.addr, "srvr", time.Second); err == nil && strings.Contains(out, "Mode: standalone") {
			return z.addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper at %s not serving after 60s:\n%s", z.addr, z.logTail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Kill stops the server at once, as a crash would, and waits until it has
// exited: what it acknowledged is in its data directory.
func (z *zooKeeper) Kill() {
	syscall.Kill(-z.pid, syscall.SIGKILL)
	<-z.done
}

func (z *zooKeeper) logTail() string {
	b, _ := os.ReadFile(z.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// zkCliAwait, then a text, in a script holds the rest back until zkCli.sh
// has printed that text. zkCli.sh sends some requests (addauth) without
// waiting for their answer, and the next command would race the answer;
// the text the answer makes zkCli.sh print (its watcher's line for the
// new session state) is the sign that it arrived.
const zkCliAwait = "#await "

// syncBuffer is a bytes.Buffer that the feeder can read while the shell
// writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p, for the shell's output.
func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// zkCliOutput feeds script to zkCli.sh connected to addr and returns what
// it printed, standard output and standard error interleaved as a
// terminal would show them, and its exit status, which tells whether the
// last command failed. The error is for a shell that could not run or
// end.
func zkCliOutput(addr, script string) (string, int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkCliPath, "-server", addr)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", 0, err
	}
	// The stat block prints times in the JVM's zone; one zone for both
	// servers keeps the epoch of the system nodes comparable.
	cmd.Env = append(os.Environ(), "TZ=UTC")
	var out syncBuffer
	// One writer for both streams: os/exec then gives the child a single
	// pipe, so lines keep the order in which zkCli.sh wrote them.
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", 0, err
	}
	awaitErr := make(chan error, 1)
	go func() {
		defer stdin.Close()
		defer close(awaitErr)
		for _, line := range strings.SplitAfter(script, "\n") {
			if text, ok := strings.CutPrefix(strings.TrimSpace(line), zkCliAwait); ok {
				deadline := time.Now().Add(time.Minute)
				for !strings.Contains(out.String(), text) {
					if time.Now().After(deadline) {
						awaitErr <- fmt.Errorf("zkCli.sh did not print %q within a minute", text)
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				continue
			}
			// A shell that exited early closes the pipe; Wait reports why.
			if _, err := io.WriteString(stdin, line); err != nil {
				return
			}
		}
	}()
	err = cmd.Wait()
	if aerr := <-awaitErr; aerr != nil {
		return out.String(), 0, aerr
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() > 0 {
		return out.String(), ee.ExitCode(), nil
	}
	return out.String(), 0, err
}

// lineDiff returns a readable diff of two texts, "-" for lines only in
// want and "+" for lines only in got, with two lines of context around
// each change; "" if they are equal.
func lineDiff(want, got string) string {
	a, b := strings.Split(want, "\n"), strings.Split(got, "\n")
	// lcs[i][j] is the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	type line struct {
		op   byte
		text string
	}
	var lines []line
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			lines = append(lines, line{' ', a[i]})
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			lines = append(lines, line{'+', b[j]})
			j++
		default:
			lines = append(lines, line{'-', a[i]})
			i++
		}
	}
	const context = 2
	var sb strings.Builder
	last := -1 // index of the last line written
	for k, l := range lines {
		if l.op == ' ' {
			continue
		}
		from := max(k-context, last+1)
		if last >= 0 && from > last+1 {
			sb.WriteString("...\n")
		}
		for c := from; c < k; c++ {
			fmt.Fprintf(&sb, "  %s\n", lines[c].text)
		}
		fmt.Fprintf(&sb, "%c %s\n", l.op, l.text)
		last = k
		for c := k + 1; c < len(lines) && c <= k+context && lines[c].op == ' '; c++ {
			fmt.Fprintf(&sb, "  %s\n", lines[c].text)
			last = c
		}
	}
	return sb.String()
}
