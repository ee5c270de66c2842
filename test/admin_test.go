package test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// curlJSON fetches url with curl and returns the HTTP status and the
// decoded JSON body.
func curlJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	out, err := exec.Command("curl", "-s", "--max-time", "5", "-w", "\n%{http_code}", url).Output()
	if err != nil {
		return 0, nil // not answering (yet, or any more)
	}
	i := strings.LastIndexByte(string(out), '\n')
	if i < 0 {
		t.Fatalf("%s: curl printed %q", url, out)
	}
	body := out[:i]
	var status int
	fmt.Sscan(string(out[i+1:]), &status)
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%s: status %d, body is not JSON: %v\n%s", url, status, err, body)
	}
	return status, v
}

func adminURL(m *member, path string) string {
	return fmt.Sprintf("http://127.0.0.1:%d%s", m.Metrics, path)
}

// waitReady polls /ready on m until it answers with the wanted status.
func waitReady(t *testing.T, m *member, want bool, d time.Duration) map[string]any {
	t.Helper()
	var last map[string]any
	var status int
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		status, last = curlJSON(t, adminURL(m, "/ready"))
		if status != 0 && (status == 200) == want && last["ready"] == want {
			return last
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("server %d: /ready did not become %v within %v (last: %d %v)", m.ID, want, d, status, last)
	return nil
}

// TestAdminEndpointsThroughLeaderLoss checks the admin HTTP endpoints of a
// three-replica ensemble with curl: /health, /ready and the AdminServer
// commands, then /ready going false on the one replica left without a
// leader (the leader killed, the other follower stopped) and true again
// once a quorum is back.
func TestAdminEndpointsThroughLeaderLoss(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	leader := e.leader()
	c := connect(t, leader.Addr(), 30*time.Second)
	for _, m := range e.members {
		if status, v := curlJSON(t, adminURL(m, "/health")); status != 200 || v["status"] != "serving" {
			t.Errorf("server %d /health: %d %v", m.ID, status, v)
		}
		r := waitReady(t, m, true, 10*time.Second)
		if r["mount"] != "up" || r["leader"] != fmt.Sprint(leader.ID) {
			t.Errorf("server %d /ready: %v, want the mount up and leader %d", m.ID, r, leader.ID)
		}
		status, srvr := curlJSON(t, adminURL(m, "/commands/srvr"))
		stats, _ := srvr["server_stats"].(map[string]any)
		wantMode := "follower"
		if m == leader {
			wantMode = "leader"
		}
		if status != 200 || srvr["command"] != "server_stats" || srvr["error"] != nil || stats["server_state"] != wantMode {
			t.Errorf("server %d /commands/srvr: %d %v", m.ID, status, srvr)
		}
		status, mntr := curlJSON(t, adminURL(m, "/commands/mntr"))
		if n, _ := mntr["znode_count"].(float64); status != 200 || mntr["command"] != "monitor" || n < 4 {
			t.Errorf("server %d /commands/mntr: %d %v", m.ID, status, mntr)
		}
		status, conf := curlJSON(t, adminURL(m, "/commands/conf"))
		if p, _ := conf["client_port"].(float64); status != 200 || int(p) != m.ClientPort || conf["tick_time"] != float64(1000) {
			t.Errorf("server %d /commands/conf: %d %v", m.ID, status, conf)
		}
	}
	status, cons := curlJSON(t, adminURL(leader, "/commands/cons"))
	conns, _ := cons["connections"].([]any)
	found := false
	for _, x := range conns {
		if cm, ok := x.(map[string]any); ok && cm["session_id"] == float64(c.SessionID()) {
			found = true
		}
	}
	if status != 200 || !found {
		t.Errorf("/commands/cons on the leader does not list session 0x%x: %d %v", c.SessionID(), status, cons)
	}
	if status, v := curlJSON(t, adminURL(leader, "/commands/nosuch")); status != 404 || v["error"] == nil {
		t.Errorf("/commands/nosuch: %d %v", status, v)
	}

	// Prometheus carries ZooKeeper's names too, so its dashboards work.
	if _, err := c.Create("/probe", []byte("x"), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Get("/probe"); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("curl", "-s", "--max-time", "5", adminURL(leader, "/metrics")).Output()
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]float64{}
	for _, line := range strings.Split(string(out), "\n") {
		var name string
		var v float64
		if _, err := fmt.Sscan(line, &name, &v); err == nil && !strings.HasPrefix(name, "#") {
			metrics[name] = v
		}
	}
	for _, name := range []string{"znode_count", "ephemerals_count", "watch_count", "num_alive_connections",
		"outstanding_requests", "global_sessions", "avg_latency", "max_latency", "packets_received", "uptime",
		"open_file_descriptor_count"} {
		if _, ok := metrics[name]; !ok {
			t.Errorf("/metrics lacks ZooKeeper's %s", name)
		}
	}
	if metrics["znode_count"] < 5 || metrics["num_alive_connections"] < 1 || metrics["readlatency_count"] < 1 || metrics["updatelatency_count"] < 1 {
		t.Errorf("/metrics: znode_count %v, num_alive_connections %v, readlatency_count %v, updatelatency_count %v",
			metrics["znode_count"], metrics["num_alive_connections"], metrics["readlatency_count"], metrics["updatelatency_count"])
	}

	// The leader dies and one follower stops answering: the last replica
	// has no leader, serves (health), and is not ready.
	var alone, paused *member
	for _, m := range e.members {
		if m == leader {
			continue
		}
		if paused == nil {
			paused = m
		} else {
			alone = m
		}
	}
	if err := leader.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := paused.Pause(); err != nil {
		t.Fatal(err)
	}
	r := waitReady(t, alone, false, 20*time.Second)
	if !strings.Contains(fmt.Sprint(r["reasons"]), "leader") {
		t.Errorf("/ready without a leader gave reasons %v", r["reasons"])
	}
	if status, v := curlJSON(t, adminURL(alone, "/health")); status != 200 {
		t.Errorf("/health without a leader: %d %v", status, v)
	}
	// A backup can still be taken from it, as an ensemble that lost its
	// quorum needs, with a warning that it holds what this replica has.
	file := filepath.Join(t.TempDir(), "quorumless.snap")
	saved := runZkfs(t, "snapshot", "save", file, "--admin", fmt.Sprintf("127.0.0.1:%d", alone.Metrics))
	if saved.code != 0 || !strings.Contains(saved.stderr, "could not sync with a leader") || !strings.Contains(saved.stdout, "checksum: crc32c") {
		t.Errorf("snapshot save from a replica without a leader: exit %d\n%s%s", saved.code, saved.stdout, saved.stderr)
	}
	if err := paused.Resume(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, alone, true, 20*time.Second)
	waitReady(t, paused, true, 20*time.Second)
	if err := leader.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	waitReady(t, leader, true, 20*time.Second)
}
