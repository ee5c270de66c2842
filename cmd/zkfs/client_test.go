package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestClientAgainstZooKeeper runs the client subcommands against a real
// ZooKeeper 3.8 and compares them with zkCli.sh.
func TestClientAgainstZooKeeper(t *testing.T) {
	e := &env{addr: startZooKeeper(t), zkfs: buildZkfs(t)}
	testClient(t, e)
}

// TestClientAgainstZkfs runs the same tests against zkfs's own server:
// zkCli.sh and zkfs must still agree, and the server must answer as
// ZooKeeper does.
func TestClientAgainstZkfs(t *testing.T) {
	needZooKeeper(t) // for zkCli.sh
	bin := buildZkfs(t)
	e := &env{addr: startZkfsServer(t, bin), zkfs: bin}
	testClient(t, e)
}

// testClient holds every client test; it only needs a server address, so
// that it can run against a zkfs server too.
func testClient(t *testing.T, e *env) {
	tests := []struct {
		name string
		f    func(t *testing.T, e *env)
	}{
		{"reads", testReads},
		{"writes", testWrites},
		{"errors", testErrors},
		{"acl", testACL},
		{"stat format", testStatFormat},
		{"usage errors", testUsageErrors},
		{"data from stdin", testStdinData},
		{"ephemeral ends with the command", testEphemeral},
		{"server flag forms", testServerFlag},
		{"cannot connect", testCannotConnect},
		{"watch", testWatch},
		{"watch -m", testWatchMonitor},
		{"watch -r", testWatchRecursive},
		{"-w waits for the event", testReadWatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.f(t, e)
		})
	}
}

func testReads(t *testing.T, e *env) {
	e.compare(t, []string{
		"create $R/a hello",
		"create $R/a/z1 x",
		"create $R/a/b2",
		"create $R/a/A3 y",
		"create $R/a/b2/c",
		"create $R/empty",
		"ls $R",
		"ls $R/a",
		"ls -s $R/a",
		"ls -R $R",
		"ls -R $R/a/b2/c",
		"get $R/a",
		"get -s $R/a",
		"get $R/a/b2",
		"get -s $R/a/b2",
		"stat $R/a",
		"stat $R/a/b2/c",
		"getAcl $R/a",
		"getAcl -s $R/a",
		"getEphemerals",
		"getEphemerals $R",
		"getAllChildrenNumber $R",
		"sync $R/a",
		"ls /zookeeper",
	})
}

func testWrites(t *testing.T, e *env) {
	e.compare(t, []string{
		"create $R/n v1",
		"create -s $R/n/s- one",
		"create -s $R/n/s- two",
		"create -s $R/n/",
		"create -c $R/cont",
		"create $R/cont/child",
		"create -t 600000 $R/ttl t",
		"create -t 600000 -s $R/ttl- t",
		"stat $R/ttl",
		"set $R/n v2",
		"set -s $R/n v3",
		"set -v 2 $R/n v4",
		"set -v 2 -s $R/n v5",
		"get -s $R/n",
		"ls $R/n",
		"delete $R/n/s-0000000000",
		"delete -v 0 $R/n/s-0000000001",
		"ls -s $R/n",
		"create $R/tree",
		"create $R/tree/a",
		"create $R/tree/a/b",
		"create $R/tree/c",
		"deleteall $R/tree",
		"ls $R",
		"sync $R/nonexistent",
	})
}

func testErrors(t *testing.T, e *env) {
	e.compare(t, []string{
		"create $R/x x",
		"create $R/x/y y",
		"get $R/nope",
		"get -s $R/nope",
		"ls $R/nope",
		"ls -R $R/nope",
		"stat $R/nope",
		"stat -w $R/nope",
		"getAcl $R/nope",
		"set $R/nope data",
		"delete $R/nope",
		"deleteall $R/nope",
		"create $R/x again",
		"create $R/nope/child",
		"delete $R/x",
		"set -v 7 $R/x data",
		"delete -v 7 $R/x/y",
		"setAcl -v 3 $R/x world:anyone:cdrwa",
		"setAcl $R/nope world:anyone:cdrwa",
		"delete /zookeeper",
		"getAllChildrenNumber $R/nope",
		"create $R/x/y/z/w",
	})
}

