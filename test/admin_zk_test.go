package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// startZooKeeperAdmin runs Debian's ZooKeeper 3.8 standalone with its
// AdminServer on a free port and returns the client and admin addresses.
// Debian's zkServer.sh leaves the servlet API off the class path, which
// keeps the AdminServer from starting, so java runs directly.
func startZooKeeperAdmin(t *testing.T) (client, admin string) {
	t.Helper()
	requireZooKeeper(t)
	dir := t.TempDir()
	cport, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	aport, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf("tickTime=2000\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n"+
		"admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort=%d\n4lw.commands.whitelist=*\n",
		filepath.Join(dir, "data"), cport, aport)
	cfgPath := filepath.Join(dir, "zoo.cfg")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "zookeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("java", "-cp", "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/servlet-api.jar",
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); logf.Close(); close(done) }()
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	})
	admin = fmt.Sprintf("http://127.0.0.1:%d", aport)
	deadline := time.Now().Add(90 * time.Second)
	for {
		if status, _ := curlJSON(t, admin+"/commands/ruok"); status == 200 {
			break
		}
		select {
		case <-done:
			b, _ := os.ReadFile(filepath.Join(dir, "zookeeper.log"))
			t.Fatalf("ZooKeeper exited while starting:\n%s", b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("ZooKeeper's AdminServer did not answer within 90s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Sprintf("127.0.0.1:%d", cport), admin
}

// jsonKeys lists the keys of a decoded JSON object, nested objects and the
// first element of arrays of objects included, as dotted paths.
func jsonKeys(prefix string, v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			out[prefix+k] = true
			jsonKeys(prefix+k+".", e, out)
		}
	case []any:
		if len(x) > 0 {
			jsonKeys(prefix+"[].", x[0], out)
		}
	}
}

// zkfsOwnFields are the figures zkfs adds to ZooKeeper's commands on
// purpose, under names ZooKeeper does not use; any other field must be
// one of ZooKeeper's.
var zkfsOwnFields = map[string]bool{
	"mntr.log_syncs":  true, // Raft log fsyncs, and the writes they carried
	"mntr.log_writes": true,
}

// TestAdminCommandsMatchZooKeeper asks a real ZooKeeper 3.8's AdminServer
// and zkfs the same commands, each with one client session open, and
// checks that zkfs answers with ZooKeeper's field names: every field zkfs
// sends is one ZooKeeper sends too (but for zkfsOwnFields), and the fields
// probes read are there.
func TestAdminCommandsMatchZooKeeper(t *testing.T) {
	zkClient, zkAdmin := startZooKeeperAdmin(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--metrics-address", "127.0.0.1", "--metrics-port", fmt.Sprint(port))
	zkfsAdmin := fmt.Sprintf("http://127.0.0.1:%d", port)
	connect(t, zkClient, 30*time.Second)
	connect(t, s.Addr(), 30*time.Second)

	required := map[string][]string{
		"srvr": {"version", "read_only", "server_stats.server_state", "server_stats.num_alive_client_connections", "node_count", "command", "error"},
		"stat": {"server_stats.server_state", "connections.[].remote_socket_address"},
		"mntr": {"server_state", "znode_count", "ephemerals_count", "watch_count", "num_alive_connections", "outstanding_requests", "avg_latency"},
		"conf": {"client_port", "data_dir", "tick_time", "server_id"},
		"cons": {"connections.[].session_id", "connections.[].last_operation", "secure_connections"},
		"ruok": {"command", "error"},
	}
	for _, name := range []string{"srvr", "stat", "mntr", "conf", "cons", "ruok"} {
		zs, zv := curlJSON(t, zkAdmin+"/commands/"+name)
		fs, fv := curlJSON(t, zkfsAdmin+"/commands/"+name)
		if zs != 200 || fs != 200 {
			t.Errorf("%s: ZooKeeper %d, zkfs %d", name, zs, fs)
			continue
		}
		if zv["command"] != fv["command"] {
			t.Errorf("%s: command %v, ZooKeeper says %v", name, fv["command"], zv["command"])
		}
		zk, zkfs := map[string]bool{}, map[string]bool{}
		jsonKeys("", zv, zk)
		jsonKeys("", fv, zkfs)
		var extra []string
		for k := range zkfs {
			if !zk[k] && !zkfsOwnFields[name+"."+k] {
				extra = append(extra, k)
			}
		}
		sort.Strings(extra)
		if len(extra) > 0 {
			t.Errorf("%s: zkfs sends fields ZooKeeper does not: %s", name, strings.Join(extra, ", "))
		}
		for _, k := range required[name] {
			if !zkfs[k] || !zk[k] {
				t.Errorf("%s: field %s: zkfs has it %v, ZooKeeper %v", name, k, zkfs[k], zk[k])
			}
		}
	}
}
