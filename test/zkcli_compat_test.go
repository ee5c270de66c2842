package test

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// zkCliScripts are fed to zkCli.sh, once against zkfs and once against
// Apache ZooKeeper 3.8, in this order and on the same two servers, so
// that each script starts from the same state on both. Each works under its
// own top-level node.
var zkCliScripts = []struct {
	name, script string
}{
	{"system nodes", `
stat /
get /
get -s /zookeeper
ls /zookeeper
ls -R /zookeeper
get -s /zookeeper/config
get -s /zookeeper/quota
getAcl /
getAcl /zookeeper/config
config
set /zookeeper/config x
delete /zookeeper
delete /zookeeper/quota
create /zookeeper/x
delete /zookeeper/x
getAllChildrenNumber /zookeeper
`},
	{"create", `
create /cr hello
create /cr/plain
create /cr/empty ""
create /cr/spaces "a b  c"
create -e /cr/eph edata
create -s /cr/seq- s1
create -s /cr/seq- s2
create -e -s /cr/eseq- es
create -s -e /cr/eseq- es2
create -s /cr/
create -c /cr/cont
create -c /cr/cont/kid
create -t 100000 /cr/ttl tdata
create -t 100000 -s /cr/ttls- tdata
create /cr/acl adata world:anyone:cdrwa
create /cr/missing/child x
create /cr x
create /cr/plain
create /cr/eph/child x
create -s /cr/seq-0000000011
create -s /cr/seq-000000001
create -t 100000 -e /cr/ttle x
create -t 0 /cr/ttl0 x
create -c -e /cr/ce
create -c -s /cr/cs
create -s /cr/nope/
create
get /cr
get /cr/plain
get /cr/empty
get /cr/spaces
get /cr/eph
get /cr/seq-0000000005
get /cr/eseq-0000000006
get /cr/0000000008
get -s /cr/eph
get -s /cr/cont
get -s /cr/ttl
get -s /cr/ttls-0000000011
ls /cr
stat /cr
`},
	{"get set stat", `
create /gs v0
get /gs
get -s /gs
set /gs v1
get -s /gs
set -s /gs v2
set -v 2 /gs v3
set -v 2 /gs stale
set -v 99 /gs far
set -s -v 3 /gs v4
set -v -1 /gs v5
set /gs ""
get -s /gs
set /gs/missing x
set /gs
get /gs/missing
get -s /gs/missing
stat /gs
stat /gs/missing
create /gs/kid
stat /gs
get -s /gs
`},
	{"ls", `
create /ls
create /ls/b
create /ls/a
create /ls/a/x
create /ls/a/y y
create /ls/c/
create -e /ls/e
ls /ls
ls -s /ls
ls -R /ls
ls -R /ls/a
ls -s /ls/a/y
ls /ls/a/y
ls /ls/missing
ls -s /ls/missing
ls -R /ls/missing
ls
getAllChildrenNumber /ls
getAllChildrenNumber /ls/b
getAllChildrenNumber /ls/missing
`},
	{"delete", `
create /del
create /del/a
create /del/a/b
create /del/s- x
create -s /del/q-
create -s /del/q-
delete /del
delete /del/a
delete /del/missing
delete /del/missing/deeper
delete -v 5 /del/s-
delete -v 0 /del/s-
stat /del/s-
delete -v -1 /del/q-0000000003
create -s /del/q-
ls /del
stat /del
create /del/t
create /del/t/1
create /del/t/1/2 x
create /del/t/1/3
create /del/t/4
deleteall /del/t
stat /del/t
deleteall /del/missing
create /del/u
create /del/u/1
create /del/u/2
deleteall /del/u -b 1
ls /del
delete /
delete
`},
	{"acl", `
create /acl
create /acl/open x world:anyone:cdrwa
create /acl/ro x world:anyone:r
create /acl/nr x world:anyone:cdwa
create /acl/digest x digest:bob:ikIaKsbtGweaHnb/jKn7OHqbunM=:cdrwa
create /acl/ip x ip:127.0.0.1:cdrwa
create /acl/net x ip:127.0.0.0/8:cdrwa
create /acl/far x ip:10.0.0.0/8:cdrwa
create /acl/two x world:anyone:r,ip:127.0.0.1:cdrwa
create /acl/noauth x auth::cdrwa
create /acl/badperm x world:anyone:z
create /acl/badscheme x bogus:anyone:r
create /acl/badip x ip:300.1.1.1:r
getAcl /acl/open
getAcl /acl/ro
getAcl /acl/digest
getAcl /acl/ip
getAcl /acl/net
getAcl /acl/two
getAcl -s /acl/open
getAcl /acl/missing
get /acl/nr
ls /acl/nr
get /acl/far
get /acl/net
set /acl/ro y
create /acl/ro/kid
delete /acl/ro
setAcl /acl/ro world:anyone:cdrwa
getAcl /acl/digest
get /acl/digest
setAcl /acl/open world:anyone:rw
getAcl -s /acl/open
setAcl /acl/open world:anyone:cdrwa
setAcl -v 7 /acl/net world:anyone:cdrwa
setAcl -v 0 /acl/net world:anyone:cdrwa
setAcl -s /acl/net ip:127.0.0.1:cdrwa
setAcl /acl/missing world:anyone:r
setAcl /acl/net bogus:x:r
setAcl /acl/net world:anyone:q
create /acl/locked
create /acl/locked/kid
setAcl /acl/locked world:anyone:ra
deleteall /acl/locked
ls /acl/locked
setAcl /acl/locked world:anyone:cdrwa
deleteall /acl/locked
stat /acl/locked
create /acl/tree
create /acl/tree/a
create /acl/tree/a/b
setAcl -R /acl/tree world:anyone:cdrw
getAcl /acl/tree/a/b
setAcl -R /acl/tree world:anyone:cdrwa
getAcl /acl/tree/a/b
addauth digest bob:pw
get /acl/digest
setAcl /acl/digest auth::cdrwa
getAcl /acl/digest
create /acl/auth x auth::cdrwa
getAcl /acl/auth
create /acl/auth2 x auth:bob:pw:cdrwa
getAcl /acl/auth2
addauth digest alice:secret
create /acl/both x auth::cdr
getAcl /acl/both
whoami
ls /acl
`},
	// x509 ACL entries are left out: zkfs accepts them on every replica,
	// while the reference ZooKeeper, started without an X509 provider,
	// answers InvalidACL (docs/security.md). TestSecurityTLSClientPort
	// checks what such an entry grants.
	{"acl parsing and auth", `
create /ap
create /ap/u "ü ß 日本"
get -s /ap/u
create /ap/a1 x world:anyone:
create /ap/a2 x digest:bob:cdrwa
create /ap/a3 x ip:127.0.0.1/33:r
create /ap/a4 x ip:127.0.0.1/32:r
create /ap/a5 x super:x:r
create /ap/a6 x world:someone:r
create /ap/a7 x world:anyone:rr
create /ap/a8 x WORLD:anyone:r
create /ap/a9 x world:anyone:R
create /ap/a10 x ip:::1:r
create /ap/a11 x ip:127.0.0.1/0:cdrwa
create /ap/a13 x digest::r
create /ap/a14 x world:anyone:cdrwa,world:anyone:r
getAcl /ap/a1
getAcl /ap/a4
getAcl /ap/a7
getAcl /ap/a11
getAcl /ap/a14
get /ap/a1
ls /ap
addauth digest bob
whoami
addauth ip 1.2.3.4
whoami
addauth bogus x
#await state:AuthFailed
whoami
ls /ap
`},
	{"paths", `
create /pa
create pa
create /pa/
create /pa//x
create /pa/./x
create /pa/../x
create /pa/.
create /
get pa
get /pa/
get //
set pa x
set /pa/ x
stat pa
stat /pa/
ls pa
ls /pa/
delete pa
delete /pa/
deleteall pa
getAcl pa
setAcl /pa/ world:anyone:r
sync pa
`},
	{"watches", `
create /wa w0
get -w /wa
set /wa w1
stat -w /wa/new
create /wa/new
ls -w /wa
create /wa/new2
get -w /wa/new2
delete /wa/new2
addWatch /wa/new
set /wa/new a
set /wa/new b
delete /wa/new
addWatch -m PERSISTENT_RECURSIVE /wa
create /wa/r
create /wa/r/deep x
set /wa/r/deep y
delete /wa/r/deep
removewatches /wa
removewatches /wa/new
removewatches /wa/none
stat -w /wa
removewatches /wa -d
create /wa/after
`},
	{"sessions", `
create /se
create -e /se/e1 x
create -e -s /se/e- x
create /se/p x
getEphemerals /se
getEphemerals /se/e1
getEphemerals /nomatch
getEphemerals /
get -s /se/e1
ls -s /se
sync /se
sync /se/missing
`},
	// The previous shell's quit closed its session, and its ephemeral
	// nodes went with it. (close and connect in one shell would print the
	// Closed and SyncConnected events from two event threads, in no fixed
	// order.)
	{"after a session", `
ls /se
stat /se
getEphemerals /se
create -e /se/e1 again
get -s /se/e1
whoami
`},
}