func testACL(t *testing.T, e *env) {
	invalidACL := regexp.MustCompile(`(?m)^KeeperErrorCode = InvalidACL for .*\n`)
	e.compare(t, []string{
		"create $R/ro data world:anyone:r",
		"getAcl $R/ro",
		"set $R/ro other",
		"delete $R/ro",
		"create $R/ro/child",
		"create $R/many data world:anyone:cdrwa,ip:10.0.0.1:rw,digest:bob:Qm9i:a,ip:127.0.0.1:cr",
		"getAcl $R/many",
		"create $R/noread data world:anyone:cdw",
		"get $R/noread",
		"getAcl $R/noread",
		"create $R/badscheme data foo:bar:r",
		"create $R/authless data auth::cdrwa",
		"create $R/open",
		"setAcl $R/open world:anyone:rw",
		"getAcl $R/open",
		"setAcl -s $R/open ip:127.0.0.1:cdrwa",
		"getAcl $R/open",
		"create $R/rec",
		"create $R/rec/a",
		"create $R/rec/a/b",
		"setAcl -R $R/rec world:anyone:cdra",
		"getAcl $R/rec/a/b",
		"getAcl $R/rec",
	}, invalidACL)

	// Authenticated: zkCli.sh's addauth against zkfs's --auth.
	cliRoot, zkfsRoot := e.roots(t)
	cli := e.zkCli(t, strings.Join([]string{
		"addauth digest alice:secret",
		"create " + cliRoot + "/mine data auth::cdrwa",
		"getAcl " + cliRoot + "/mine",
		"get " + cliRoot + "/mine",
		"whoami",
	}, "\n")+"\n")
	var out strings.Builder
	// --auth works, with a warning that the command line shows it.
	r := e.run(t, "", "create", zkfsRoot+"/mine", "data", "auth::cdrwa", "--auth", "digest:alice:secret")
	if r.code != 0 || !strings.HasSuffix(r.stderr, "Created "+zkfsRoot+"/mine\n") || !strings.Contains(r.stderr, "warning: --auth on the command line is visible") {
		t.Fatalf("create with --auth: %+v", r)
	}
	// ZKFS_AUTH works the same, silently.
	env := []string{"ZKFS_AUTH=digest:alice:secret"}
	for _, args := range [][]string{
		{"getAcl", zkfsRoot + "/mine"},
		{"get", zkfsRoot + "/mine"},
		{"whoami"},
	} {
		r := e.runEnv(t, env, "", append(args, "-server", e.addr)...)
		if r.code != 0 || r.stderr != "" {
			t.Fatalf("zkfs %v: %+v", args, r)
		}
		out.WriteString(r.stdout)
	}
	if got, want := normalize(out.String(), zkfsRoot), normalize(cli.stdout, cliRoot); got != want {
		t.Errorf("with --auth:\nzkfs:\n%s\nzkCli.sh:\n%s", got, want)
	}
	// Without the credentials the node is out of reach, as for zkCli.sh.
	r = e.run(t, "", "get", zkfsRoot+"/mine")
	if r.code != 1 || r.stderr != "Insufficient permission : "+zkfsRoot+"/mine\n" {
		t.Errorf("get without --auth: %+v", r)
	}
	r = e.runEnv(t, []string{"ZKFS_AUTH=nosuchscheme:x"}, "", "ls", "/", "-server", e.addr)
	if r.code != 1 || !strings.Contains(r.stderr, "authentication failed") || strings.Count(r.stderr, "\n") != 1 {
		t.Errorf("unknown auth scheme: %+v", r)
	}
}

