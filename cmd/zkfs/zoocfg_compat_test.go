package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"zkfs/replication"
)

func TestReadPropertiesJavaRules(t *testing.T) {
	in := "# comment\n" +
		"   ! another comment \\\n" +
		"a=1\n" +
		"b: 2\n" +
		"c 3\n" +
		"  d\t=\t4  \n" +
		"e = five \\\n" +
		"     continued \\\n" +
		"\tand done\n" +
		"f\n" +
		"g\\:h=6\n" +
		"i=tab\\there\\u0041\n" +
		"j=ends in two backslashes \\\\\n" +
		"k=after\r\n" +
		"\n"
	got, err := readProperties(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []property{
		{"a", "1", 3}, {"b", "2", 4}, {"c", "3", 5}, {"d", "4", 6},
		{"e", "five continued and done", 7}, {"f", "", 10}, {"g:h", "6", 11},
		{"i", "tab\thereA", 12}, {"j", `ends in two backslashes \`, 13}, {"k", "after", 14},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if _, err := readProperties(strings.NewReader("x=\\u12\n")); err == nil || !strings.HasPrefix(err.Error(), ":1:") {
		t.Errorf("bad escape: %v", err)
	}
}

// writeCfg writes files into a fresh directory; "DIR" in them stands for
// it. It returns the directory.
func writeCfg(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(strings.ReplaceAll(body, "DIR", dir)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestDynamicConfigFile reads a zoo.cfg and zoo.cfg.dynamic as ZooKeeper
// 3.8 writes them: the server lines, with their client addresses, come from
// the dynamic file, and the client port from this server's line.
func TestDynamicConfigFile(t *testing.T) {
	dir := writeCfg(t, map[string]string{
		"zoo.cfg": "tickTime=2000\ninitLimit=10\nsyncLimit=5\ndataDir=DIR\n" +
			"dynamicConfigFile=DIR/zoo.cfg.dynamic.100000000\nreconfigEnabled=true\nstandaloneEnabled=false\n" +
			"metricsProvider.httpHost=127.0.0.2\nmetricsProvider.httpPort=7000\n",
		"zoo.cfg.dynamic.100000000": "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\n" +
			"server.2=10.0.0.2:2888:3888:participant;10.0.0.2:2182\n" +
			"server.3=[fd00::3]:2888:3888:observer;[fd00::3]:2181\n",
		"myid": "2\n",
	})
	c, err := readZooConfig(filepath.Join(dir, "zoo.cfg"))
	if err != nil {
		t.Fatal(err)
	}
	want := []replication.Peer{
		{ID: "1", RaftAddr: "10.0.0.1:2888", RPCAddr: "10.0.0.1:3888", ClientAddr: "0.0.0.0:2181"},
		{ID: "2", RaftAddr: "10.0.0.2:2888", RPCAddr: "10.0.0.2:3888", ClientAddr: "10.0.0.2:2182"},
		{ID: "3", RaftAddr: "[fd00::3]:2888", RPCAddr: "[fd00::3]:3888", ClientAddr: "[fd00::3]:2181", Observer: true},
	}
	if !reflect.DeepEqual(c.Servers, want) {
		t.Errorf("servers %+v\nwant    %+v", c.Servers, want)
	}
	if c.MyID != "2" || c.ClientPort != 2182 || c.ClientPortAddress != "10.0.0.2" || c.MetricsHost != "127.0.0.2" ||
		!c.StandaloneDisabled || c.ReconfigDisabled {
		t.Errorf("got %+v", c)
	}

	// The membership written back reads the same.
	path := filepath.Join(dir, "zoo.cfg.dynamic.100000000")
	if err := writeDynamicConfig(path, want[:2]); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if string(b) != "server.1=10.0.0.1:2888:3888:participant;0.0.0.0:2181\nserver.2=10.0.0.2:2888:3888:participant;10.0.0.2:2182\n" {
		t.Errorf("written back:\n%s", b)
	}
}

func TestZooConfigRefusals(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"server lines beside dynamicConfigFile", map[string]string{
			"zoo.cfg": "dataDir=DIR\nserver.1=a:1:2\ndynamicConfigFile=DIR/dyn\n", "dyn": "server.1=a:1:2\n"},
			"zoo.cfg:2: server.N lines must be in the dynamic configuration file"},
		{"a version inside the dynamic file", map[string]string{
			"zoo.cfg": "dataDir=DIR\ndynamicConfigFile=DIR/dyn\n", "dyn": "server.1=a:1:2\nversion=100000000\n"},
			"dyn:2: a dynamic configuration file has no version inside"},
		{"another key in the dynamic file", map[string]string{
			"zoo.cfg": "dataDir=DIR\ndynamicConfigFile=DIR/dyn\n", "dyn": "server.1=a:1:2\ntickTime=2000\n"},
			"dyn:2: tickTime: only server.N lines"},
		{"a missing dynamic file", map[string]string{"zoo.cfg": "dataDir=DIR\ndynamicConfigFile=DIR/none\n"},
			"dynamicConfigFile: open"},
		{"several addresses", map[string]string{
			"zoo.cfg": "dataDir=DIR\nserver.1=a:1:2|b:3:4\nserver.2=c:1:2\n"},
			"zoo.cfg:2: server.1: server.1: several addresses for one server (a|b) are not supported"},
		{"an unclosed bracket", map[string]string{
			"zoo.cfg": "dataDir=DIR\nserver.1=[::1:1:2\nserver.2=c:1:2\n"}, "zoo.cfg:2: server.1"},
		{"hierarchical quorums", map[string]string{
			"zoo.cfg": "dataDir=DIR\ngroup.1=1:2:3\n"}, "zoo.cfg:2: group.1: hierarchical quorums"},
		{"a bad boolean", map[string]string{"zoo.cfg": "standaloneEnabled=yes\n"}, "zoo.cfg:1: standaloneEnabled: want true or false"},
		{"a lone participant with observers", map[string]string{
			"zoo.cfg": "dataDir=DIR\nserver.1=a:1:2\nserver.2=b:1:2:observer\n"}, "observers need a quorum"},
		{"no participant", map[string]string{
			"zoo.cfg": "dataDir=DIR\nserver.2=b:1:2:observer\n"}, "observers without participants"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeCfg(t, tt.files)
			_, err := readZooConfig(filepath.Join(dir, "zoo.cfg"))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// TestStandaloneEnabled: one participant line is a standalone server by
// default, as in ZooKeeper, and an ensemble of one with
// standaloneEnabled=false.
func TestStandaloneEnabled(t *testing.T) {
	line := "server.1=127.0.0.1:2888:3888;127.0.0.1:2191\n"
	dir := writeCfg(t, map[string]string{"zoo.cfg": "dataDir=DIR\n" + line})
	c, err := readZooConfig(filepath.Join(dir, "zoo.cfg"))
	if err != nil || len(c.Servers) != 0 || c.ClientPort != 2191 || c.ClientPortAddress != "127.0.0.1" {
		t.Errorf("default: %+v %v; want standalone on the line's client port", c, err)
	}
	dir = writeCfg(t, map[string]string{"zoo.cfg": "dataDir=DIR\nstandaloneEnabled=false\n" + line, "myid": "1"})
	c, err = readZooConfig(filepath.Join(dir, "zoo.cfg"))
	if err != nil || len(c.Servers) != 1 || c.MyID != "1" {
		t.Errorf("standaloneEnabled=false: %+v %v; want an ensemble of one", c, err)
	}
}