// TestZkCliCompat runs Debian's zkCli.sh against zkfs and against Apache
// ZooKeeper 3.8 with the same scripts: after normalizeZkCli, every
// character must match, results and error messages alike.
func TestZkCliCompat(t *testing.T) {
	zk := startZooKeeper(t)
	srv := startServer(t)
	zkAddr := zk.Addr(t)
	for _, sc := range zkCliScripts {
		ok := t.Run(sc.name, func(t *testing.T) {
			script := strings.TrimPrefix(sc.script, "\n") + "quit\n"
			// Both shells at once: each spends most of its time starting a JVM.
			var ref string
			var refCode int
			var refErr error
			done := make(chan struct{})
			go func() {
				defer close(done)
				ref, refCode, refErr = zkCliOutput(zkAddr, script)
			}()
			got, code, err := zkCliOutput(srv.Addr(), script)
			<-done
			if refErr != nil {
				t.Fatalf("zkCli.sh against ZooKeeper: %v\n%s", refErr, ref)
			}
			if err != nil {
				t.Fatalf("zkCli.sh against zkfs: %v\n%s", err, got)
			}
			want := normalizeZkCli(ref, zkAddr)
			have := normalizeZkCli(got, srv.Addr())
			// Two equal failures would compare equal: the reference must
			// have connected, and no command may have crashed the shell.
			if !strings.Contains(want, "WatchedEvent state:SyncConnected type:None path:null") ||
				strings.Contains(want, "Exception") {
				t.Fatalf("zkCli.sh did not run the script through against ZooKeeper:\n%s", ref)
			}
			if code != refCode {
				t.Errorf("zkCli.sh exits with %d against zkfs, %d against ZooKeeper", code, refCode)
			}
			if d := lineDiff(want, have); d != "" {
				t.Errorf("zkCli.sh prints differently against zkfs (+) than against ZooKeeper 3.8 (-):\n%s", d)
				t.Logf("against ZooKeeper, normalized:\n%s", want)
			}
		})
		if !ok {
			// Later scripts would start from states that already differ.
			break
		}
	}
}