// testStatFormat prints the stat of the same nodes with both tools, so that
// dates and zxids are compared verbatim, in several time zones.
func testStatFormat(t *testing.T, e *env) {
	cliRoot, _ := e.roots(t)
	e.mustRun(t, "create", cliRoot+"/s", "data")
	e.mustRun(t, "create", "-e", cliRoot+"/gone")
	for _, tz := range []string{"UTC", "Asia/Kolkata", "America/New_York"} {
		script := "get -s " + cliRoot + "/s\nls -s " + cliRoot + "\nstat /zookeeper\n"
		cmd := exec.Command(zkBin+"/zkCli.sh", "-server", e.addr)
		cmd.Env = append(cmd.Environ(), "TZ="+tz)
		cmd.Stdin = strings.NewReader(script)
		raw, err := cmd.Output()
		if err != nil {
			t.Fatalf("zkCli.sh: %v", err)
		}
		want := zkCliConnecting.ReplaceAllString(string(raw), "")
		want = zkCliBanner.ReplaceAllString(want, "")
		want = strings.Replace(want, zkCliConnected, "", 1)
		var got strings.Builder
		for _, args := range [][]string{{"get", "-s", cliRoot + "/s"}, {"ls", "-s", cliRoot}, {"stat", "/zookeeper"}} {
			r := e.runEnv(t, []string{"TZ=" + tz}, "", append(args, "-server", e.addr)...)
			if r.code != 0 {
				t.Fatalf("zkfs %v: %+v", args, r)
			}
			got.WriteString(r.stdout)
		}
		if got.String() != want {
			t.Errorf("TZ=%s:\nzkfs:\n%s\nzkCli.sh:\n%s\n%s", tz, got.String(), want, lineDiff(got.String(), want))
		}
	}
}

func testUsageErrors(t *testing.T, e *env) {
	// zkCli.sh's wording, where zkCli.sh has one; zkfs prefixes it with
	// "zkfs COMMAND: " and exits 2 without connecting.
	tests := []struct {
		args  string
		zkCli string // zkCli.sh's message for the same command, "" if none
	}{
		{"create -c -e /x", "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."},
		{"create -c -s /x", "-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential."},
		{"create -t 100 -e /x", "TTLs cannot be used with Ephemeral znodes"},
		{"create -t 100 -c /x", "TTLs cannot be used with Container znodes"},
		{"create -t 0 /x", "ttl must be positive and cannot be larger than: 1099511627775"},
		{"create -t 1099511627776 /x", "ttl must be positive and cannot be larger than: 1099511627775"},
		{"get x", "Path must start with / character"},
		{"ls /x/", "Path must not end with / character"},
		{"stat /a//b", `Invalid path string "/a//b" caused by empty node name specified @3`},
		{"get /a/./b", `Invalid path string "/a/./b" caused by relative paths not allowed @3`},
		{"get /a/..", `Invalid path string "/a/.." caused by relative paths not allowed @4`},
		{"setAcl /x bad", "bad does not have the form scheme:id:perm"},
		{"create /x data world:anyone", "world:anyone does not have the form scheme:id:perm"},
		{"create /x data world:anyone:rx", "Unknown perm type: x"},
		{"get", ""},
		{"get /a /b", ""},
		{"set /x", ""},
		{"ls -x /", ""},
		{"delete -v notanumber /x", ""},
		{"deleteall -b 0 /x", ""},
		{"watch", ""},
		{"ls / --auth nocolon", ""},
	}
	var script strings.Builder
	for _, tt := range tests {
		if tt.zkCli != "" {
			script.WriteString(tt.args + "\n")
		}
	}
	cli := e.zkCli(t, script.String())
	for _, tt := range tests {
		args := strings.Fields(tt.args)
		// A closed port: usage errors must be caught before connecting.
		r := e.runEnv(t, nil, "", append(args, "-server", "127.0.0.1:1")...)
		if r.code != 2 || r.stdout != "" || strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "zkfs "+args[0]+": ") {
			t.Errorf("zkfs %s: got exit %d, stdout %q, stderr %q; want exit 2 and one line on stderr", tt.args, r.code, r.stdout, r.stderr)
			continue
		}
		if tt.zkCli == "" {
			continue
		}
		if got := strings.TrimPrefix(strings.TrimSuffix(r.stderr, "\n"), "zkfs "+args[0]+": "); got != tt.zkCli {
			t.Errorf("zkfs %s: message %q, want zkCli.sh's %q", tt.args, got, tt.zkCli)
		}
		if !strings.Contains(cli.stderr, tt.zkCli+"\n") {
			t.Errorf("zkCli.sh %s no longer prints %q; its errors:\n%s", tt.args, tt.zkCli, cli.stderr)
		}
	}
	// Help is not an error.
	r := e.runEnv(t, nil, "", "create", "--help")
	if r.code != 0 || !strings.Contains(r.stdout, "usage: zkfs create") || !strings.Contains(r.stdout, "-server") {
		t.Errorf("create --help: %+v", r)
	}
	r = e.runEnv(t, nil, "", "watch", "-h")
	if r.code != 0 || !strings.Contains(r.stdout, "ZXID TYPE PATH") {
		t.Errorf("watch -h does not document the line format: %+v", r)
	}
}

