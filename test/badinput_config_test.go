package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serverRefuses runs `zkfs server` with args, which must exit non-zero
// within 30 seconds with a message on standard error containing want.
func serverRefuses(t *testing.T, what, want string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, zkfsBin, append([]string{"server"}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	var ee *exec.ExitError
	if ctx.Err() != nil {
		t.Errorf("%s: the server still ran after 30s", what)
		return
	}
	if !errors.As(err, &ee) {
		t.Errorf("%s: the server exited with %v, want a failure", what, err)
		return
	}
	// The last line is the one-line reason; slog's structured lines come
	// before it.
	lines := strings.Split(strings.TrimSpace(errb.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "zkfs server: ") || !strings.Contains(last, want) {
		t.Errorf("%s: exit %d, last line %q, want %q in it", what, ee.ExitCode(), last, want)
		return
	}
	t.Logf("%s: exit %d, %q", what, ee.ExitCode(), last)
}

// TestBadConfiguration starts servers with broken zoo.cfg files, missing,
// duplicated and bad myids, and ports that are taken: each refuses with
// one line that names the file and line, the id or the port, and writes
// nothing into its data directory.
func TestBadConfiguration(t *testing.T) {
	ports := make([]int, 9)
	for i := range ports {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	servers := fmt.Sprintf("server.1=127.0.0.1:%d:%d;127.0.0.1:%d\nserver.2=127.0.0.1:%d:%d;127.0.0.1:%d\nserver.3=127.0.0.1:%d:%d;127.0.0.1:%d\n",
		ports[0], ports[1], ports[2], ports[3], ports[4], ports[5], ports[6], ports[7], ports[8])
	write := func(t *testing.T, cfg, myid string) (string, string) {
		dir := t.TempDir()
		data := filepath.Join(dir, "data")
		if myid != "" {
			os.MkdirAll(data, 0o755)
			if err := os.WriteFile(filepath.Join(data, "myid"), []byte(myid), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "zoo.cfg")
		cfg = strings.ReplaceAll(cfg, "DATADIR", data)
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path, data
	}
	base := "tickTime=1000\ndataDir=DATADIR\nclientPortAddress=127.0.0.1\n"
	for _, c := range []struct{ name, cfg, myid, want string }{
		{"a line without =", base + "initLimit\n", "", "zoo.cfg:4"},
		{"a number that is not", base + "syncLimit=five\n", "", "zoo.cfg:4"},
		{"a negative port", base + "clientPort=-1\n", "", "zoo.cfg:4"},
		{"a port out of range", base + "clientPort=70000\n", "", "zoo.cfg:4"},
		{"a key set twice", base + "tickTime=2000\n", "", "zoo.cfg:4"},
		{"a server line without ports", base + "server.1=127.0.0.1\n", "1", "zoo.cfg:4"},
		{"a server line with a bad role", base + "server.1=127.0.0.1:1:2:boss\n", "1", "zoo.cfg:4"},
		{"a server id that is no number", base + "server.x=127.0.0.1:1:2\n", "1", "zoo.cfg:4"},
		{"a server listed twice", base + servers + "server.1=127.0.0.1:5:6\n", "1", "zoo.cfg:7"},
		{"a missing myid", base + servers, "", "myid"},
		{"a myid that is no number", base + servers, "one\n", "myid"},
		{"a myid not among the servers", base + servers, "7\n", "myid 7"},
		{"an empty myid", base + servers, " \n", "myid"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, data := write(t, c.cfg, c.myid)
			serverRefuses(t, c.name, c.want, "--config", cfg)
			entries, _ := os.ReadDir(data)
			for _, e := range entries {
				if e.Name() != "myid" {
					t.Errorf("a refused start left %s in the data directory", e.Name())
				}
			}
		})
	}
	t.Run("a missing zoo.cfg", func(t *testing.T) {
		serverRefuses(t, "a missing zoo.cfg", "no-such.cfg", "--config", filepath.Join(t.TempDir(), "no-such.cfg"))
	})

	// Taken ports: the client port, and the peer ports of a replica, as
	// two replicas given the same myid would both claim.
	busy, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[2]))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	t.Run("a client port in use", func(t *testing.T) {
		serverRefuses(t, "a client port in use", fmt.Sprint(ports[2]), "--data-dir", t.TempDir(), "--client-address", "127.0.0.1", "--client-port", fmt.Sprint(ports[2]))
	})
	peer, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	t.Run("a peer port in use, as by a replica with the same myid", func(t *testing.T) {
		cfg, _ := write(t, base+fmt.Sprintf("clientPort=%d\n", ports[5])+servers, "1\n")
		serverRefuses(t, "a peer port in use", fmt.Sprint(ports[0]), "--config", cfg)
	})
	t.Run("a flag with a bad value", func(t *testing.T) {
		serverRefuses(t, "--tick-time 0", "tick-time", "--data-dir", t.TempDir(), "--tick-time", "0")
		serverRefuses(t, "--max-data-size -1", "max-data-size", "--data-dir", t.TempDir(), "--max-data-size", "-1")
	})
}
