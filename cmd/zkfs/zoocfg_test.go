package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"zkfs/replication"
)

func TestParseZooConfig(t *testing.T) {
	in := `# a three-server ensemble, as in ZooKeeper's admin guide
tickTime=2000
initLimit=5
syncLimit=2
dataDir=/var/lib/zookeeper
dataLogDir=/disk2/zk
clientPort=2181
clientPortAddress=127.0.0.1
maxClientCnxns=0
minSessionTimeout=3000
maxSessionTimeout=60000
4lw.commands.whitelist=srvr, mntr, ruok
snapCount=50000
autopurge.snapRetainCount=1
autopurge.purgeInterval=24
server.1=zoo1:2888:3888
server.2=zoo2:2888:3888:participant;2181
server.3=zoo3:2888:3888:observer;10.0.0.3:2182
admin.serverPort=8080
admin.enableServer=true
`
	got, err := parseZooConfig(strings.NewReader(in), "zoo.cfg")
	if err != nil {
		t.Fatal(err)
	}
	want := &zooConfig{
		TickTime: 2 * time.Second, InitLimit: 5, SyncLimit: 2,
		DataDir: "/var/lib/zookeeper", DataLogDir: "/disk2/zk",
		ClientPort: 2181, ClientPortAddress: "127.0.0.1",
		MaxClientCnxns: 0, HasMaxClientCnxns: true,
		MinSessionTimeout: 3 * time.Second, MaxSessionTimeout: time.Minute,
		FourLetterWords: "srvr, mntr, ruok", SnapCount: 50000,
		SnapRetainCount: 3, PurgeInterval: 24,
		Servers: []replication.Peer{
			{ID: "1", RaftAddr: "zoo1:2888", RPCAddr: "zoo1:3888"},
			{ID: "2", RaftAddr: "zoo2:2888", RPCAddr: "zoo2:3888", ClientAddr: "0.0.0.0:2181"},
			{ID: "3", RaftAddr: "zoo3:2888", RPCAddr: "zoo3:3888", ClientAddr: "10.0.0.3:2182", Observer: true},
		},
		AdminPort: 8080,
		Ignored:   []string{"admin.enableServer"},
		Extra:     map[string]string{},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestParseZooConfigErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"tickTime=2000\nclientPort=abc\n", "zoo.cfg:2: clientPort"},
		{"tickTime=-5\n", "zoo.cfg:1: tickTime"},
		{"server.1=a:1:2\nserver.1=b:1:2\n", "zoo.cfg:2: server.1"},
		{"server.x=a:1:2\n", "zoo.cfg:1: server.x"},
		{"server.1=a:1\n", "zoo.cfg:1: server.1"},
		{"server.1=a:1:2:boss\n", "zoo.cfg:1: server.1"},
		{"server.1=a:1:99999\n", "zoo.cfg:1: server.1"},
		{"\n\ntickTime two\n", "zoo.cfg:3: tickTime"},
		{"dataDir=/a\ndataDir=/b\n", "zoo.cfg:2: dataDir is set twice"},
	}
	for _, tt := range tests {
		_, err := parseZooConfig(strings.NewReader(tt.in), "zoo.cfg")
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: got %v, want an error starting %q", tt.in, err, tt.want)
		}
	}
}

func TestReadZooConfigMyID(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "zoo.cfg")
	body := "dataDir=" + dir + "\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n"
	os.WriteFile(cfg, []byte(body), 0o644)
	if _, err := readZooConfig(cfg); err == nil || !strings.Contains(err.Error(), "myid") {
		t.Errorf("missing myid: got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "myid"), []byte("7\n"), 0o644)
	if _, err := readZooConfig(cfg); err == nil || !strings.Contains(err.Error(), "not among") {
		t.Errorf("unknown myid: got %v", err)
	}
	os.WriteFile(filepath.Join(dir, "myid"), []byte("2\n"), 0o644)
	c, err := readZooConfig(cfg)
	if err != nil || c.MyID != "2" {
		t.Errorf("got %+v %v, want myid 2", c, err)
	}
}