func testStdinData(t *testing.T, e *env) {
	cliRoot, zkfsRoot := e.roots(t)
	// Text through standard input reads back as zkCli.sh's does.
	cli := e.zkCli(t, "create "+cliRoot+"/f from-arg\nset "+cliRoot+"/f from-stdin\nget -s "+cliRoot+"/f\n")
	if r := e.run(t, "from-arg", "create", zkfsRoot+"/f", "-"); r.code != 0 {
		t.Fatalf("create from stdin: %+v", r)
	}
	if r := e.run(t, "from-stdin", "set", zkfsRoot+"/f", "-"); r.code != 0 {
		t.Fatalf("set from stdin: %+v", r)
	}
	r := e.mustRun(t, "get", "-s", zkfsRoot+"/f")
	if got, want := normalize(r.stdout, zkfsRoot), normalize(cli.stdout, cliRoot); got != want {
		t.Errorf("zkfs:\n%s\nzkCli.sh:\n%s", got, want)
	}

	// Binary data, every byte value, comes back unchanged.
	var bin []byte
	for i := 0; i < 3; i++ {
		for b := 0; b < 256; b++ {
			bin = append(bin, byte(b))
		}
	}
	if r := e.run(t, string(bin), "set", zkfsRoot+"/f", "-"); r.code != 0 {
		t.Fatalf("set binary: %+v", r)
	}
	r = e.mustRun(t, "get", zkfsRoot+"/f")
	if r.stdout != string(bin)+"\n" {
		t.Errorf("binary data came back as %d bytes, want %d plus a newline", len(r.stdout), len(bin))
	}
	r = e.mustRun(t, "stat", zkfsRoot+"/f")
	if !strings.Contains(r.stdout, fmt.Sprintf("dataLength = %d\n", len(bin))) {
		t.Errorf("stat after binary set:\n%s", r.stdout)
	}
	// Empty standard input stores empty data, not null.
	if r := e.run(t, "", "set", zkfsRoot+"/f", "-"); r.code != 0 {
		t.Fatalf("set empty: %+v", r)
	}
	if r := e.mustRun(t, "get", zkfsRoot+"/f"); r.stdout != "\n" {
		t.Errorf("empty data printed as %q; ZooKeeper keeps empty data apart from null (no data), and zkCli.sh prints an empty line for it", r.stdout)
	}
}