var (
	zxidLine  = regexp.MustCompile(`(?m)^([cmp]Zxid = )(0x[0-9a-f]+)$`)
	timeLine  = regexp.MustCompile(`(?m)^([cm]time = )(.+)$`)
	ownerLine = regexp.MustCompile(`(?m)^(ephemeralOwner = )(0x[0-9a-f]+)$`)
	// zkCli.sh's watcher prints each of these lines with one println of
	// "\n" + text, so each is exactly this substring of the stream.
	watcherLine = regexp.MustCompile(`\n(WATCHER::|WatchedEvent [^\n]*)\n`)
	ephemerals  = regexp.MustCompile(`(?m)^\[(/[^\]\n]*)\]$`)
)

// epoch is how the stat block shows time 0, the times of the nodes a fresh
// server starts with; it stays, being the same on both servers.
const epoch = "Thu Jan 01 00:00:00 UTC 1970"

// normalizeZkCli rewrites what may legitimately differ between two servers
// giving the same answers, and nothing else:
//   - the server's address (its port) becomes SERVER;
//   - SLF4J's complaints about logging, printed by the JVM, go;
//   - watch events are printed by zkCli.sh's event thread, at no fixed
//     place among the main thread's output: they are taken out, in their
//     own order, and listed at the end;
//   - zxids become their rank among the zxids printed (0x0 stays), so that
//     equal, older and newer still show, but not how many transactions
//     each server counted in between;
//   - ctime and mtime other than the epoch become <time>;
//   - session ids (ephemeralOwner) become S1, S2, ... in order of first
//     appearance;
//   - whoami's identities and getEphemerals' paths are sorted: ZooKeeper
//     answers both from a Java hash set, in no meaningful order;
//   - the reports of the session's close at quit (Disconnected, Closed)
//     go, as the shell may exit before its event thread prints them;
//   - a run of "Not connected" lines counts as one: once the server has
//     closed the session (after a failed addauth, say), the shell's next
//     commands each print it, but a command sent before the shell has
//     noticed the close may print it twice or once, by a race between
//     its main thread and its event thread;
//   - deleteall's "Failed to delete some node(s) in the subtree!" goes:
//     zkCli.sh prints it or not by a race of its own (ZKUtil's callback
//     wakes the waiting thread before it records the failure), so the
//     scripts check what deleteall left with ls and stat instead.
func normalizeZkCli(out, addr string) string {
	out = strings.ReplaceAll(out, addr, "SERVER")
	var events []string
	for {
		loc := watcherLine.FindStringSubmatchIndex(out)
		if loc == nil {
			break
		}
		events = append(events, out[loc[2]:loc[3]])
		out = out[:loc[0]] + out[loc[1]:]
	}
	out = strings.TrimPrefix(out, "\n")
	// The shell exits right after quit closes its session, racing its event
	// thread's report of the close, which comes out whole, in part or not,
	// and after a Disconnected if the client saw the socket close first.
	for len(events) > 0 {
		last := events[len(events)-1]
		if last != "WATCHER::" && last != "WatchedEvent state:Closed type:None path:null" &&
			last != "WatchedEvent state:Disconnected type:None path:null" {
			break
		}
		events = events[:len(events)-1]
	}

	var zxids []int64
	seen := map[int64]bool{}
	for _, m := range zxidLine.FindAllStringSubmatch(out, -1) {
		z, _ := strconv.ParseInt(m[2][2:], 16, 64)
		if z != 0 && !seen[z] {
			seen[z] = true
			zxids = append(zxids, z)
		}
	}
	sort.Slice(zxids, func(i, j int) bool { return zxids[i] < zxids[j] })
	rank := map[int64]int{}
	for i, z := range zxids {
		rank[z] = i + 1
	}
	out = zxidLine.ReplaceAllStringFunc(out, func(l string) string {
		m := zxidLine.FindStringSubmatch(l)
		z, _ := strconv.ParseInt(m[2][2:], 16, 64)
		if z == 0 {
			return l
		}
		return fmt.Sprintf("%s<zxid %d>", m[1], rank[z])
	})
	out = timeLine.ReplaceAllStringFunc(out, func(l string) string {
		m := timeLine.FindStringSubmatch(l)
		if m[2] == epoch {
			return l
		}
		return m[1] + "<time>"
	})
	sessions := map[string]string{}
	out = ownerLine.ReplaceAllStringFunc(out, func(l string) string {
		m := ownerLine.FindStringSubmatch(l)
		if m[2] == "0x0" {
			return l
		}
		if sessions[m[2]] == "" {
			sessions[m[2]] = fmt.Sprintf("S%d", len(sessions)+1)
		}
		return m[1] + sessions[m[2]]
	})
	out = ephemerals.ReplaceAllStringFunc(out, func(l string) string {
		paths := strings.Split(l[1:len(l)-1], ", ")
		sort.Strings(paths)
		return "[" + strings.Join(paths, ", ") + "]"
	})

	var lines []string
	in := strings.Split(out, "\n")
	for i := 0; i < len(in); i++ {
		l := in[i]
		if strings.HasPrefix(l, "SLF4J: ") || l == "Failed to delete some node(s) in the subtree!" {
			continue
		}
		if l == "Not connected" && len(lines) > 0 && lines[len(lines)-1] == l {
			continue
		}
		lines = append(lines, l)
		if l == "Auth scheme: User" {
			start := len(lines)
			for i+1 < len(in) && whoamiLine.MatchString(in[i+1]) {
				i++
				lines = append(lines, in[i])
			}
			sort.Strings(lines[start:])
		}
	}
	out = strings.Join(lines, "\n")
	if len(events) > 0 {
		out += "-- watch events, in order --\n" + strings.Join(events, "\n") + "\n"
	}
	return out
}

