package test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDynamicConfigFile starts a replica from a zoo.cfg and a
// zoo.cfg.dynamic.100000000 in ZooKeeper 3.8's format (server lines only in
// the dynamic file, standaloneEnabled=false for an ensemble of one), adds
// a second replica by reconfig and checks that the first one wrote the new
// membership back to its dynamic file. The second one has
// reconfigEnabled=false and refuses a reconfig.
func TestDynamicConfigFile(t *testing.T) {
	type replica struct {
		srv          *Server
		cfg, dyn     string
		peer, elect  int
		line, static string
	}
	mk := func(id int, extra string) *replica {
		dir := t.TempDir()
		s, err := NewServer(zkfsBin, dir, "--super-digest", superDigest())
		if err != nil {
			t.Fatal(err)
		}
		r := &replica{srv: s, cfg: filepath.Join(dir, "zoo.cfg"), dyn: filepath.Join(dir, "zoo.cfg.dynamic.100000000")}
		if r.peer, err = FreePort(); err == nil {
			r.elect, err = FreePort()
		}
		if err != nil {
			t.Fatal(err)
		}
		r.line = fmt.Sprintf("server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d", id, r.peer, r.elect, s.ClientPort)
		// As ZooKeeper 3.8 writes zoo.cfg once reconfig has run: no
		// clientPort and no server lines, a pointer to the dynamic file.
		r.static = fmt.Sprintf("tickTime=1000\ninitLimit=10\nsyncLimit=5\ndataDir=%s\n"+
			"admin.enableServer=false\n4lw.commands.whitelist=*\n%sdynamicConfigFile=%s\n", s.DataDir, extra, r.dyn)
		os.MkdirAll(s.DataDir, 0o755)
		if err := os.WriteFile(filepath.Join(s.DataDir, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(r.cfg, []byte(r.static), 0o644); err != nil {
			t.Fatal(err)
		}
		s.Args = append(s.Args, "--config", r.cfg)
		t.Cleanup(func() {
			s.Stop(20 * time.Second)
			if t.Failed() {
				t.Logf("server %d log (tail):\n%s", id, s.LogTail(3000))
			}
		})
		return r
	}
	one := mk(1, "standaloneEnabled=false\nreconfigEnabled=true\n")
	two := mk(2, "standaloneEnabled=false\nreconfigEnabled=false\n")
	if err := os.WriteFile(one.dyn, []byte(one.line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(two.dyn, []byte(one.line+"\n"+two.line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := one.srv.Start(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	out, err := FourLetter(one.srv.Addr(), "srvr", 2*time.Second)
	if err != nil || !strings.Contains(out, "Mode: leader") {
		t.Fatalf("server 1 from zoo.cfg and its dynamic file: srvr %q %v; want the leader of an ensemble of one", out, err)
	}

	two.srv.Args = append(two.srv.Args, "--join")
	started := make(chan error, 1)
	go func() { started <- two.srv.Start(60 * time.Second) }()
	out2, err := exec.Command(zkfsBin, "reconfig", "-server", one.srv.Addr(), "--auth", "digest:super:secret", "-add", two.line).CombinedOutput()
	if err != nil {
		t.Fatalf("reconfig -add: %v\n%s", err, out2)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	want := one.line + "\n" + two.line + "\n"
	eventually(t, 30*time.Second, "server 1 writes the new membership to its dynamic file", fileIs(one.dyn, want))
	if b, _ := os.ReadFile(one.cfg); string(b) != one.static {
		t.Errorf("zoo.cfg changed:\n%s", b)
	}

	out2, err = exec.Command(zkfsBin, "reconfig", "-server", two.srv.Addr(), "--auth", "digest:super:secret", "-remove", "1").CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "Reconfig is disabled") {
		t.Errorf("reconfig on a server with reconfigEnabled=false: %v\n%s", err, out2)
	}
}
