package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// The client tests run the zkfs binary and ZooKeeper's own zkCli.sh against
// the same server and compare what they print. The server is a parameter
// (an address), so the same tests can run against a zkfs server.

const zkBin = "/usr/share/zookeeper/bin"

// needZooKeeper fails the test, loudly, when Debian's zookeeper package is
// missing: these tests must never pass by not running.
func needZooKeeper(t *testing.T) {
	t.Helper()
	for _, f := range []string{"zkServer.sh", "zkCli.sh"} {
		if _, err := os.Stat(filepath.Join(zkBin, f)); err != nil {
			t.Fatalf("ZooKeeper is not installed (%v): install Debian's zookeeper package (apt-get install zookeeper), which these tests compare zkfs with", err)
		}
	}
	if _, err := exec.LookPath("java"); err != nil {
		t.Fatalf("java is not installed (%v): ZooKeeper's zkServer.sh and zkCli.sh need it", err)
	}
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startZooKeeper starts a standalone ZooKeeper server with TTL nodes enabled
// on a free loopback port, stops it when the test ends, and returns its
// address.
func startZooKeeper(t *testing.T) string {
	t.Helper()
	needZooKeeper(t)
	dir := t.TempDir()
	port := freePort(t)
	cfg := filepath.Join(dir, "zoo.cfg")
	conf := fmt.Sprintf(`tickTime=2000
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=*
`, filepath.Join(dir, "data"), port)
	if err := os.WriteFile(cfg, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	cmd := exec.Command(filepath.Join(zkBin, "zkServer.sh"), "start-foreground", cfg)
	cmd.Env = append(os.Environ(),
		"JMXDISABLE=true",
		"SERVER_JVMFLAGS=-Dzookeeper.extendedTypesEnabled=true",
		"ZOO_LOG_DIR="+dir)
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ZooKeeper: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if fourLetter(addr, "ruok") == "imok" {
			return addr
		}
		select {
		case <-exited:
			t.Fatalf("ZooKeeper exited at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("ZooKeeper did not answer ruok on %s within 60s:\n%s", addr, log.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// startZkfsServer starts a single-replica zkfs server from the binary bin
// on a free loopback port, stops it when the test ends, and returns its
// client address.
func startZkfsServer(t *testing.T, bin string) string {
	t.Helper()
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	host, port, _ := net.SplitHostPort(addr)
	var log bytes.Buffer
	cmd := exec.Command(bin, "server", "--data-dir", filepath.Join(dir, "data"),
		"--client-address", host, "--client-port", port, "--4lw-whitelist", "*", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting zkfs server: %v", err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for fourLetter(addr, "ruok") != "imok" {
		select {
		case <-exited:
			t.Fatalf("zkfs server exited at start:\n%s", log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("zkfs server did not answer ruok on %s within 30s:\n%s", addr, log.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	return addr
}

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

// buildZkfs builds the zkfs binary (with the race detector if this test
// binary has it) and returns its path.
func buildZkfs(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "zkfs")
	args := []string{"build", "-o", bin}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "-race" && s.Value == "true" {
				args = append(args, "-race")
			}
		}
	}
	out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// raceEnv spares each run of a race-enabled zkfs the race runtime's
// one-second pause at exit; a race found still fails the run (exit 66).
const raceEnv = "GORACE=atexit_sleep_ms=0"

// result is what one command printed.
type result struct {
	stdout, stderr string
	code           int
}

// env is a server plus the tools to talk to it.
type env struct {
	addr string
	zkfs string // path of the zkfs binary
}

// run runs zkfs with args and -server, feeding stdin.
func (e *env) run(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	return e.runEnv(t, nil, stdin, append(args, "-server", e.addr)...)
}

// runEnv runs zkfs with exactly args and extra environment variables.
func (e *env) runEnv(t *testing.T, extraEnv []string, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(e.zkfs, args...)
	cmd.Env = append(append(os.Environ(), raceEnv), extraEnv...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("zkfs %s: %v", strings.Join(args, " "), err)
		}
		code = ee.ExitCode()
	}
	return result{stdout: out.String(), stderr: errb.String(), code: code}
}

// mustRun runs zkfs and fails the test unless it exits 0.
func (e *env) mustRun(t *testing.T, args ...string) result {
	t.Helper()
	r := e.run(t, "", args...)
	if r.code != 0 {
		t.Fatalf("zkfs %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

var (
	zkCliConnecting = regexp.MustCompile(`(?m)^Connecting to \S+\n`)
	zkCliBanner     = regexp.MustCompile(`(?m)^(Welcome to ZooKeeper!|JLine support is (disabled|enabled))\n`)
)

// zkCliConnected is what zkCli.sh's default watcher prints once connected.
const zkCliConnected = "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n"

// zkCli runs zkCli.sh against the server, with the commands of script read
// from standard input (one JVM for many commands), or with args as a single
// command when script is empty. It strips what zkCli.sh prints about itself
// rather than about the commands: the connection banner and the JVM's
// logging noise.
func (e *env) zkCli(t *testing.T, script string, args ...string) result {
	t.Helper()
	cmd := exec.Command(filepath.Join(zkBin, "zkCli.sh"), append([]string{"-server", e.addr}, args...)...)
	cmd.Env = append(os.Environ(), "CLIENT_JVMFLAGS=-Xshare:auto -XX:TieredStopAtLevel=1")
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("zkCli.sh: %v", err)
		}
		code = ee.ExitCode()
	}
	stdout := zkCliConnecting.ReplaceAllString(out.String(), "")
	stdout = zkCliBanner.ReplaceAllString(stdout, "")
	stdout = strings.Replace(stdout, zkCliConnected, "", 1)
	var stderr strings.Builder
	sc := bufio.NewScanner(&errb)
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "SLF4J:") {
			stderr.WriteString(sc.Text() + "\n")
		}
	}
	return result{stdout: stdout, stderr: stderr.String(), code: code}
}

var (
	dateLine = regexp.MustCompile(`(?m)^([cm]time) = (Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-3]\d [0-2]\d:[0-5]\d:[0-5]\d \S+ \d{4}$`)
	zxidLine = regexp.MustCompile(`(?m)^([cmp]Zxid) = 0x[0-9a-f]+$`)
	ownerNum = regexp.MustCompile(`(?m)^ephemeralOwner = 0x[1-9a-f][0-9a-f]*$`)
)

// normalize makes outputs of different runs comparable: root becomes $R,
// and the timestamps, zxids and session ids that legitimately differ become
// placeholders, but only where they have the exact shape zkCli.sh prints, so
// a malformed value still shows up as a difference.
func normalize(s, root string) string {
	s = strings.ReplaceAll(s, root, "$R")
	s = dateLine.ReplaceAllString(s, "$1 = <date>")
	s = zxidLine.ReplaceAllString(s, "$1 = <zxid>")
	s = ownerNum.ReplaceAllString(s, "ephemeralOwner = <session>")
	return s
}

var rootSeq atomic.Int64

// roots returns two fresh, empty parents, one for zkCli.sh and one for
// zkfs, so that both can run the same writes without seeing each other's.
func (e *env) roots(t *testing.T) (cli, zkfs string) {
	t.Helper()
	base := fmt.Sprintf("/%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), rootSeq.Add(1))
	e.mustRun(t, "create", base)
	cli, zkfs = base+"/cli", base+"/zkfs"
	e.mustRun(t, "create", cli)
	e.mustRun(t, "create", zkfs)
	return cli, zkfs
}

// compare runs each line of script with zkCli.sh (all in one session) and
// with zkfs (one process per line), $R standing for a fresh root each, and
// requires the same standard output and standard error. zkfs must exit 1
// exactly for the lines that printed an error, 0 otherwise. drop lists
// zkCli.sh's stderr lines that zkfs leaves out on purpose (zkCli.sh prints
// some errors on two lines; zkfs keeps to one).
func (e *env) compare(t *testing.T, script []string, drop ...*regexp.Regexp) {
	t.Helper()
	cliRoot, zkfsRoot := e.roots(t)
	var cliScript strings.Builder
	for _, line := range script {
		cliScript.WriteString(strings.ReplaceAll(line, "$R", cliRoot) + "\n")
	}
	cli := e.zkCli(t, cliScript.String())

	var out, errs strings.Builder
	for _, line := range script {
		args := strings.Fields(strings.ReplaceAll(line, "$R", zkfsRoot))
		r := e.run(t, "", args...)
		out.WriteString(r.stdout)
		errs.WriteString(r.stderr)
		failed := false
		for _, l := range strings.Split(strings.TrimSuffix(r.stderr, "\n"), "\n") {
			if l != "" && !strings.HasPrefix(l, "Created ") {
				failed = true
			}
		}
		if want := map[bool]int{false: 0, true: 1}[failed]; r.code != want {
			t.Errorf("zkfs %s: exit %d, want %d (stderr %q)", line, r.code, want, r.stderr)
		}
	}

	cliErr := cli.stderr
	for _, re := range drop {
		cliErr = re.ReplaceAllString(cliErr, "")
	}
	gotOut, wantOut := normalize(out.String(), zkfsRoot), normalize(cli.stdout, cliRoot)
	gotErr, wantErr := normalize(errs.String(), zkfsRoot), normalize(cliErr, cliRoot)
	if gotOut != wantOut {
		t.Errorf("standard output differs\nzkfs:\n%s\nzkCli.sh:\n%s\n%s", gotOut, wantOut, lineDiff(gotOut, wantOut))
	}
	if gotErr != wantErr {
		t.Errorf("standard error differs\nzkfs:\n%s\nzkCli.sh:\n%s\n%s", gotErr, wantErr, lineDiff(gotErr, wantErr))
	}
}

// lineDiff points at the first differing line.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d:\n  zkfs:     %q\n  zkCli.sh: %q", i+1, gl, wl)
		}
	}
	return ""
}