func testEphemeral(t *testing.T, e *env) {
	_, root := e.roots(t)
	r := e.mustRun(t, "create", "-e", root+"/eph", "x")
	if r.stderr != "Created "+root+"/eph\n" {
		t.Errorf("create -e printed %q", r.stderr)
	}
	// The session was closed on exit, so the node is already gone.
	r = e.run(t, "", "stat", root+"/eph")
	if r.code != 1 || r.stderr != "Node does not exist: "+root+"/eph\n" {
		t.Errorf("ephemeral node outlived its command: %+v", r)
	}
}

func testServerFlag(t *testing.T, e *env) {
	want := "[config, quota]\n"
	for _, args := range [][]string{
		{"ls", "/zookeeper", "-server", e.addr},
		{"ls", "-server", e.addr, "/zookeeper"},
		{"ls", "/zookeeper", "--server", e.addr},
		{"ls", "/zookeeper", "--server=" + e.addr},
		{"ls", "/zookeeper", "-server=" + e.addr},
		{"ls", "/zookeeper", "-server", "127.0.0.1:1," + e.addr},
	} {
		r := e.runEnv(t, nil, "", args...)
		if r.code != 0 || r.stdout != want {
			t.Errorf("zkfs %s: %+v", strings.Join(args, " "), r)
		}
	}
}

func testCannotConnect(t *testing.T, e *env) {
	dead := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	for _, args := range [][]string{
		{"ls", "/", "-server", dead},    // go-zookeeper
		{"watch", "/", "-server", dead}, // zkclient
	} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			r := e.runEnv(t, nil, "", args...)
			if r.code != 1 || r.stdout != "" || r.stderr != "zkfs: cannot connect to "+dead+"\n" {
				t.Errorf("got %+v", r)
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("took %v to give up", d)
			}
		})
	}
}

// background is a zkfs process whose output is read as it comes.
type background struct {
	cmd    *exec.Cmd
	lines  chan string // standard output, line by line
	stderr chan string
	done   chan int // exit code
}

func (e *env) start(t *testing.T, args ...string) *background {
	t.Helper()
	cmd := exec.Command(e.zkfs, append(args, "-server", e.addr)...)
	cmd.Env = append(os.Environ(), raceEnv)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &background{cmd: cmd, lines: make(chan string, 100), stderr: make(chan string, 100), done: make(chan int, 1)}
	var pumps sync.WaitGroup
	pump := func(r io.Reader, ch chan string) {
		defer pumps.Done()
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
		close(ch)
	}
	pumps.Add(2)
	go pump(stdout, b.lines)
	go pump(stderr, b.stderr)
	go func() {
		pumps.Wait() // Wait closes the pipes: read them to the end first
		cmd.Wait()
		b.done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		for range b.lines {
		}
		for range b.stderr {
		}
		<-b.done
	})
	return b
}

// next returns the next line of ch, failing after a while.
func next(t *testing.T, ch chan string, what string) string {
	t.Helper()
	select {
	case l, ok := <-ch:
		if !ok {
			t.Fatalf("%s: stream ended", what)
		}
		return l
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: nothing after 20s", what)
	}
	return ""
}

func (b *background) exit(t *testing.T) int {
	t.Helper()
	select {
	case code := <-b.done:
		b.done <- code
		return code
	case <-time.After(20 * time.Second):
		t.Fatal("zkfs did not exit")
	}
	return -1
}

// statZxid returns a zxid field of the node's stat.
func (e *env) statZxid(t *testing.T, path, field string) string {
	t.Helper()
	r := e.mustRun(t, "stat", path)
	m := regexp.MustCompile(`(?m)^` + field + ` = (0x[0-9a-f]+)$`).FindStringSubmatch(r.stdout)
	if m == nil {
		t.Fatalf("no %s in\n%s", field, r.stdout)
	}
	return m[1]
}

var watchLine = regexp.MustCompile(`^0x[0-9a-f]+ (NodeCreated|NodeDeleted|NodeDataChanged|NodeChildrenChanged) /\S*$`)

