//go:build ignore

// zk38gen regenerates testdata/zk38: it runs Debian's ZooKeeper 3.8
// standalone on a loopback port, fills it through go-zookeeper with every
// kind of node, records what the server serves in zk38.want, kills it
// (leaving two sessions and their ephemerals open) and copies its
// version-2 directory. Snapshots every few transactions (snapCount) give
// snapshots with content and logs that continue them; small preallocation
// keeps the files small.
//
//	go run zkdata/testdata/zk38gen.go
//	ZK38GEN_COMPRESS=gz go run zkdata/testdata/zk38gen.go
//	ZK38GEN_COMPRESS=snappy go run zkdata/testdata/zk38gen.go
package main

import (
	"fmt"
	"log"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

func main() {
	// ZK38GEN_COMPRESS=gz or snappy writes compressed snapshots into
	// zk38-gz or zk38-snappy instead.
	compress := os.Getenv("ZK38GEN_COMPRESS")
	name := "zk38"
	if compress != "" {
		name += "-" + compress
	}
	out := filepath.Join("zkdata", "testdata", name)
	tmp, err := os.MkdirTemp("", "zk38gen")
	check(err)
	defer os.RemoveAll(tmp)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	check(err)
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=false\nextendedTypesEnabled=true\nsnapCount=12\npreAllocSize=16\n", filepath.Join(tmp, "data"), port)
	if compress != "" {
		cfg += "snapshot.compression.method=" + compress + "\n"
	}
	check(os.WriteFile(filepath.Join(tmp, "zoo.cfg"), []byte(cfg), 0o644))
	cmd := exec.Command("/usr/share/zookeeper/bin/zkServer.sh", "start-foreground", filepath.Join(tmp, "zoo.cfg"))
	cmd.Env = append(os.Environ(), "JMXDISABLE=true")
	logf, err := os.Create(filepath.Join(tmp, "zk.log"))
	check(err)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	check(cmd.Start())
	defer syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	addr := fmt.Sprintf("127.0.0.1:%d", port)

	connect := func() *zk.Conn {
		c, ev, err := zk.Connect([]string{addr}, 10*time.Second, zk.WithLogInfo(false))
		check(err)
		for e := range ev {
			if e.State == zk.StateHasSession {
				break
			}
		}
		return c
	}
	deadline := time.Now().Add(time.Minute)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			log.Fatal("ZooKeeper did not start")
		}
		time.Sleep(100 * time.Millisecond)
	}
	a := connect()
	open := zk.WorldACL(zk.PermAll)
	secret := zk.DigestACL(zk.PermAll, "alice", "secret")
	must := func(_ string, err error) { check(err) }
	must(a.Create("/app", []byte("hello"), 0, open))
	must(a.Create("/app/empty", []byte{}, 0, open))
	bin := make([]byte, 256)
	for i := range bin {
		bin[i] = byte(i)
	}
	must(a.Create("/app/binary", bin, 0, open))
	for i := 0; i < 3; i++ {
		_, err := a.Set("/app", []byte(fmt.Sprintf("hello %d", i)), -1)
		check(err)
	}
	must(a.Create("/a", nil, 0, open))
	must(a.Create("/a/b", nil, 0, open))
	must(a.Create("/a/b/c", []byte("deep"), 0, open))
	check(a.AddAuth("digest", []byte("alice:secret")))
	must(a.Create("/secret", []byte("s3cr3t"), 0, secret))
	must(a.Create("/secret/inner", []byte("x"), 0, append(secret, zk.WorldACL(zk.PermRead)...)))
	must(a.Create("/app/acl", []byte("acl"), 0, open))
	_, err = a.SetACL("/app/acl", zk.WorldACL(zk.PermRead|zk.PermWrite), -1)
	check(err)
	must(a.Create("/queue", nil, 0, open))
	var items []string
	for i := 0; i < 5; i++ {
		p, err := a.Create("/queue/item-", []byte(fmt.Sprint(i)), zk.FlagSequence, open)
		check(err)
		items = append(items, p)
	}
	check(a.Delete(items[0], -1))
	check(a.Delete(items[2], -1))
	must(a.CreateContainer("/locks", nil, zk.FlagContainer, open))
	must(a.Create("/locks/keep", []byte("k"), 0, open))
	must(a.CreateTTL("/ttl", []byte("t"), zk.FlagTTL, open, time.Hour))
	must(a.CreateTTL("/ttlseq-", []byte("t"), zk.FlagPersistentSequentialWithTTL, open, 2*time.Hour))
	_, err = a.Multi(
		&zk.CreateRequest{Path: "/multi", Data: []byte("m"), Acl: open},
		&zk.CreateRequest{Path: "/multi/a", Acl: open},
		&zk.SetDataRequest{Path: "/app/empty", Data: []byte("now"), Version: -1},
	)
	check(err)
	_, err = a.Multi(
		&zk.CreateRequest{Path: "/never", Acl: open},
		&zk.CheckVersionRequest{Path: "/app", Version: 99},
	)
	if err == nil {
		log.Fatal("failing multi succeeded")
	}
	must(a.Create("/gone", nil, 0, open))
	check(a.Delete("/gone", -1))

	// A session that closes: its ephemeral goes with it (closeSession).
	b := connect()
	must(b.Create("/app/brief", nil, zk.FlagEphemeral, open))
	b.Close()
	// Sessions left open: their nodes are in the data directory.
	e := connect()
	must(e.Create("/eph", nil, zk.FlagEphemeral, open))
	must(e.Create("/queue/eph-", []byte("e"), zk.FlagEphemeral|zk.FlagSequence, open))
	must(a.Create("/locks/lock-", nil, zk.FlagEphemeral|zk.FlagSequence, open))
	must(a.Create("/queue/item-", []byte("last"), zk.FlagSequence, open))

	// What the server serves, read through a session that may read all.
	var lines []string
	var walk func(p string)
	walk = func(p string) {
		data, st, err := a.Get(p)
		check(err)
		acl, _, err := a.GetACL(p)
		check(err)
		var as []string
		for _, x := range acl {
			as = append(as, fmt.Sprintf("%d:%s:%s", x.Perms, x.Scheme, x.ID))
		}
		lines = append(lines, fmt.Sprintf("%s %x %d %d %d %d %d %d %d %d %d %d %d %s", p, data,
			st.Czxid, st.Mzxid, st.Ctime, st.Mtime, st.Version, st.Cversion, st.Aversion,
			st.EphemeralOwner, st.DataLength, st.NumChildren, st.Pzxid, strings.Join(as, ",")))
		kids, _, err := a.Children(p)
		check(err)
		sort.Strings(kids)
		for _, k := range kids {
			if p == "/" {
				walk("/" + k)
			} else {
				walk(p + "/" + k)
			}
		}
	}
	walk("/")
	syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	cmd.Wait()

	check(os.RemoveAll(out))
	check(os.MkdirAll(filepath.Join(out, "version-2"), 0o755))
	src := filepath.Join(tmp, "data", "version-2")
	ents, err := os.ReadDir(src)
	check(err)
	for _, f := range ents {
		if !strings.HasPrefix(f.Name(), "log.") && !strings.HasPrefix(f.Name(), "snapshot.") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(src, f.Name()))
		check(err)
		check(os.WriteFile(filepath.Join(out, "version-2", f.Name()), b, 0o644))
	}
	check(os.WriteFile(filepath.Join("zkdata", "testdata", name+".want"), []byte(strings.Join(lines, "\n")+"\n"), 0o644))
	fmt.Println("wrote", out, len(lines), "nodes")
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}
