package zkserver

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

func fourLetterWord(t *testing.T, addr, word string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(word)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("%s: %v", word, err)
	}
	return string(b)
}

// TestFourLetterWords checks the answers against the formats of a real
// ZooKeeper 3.8.0 (captured with 4lw.commands.whitelist=*).
func TestFourLetterWords(t *testing.T) {
	dir := t.TempDir()
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.DataDir = dir; cfg.Version = "test" })
	c, _ := zkConnect(t, ts.addr, 10*time.Second)
	c.Create("/a", []byte("x"), 0, zk.WorldACL(zk.PermAll))
	c.GetW("/a")
	c.ExistsW("/b")
	c.ChildrenW("/a")

	if got := fourLetterWord(t, ts.addr, "ruok"); got != "imok" {
		t.Errorf("ruok = %q", got)
	}
	if got := fourLetterWord(t, ts.addr, "isro"); got != "rw" {
		t.Errorf("isro = %q", got)
	}
	srvr := regexp.MustCompile(`^Zookeeper version: 3\.8\.0-zkfs-test
Latency min/avg/max: \d+/\d+\.\d+/\d+
Received: \d+
Sent: \d+
Connections: 2
Outstanding: 0
Zxid: 0x[0-9a-f]+
Mode: standalone
Node count: 6
$`)
	if got := fourLetterWord(t, ts.addr, "srvr"); !srvr.MatchString(got) {
		t.Errorf("srvr:\n%s", got)
	}
	stat := regexp.MustCompile(`^Zookeeper version: 3\.8\.0-zkfs-test
Clients:
( /127\.0\.0\.1:\d+\[[01]\]\(queued=\d+,recved=\d+,sent=\d+\)
){2}
Latency min/avg/max: `)
	if got := fourLetterWord(t, ts.addr, "stat"); !stat.MatchString(got) {
		t.Errorf("stat:\n%s", got)
	}
	cons := regexp.MustCompile(fmt.Sprintf(` /127\.0\.0\.1:\d+\[1\]\(queued=0,recved=\d+,sent=\d+,sid=0x%x,lop=GETC,est=\d+,to=10000,lcxid=0x[0-9a-f]+,lzxid=0x[0-9a-f]+,lresp=\d+,llat=\d+,minlat=\d+,avglat=\d+,maxlat=\d+\)
`, c.SessionID()))
	if got := fourLetterWord(t, ts.addr, "cons"); !cons.MatchString(got) || !strings.HasSuffix(got, ")\n\n") {
		t.Errorf("cons:\n%s", got)
	}
	// Like ZooKeeper 3.8, the watch reports cover data and exists watches.
	if got, want := fourLetterWord(t, ts.addr, "wchs"), "1 connections watching 2 paths\nTotal watches:2\n"; got != want {
		t.Errorf("wchs = %q, want %q", got, want)
	}
	if got, want := fourLetterWord(t, ts.addr, "wchc"), fmt.Sprintf("0x%x\n\t/a\n\t/b\n\n", c.SessionID()); got != want {
		t.Errorf("wchc = %q, want %q", got, want)
	}
	if got, want := fourLetterWord(t, ts.addr, "wchp"), fmt.Sprintf("/a\n\t0x%x\n/b\n\t0x%x\n\n", c.SessionID(), c.SessionID()); got != want {
		t.Errorf("wchp = %q, want %q", got, want)
	}
	port := ts.addr[strings.LastIndexByte(ts.addr, ':')+1:]
	conf := regexp.MustCompile(`^clientPort=` + port + `
secureClientPort=-1
dataDir=` + regexp.QuoteMeta(dir) + `
dataDirSize=\d+
dataLogDir=` + regexp.QuoteMeta(dir) + `
dataLogSize=\d+
tickTime=2000
maxClientCnxns=0
minSessionTimeout=4000
maxSessionTimeout=40000
clientPortListenBacklog=-1
serverId=0
$`)
	if got := fourLetterWord(t, ts.addr, "conf"); !conf.MatchString(got) {
		t.Errorf("conf:\n%s", got)
	}
	mntr := fourLetterWord(t, ts.addr, "mntr")
	for _, want := range []string{"zk_version\t3.8.0-zkfs-test\n", "zk_server_state\tstandalone\n", "zk_znode_count\t6\n",
		"zk_global_sessions\t1\n", "zk_watch_count\t3\n", "zk_num_alive_connections\t2\n"} {
		if !strings.Contains(mntr, want) {
			t.Errorf("mntr lacks %q:\n%s", want, mntr)
		}
	}
	if got := fourLetterWord(t, ts.addr, "dirs"); !regexp.MustCompile(`^datadir_size: \d+\nlogdir_size: \d+\n$`).MatchString(got) {
		t.Errorf("dirs = %q", got)
	}
	if got := fourLetterWord(t, ts.addr, "envi"); !strings.HasPrefix(got, "Environment:\nzookeeper.version=3.8.0-zkfs-test\nhost.name=") {
		t.Errorf("envi:\n%s", got)
	}
	if got := fourLetterWord(t, ts.addr, "srst"); got != "Server stats reset.\n" {
		t.Errorf("srst = %q", got)
	}
}

func TestFourLetterWhitelist(t *testing.T) {
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.FourLetterWords = nil }) // ZooKeeper's default: srvr
	if got := fourLetterWord(t, ts.addr, "ruok"); got != "ruok is not executed because it is not in the whitelist.\n" {
		t.Errorf("ruok outside the whitelist = %q", got)
	}
	if got := fourLetterWord(t, ts.addr, "srvr"); !strings.HasPrefix(got, "Zookeeper version: ") {
		t.Errorf("srvr = %q", got)
	}
	ts2 := startTestServer(t, func(cfg *ServerConfig) { cfg.FourLetterWords = []string{"ruok, stat"} })
	if got := fourLetterWord(t, ts2.addr, "ruok"); got != "imok" {
		t.Errorf("ruok in the whitelist = %q", got)
	}
	if got := fourLetterWord(t, ts2.addr, "srvr"); !strings.Contains(got, "not in the whitelist") {
		t.Errorf("srvr outside the whitelist = %q", got)
	}
	if _, err := parseWhitelist([]string{"ruok,nope"}); err == nil {
		t.Error("an unknown word in the whitelist was accepted")
	}
}

// TestConfSeparateLogDir checks that conf and dirs report a separate
// dataLogDir as ZooKeeper does, instead of the data directory twice.
func TestConfSeparateLogDir(t *testing.T) {
	dir, logDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(logDir, "log"), make([]byte, 4096), 0o644); err != nil {
		t.Fatal(err)
	}
	ts := startTestServer(t, func(cfg *ServerConfig) { cfg.DataDir = dir; cfg.DataLogDir = logDir })
	conf := fourLetterWord(t, ts.addr, "conf")
	for _, want := range []string{"dataDir=" + dir + "\n", "dataLogDir=" + logDir + "\n", "dataLogSize=4096\n"} {
		if !strings.Contains(conf, want) {
			t.Errorf("conf lacks %q:\n%s", want, conf)
		}
	}
	if got := fourLetterWord(t, ts.addr, "dirs"); !strings.HasSuffix(got, "logdir_size: 4096\n") {
		t.Errorf("dirs = %q, want logdir_size 4096", got)
	}
}