func checkLine(t *testing.T, got, zxid, typ, path string) {
	t.Helper()
	if !watchLine.MatchString(got) {
		t.Errorf("line %q is not ZXID TYPE PATH", got)
	}
	if want := zxid + " " + typ + " " + path; zxid != "" && got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if want := " " + typ + " " + path; zxid == "" && !strings.HasSuffix(got, want) {
		t.Errorf("got %q, want a line ending in %q", got, want)
	}
}

func testWatch(t *testing.T, e *env) {
	_, root := e.roots(t)
	w := e.start(t, "watch", root+"/w")
	if l := next(t, w.stderr, "readiness"); l != "Watches set." {
		t.Fatalf("stderr: %q", l)
	}
	e.mustRun(t, "create", root+"/w", "x")
	checkLine(t, next(t, w.lines, "event"), e.statZxid(t, root+"/w", "cZxid"), "NodeCreated", root+"/w")
	if code := w.exit(t); code != 0 {
		t.Errorf("exit %d after the first event, want 0", code)
	}
}

func testWatchMonitor(t *testing.T, e *env) {
	_, root := e.roots(t)
	e.mustRun(t, "create", root+"/m")
	e.mustRun(t, "create", root+"/other")
	w := e.start(t, "watch", "-m", root+"/m", root+"/other")
	next(t, w.stderr, "readiness")

	e.mustRun(t, "set", root+"/m", "1")
	checkLine(t, next(t, w.lines, "set"), e.statZxid(t, root+"/m", "mZxid"), "NodeDataChanged", root+"/m")
	e.mustRun(t, "create", root+"/m/kid")
	checkLine(t, next(t, w.lines, "create kid"), e.statZxid(t, root+"/m", "pZxid"), "NodeChildrenChanged", root+"/m")
	// Grandchildren are not reported without -r.
	e.mustRun(t, "create", root+"/m/kid/grandkid")
	e.mustRun(t, "set", root+"/other", "2")
	checkLine(t, next(t, w.lines, "second path"), e.statZxid(t, root+"/other", "mZxid"), "NodeDataChanged", root+"/other")
	e.mustRun(t, "deleteall", root+"/m")
	checkLine(t, next(t, w.lines, "delete kid"), "", "NodeChildrenChanged", root+"/m")
	checkLine(t, next(t, w.lines, "delete"), "", "NodeDeleted", root+"/m")
	e.mustRun(t, "create", root+"/m")
	checkLine(t, next(t, w.lines, "recreate"), e.statZxid(t, root+"/m", "cZxid"), "NodeCreated", root+"/m")

	w.cmd.Process.Signal(syscall.SIGTERM)
	if code := w.exit(t); code != 0 {
		t.Errorf("exit %d after SIGTERM, want 0", code)
	}
}

func testWatchRecursive(t *testing.T, e *env) {
	_, root := e.roots(t)
	w := e.start(t, "watch", "-m", "-r", root+"/r")
	next(t, w.stderr, "readiness")
	e.mustRun(t, "create", root+"/r")
	checkLine(t, next(t, w.lines, "create"), e.statZxid(t, root+"/r", "cZxid"), "NodeCreated", root+"/r")
	e.mustRun(t, "create", root+"/r/a")
	checkLine(t, next(t, w.lines, "create a"), e.statZxid(t, root+"/r/a", "cZxid"), "NodeCreated", root+"/r/a")
	e.mustRun(t, "create", root+"/r/a/b")
	checkLine(t, next(t, w.lines, "create b"), e.statZxid(t, root+"/r/a/b", "cZxid"), "NodeCreated", root+"/r/a/b")
	e.mustRun(t, "set", root+"/r/a/b", "data")
	checkLine(t, next(t, w.lines, "set b"), e.statZxid(t, root+"/r/a/b", "mZxid"), "NodeDataChanged", root+"/r/a/b")
	e.mustRun(t, "delete", root+"/r/a/b")
	l := next(t, w.lines, "delete b")
	checkLine(t, l, "", "NodeDeleted", root+"/r/a/b")
	// The zxid of a deletion is the server's at the follow-up stat: at
	// least the parent's pzxid, which the deletion set.
	zx, _ := strconv.ParseUint(strings.TrimPrefix(strings.Fields(l)[0], "0x"), 16, 64)
	pz, _ := strconv.ParseUint(strings.TrimPrefix(e.statZxid(t, root+"/r/a", "pZxid"), "0x"), 16, 64)
	if zx < pz {
		t.Errorf("deletion reported at 0x%x, before the parent's pzxid 0x%x", zx, pz)
	}
	w.cmd.Process.Signal(syscall.SIGINT)
	if code := w.exit(t); code != 0 {
		t.Errorf("exit %d after SIGINT, want 0", code)
	}
}