var whoamiLine = regexp.MustCompile(`^[a-z0-9]+: `)

// TestNormalizeZkCli checks that the normalization hides only what it
// claims to: two servers that answer differently still compare unequal.
func TestNormalizeZkCli(t *testing.T) {
	stat := func(czxid, mzxid, ctime, owner string) string {
		return "cZxid = " + czxid + "\nctime = " + ctime + "\nmZxid = " + mzxid +
			"\nmtime = " + ctime + "\npZxid = " + czxid + "\nephemeralOwner = " + owner + "\n"
	}
	tests := []struct {
		name  string
		a, b  string
		equal bool
	}{
		{"address", "Connecting to 127.0.0.1:1\n", "Connecting to 127.0.0.1:2\n", true},
		{"zxids by rank", stat("0x2", "0x5", "Mon", "0x11"), stat("0x7", "0x9", "Tue", "0x22"), true},
		{"zxid order", stat("0x2", "0x5", "Mon", "0x0"), stat("0x9", "0x7", "Mon", "0x0"), false},
		{"zxid equality", stat("0x2", "0x2", "Mon", "0x0"), stat("0x2", "0x3", "Mon", "0x0"), false},
		{"epoch kept", stat("0x0", "0x0", epoch, "0x0"), stat("0x0", "0x0", "Mon", "0x0"), false},
		{"session or none", stat("0x2", "0x2", "Mon", "0x0"), stat("0x2", "0x2", "Mon", "0x1"), false},
		{"event placement", "a\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\nb\n",
			"a\nb\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n", true},
		{"close at quit, printed or not", "a\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n\nWATCHER::\n\nWatchedEvent state:Closed type:None path:null\n",
			"a\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n\nWATCHER::\n", true},
		{"disconnected at quit", "a\n\nWATCHER::\n\nWatchedEvent state:Disconnected type:None path:null\n", "a\n", true},
		{"disconnected before the end", "\nWATCHER::\n\nWatchedEvent state:Disconnected type:None path:null\nb\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n", "b\n\nWATCHER::\n\nWatchedEvent state:SyncConnected type:None path:null\n", false},
		{"event kind", "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeCreated path:/a\n",
			"\nWATCHER::\n\nWatchedEvent state:SyncConnected type:NodeDeleted path:/a\n", false},
		{"unterminated line before an event", "NoAuth for /a\nWATCHER::\nb\n", "NoAuth for /ab\n\nWATCHER::\n", true},
		{"ephemerals as a set", "[/a/y, /a/x]\n", "[/a/x, /a/y]\n", true},
		{"children keep their order", "[y, x]\n", "[x, y]\n", false},
		{"whoami as a set", "Auth scheme: User\ndigest: bob\nip: 127.0.0.1\nx\n",
			"Auth scheme: User\nip: 127.0.0.1\ndigest: bob\nx\n", true},
		{"not connected, however often", "a\nNot connected\nNot connected\n", "a\nNot connected\n", true},
		{"not connected or an answer", "Not connected\n", "[a]\n", false},
		{"data", "hello\n", "hallo\n", false},
		{"empty data is not null", "\n", "null\n", false},
	}
	for _, tt := range tests {
		a := normalizeZkCli(tt.a, "127.0.0.1:1")
		b := normalizeZkCli(tt.b, "127.0.0.1:2")
		if (a == b) != tt.equal {
			t.Errorf("%s: equal = %v, want %v\n%q\n%q", tt.name, a == b, tt.equal, a, b)
		}
	}
}