// testReadWatch checks get/ls/stat -w: the command's output, then, once the
// watch fires, the event as zkCli.sh's watcher prints it. The expected
// block is taken from a zkCli.sh session that sees the same kind of event.
func testReadWatch(t *testing.T, e *env) {
	cliRoot, root := e.roots(t)
	e.mustRun(t, "create", cliRoot+"/g", "v")
	e.mustRun(t, "create", root+"/g", "v")

	// zkCli.sh, kept alive by an open standard input until its watch fires.
	cmd := exec.Command(zkBin+"/zkCli.sh", "-server", e.addr)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	stuck := time.AfterFunc(60*time.Second, func() { cmd.Process.Kill() })
	defer stuck.Stop()
	io.WriteString(stdin, "get -w "+cliRoot+"/g\n")
	sc := bufio.NewScanner(stdout)
	var cliOut []string
	for sc.Scan() && sc.Text() != "v" {
	}
	e.mustRun(t, "set", cliRoot+"/g", "changed")
	for sc.Scan() {
		cliOut = append(cliOut, sc.Text())
		if strings.HasPrefix(sc.Text(), "WatchedEvent") {
			break
		}
	}
	stdin.Close()
	cmd.Wait()
	want := strings.ReplaceAll(strings.Join(cliOut, "\n")+"\n", cliRoot, root)
	if !strings.Contains(want, "type:NodeDataChanged") {
		t.Fatalf("zkCli.sh printed no data event: %q", want)
	}

	w := e.start(t, "get", "-w", root+"/g")
	if l := next(t, w.lines, "get -w output"); l != "v" {
		t.Fatalf("get -w printed %q", l)
	}
	e.mustRun(t, "set", root+"/g", "changed")
	var got []string
	for l := range w.lines {
		got = append(got, l)
	}
	if g := strings.Join(got, "\n") + "\n"; g != want {
		t.Errorf("get -w: zkfs printed %q after the data, zkCli.sh %q", g, want)
	}
	if code := w.exit(t); code != 0 {
		t.Errorf("get -w exit %d", code)
	}

	// ls -w and stat -w print their usual output, then the same block.
	for _, c := range []struct {
		args   []string
		lines  int // of the command's own output
		change []string
		event  string
	}{
		{[]string{"ls", "-w", root + "/g"}, 1, []string{"create", root + "/g/kid"}, "NodeChildrenChanged path:" + root + "/g"},
		{[]string{"stat", "-w", root + "/g"}, 11, []string{"set", root + "/g", "again"}, "NodeDataChanged path:" + root + "/g"},
	} {
		w := e.start(t, c.args...)
		for i := 0; i < c.lines; i++ {
			next(t, w.lines, strings.Join(c.args, " "))
		}
		e.mustRun(t, c.change...)
		var rest []string
		for l := range w.lines {
			rest = append(rest, l)
		}
		if g, want := strings.Join(rest, "\n"), "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:"+c.event; g != want {
			t.Errorf("%v: printed %q after its output, want %q", c.args, g, want)
		}
		if code := w.exit(t); code != 0 {
			t.Errorf("%v: exit %d", c.args, code)
		}
	}
}
