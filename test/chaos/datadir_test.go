package chaos

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestDamagedDataDirectory damages a stopped replica's data directory (a
// write-ahead log cut short, garbage in a table), checks that the replica
// refuses to start with a message naming the file, then wipes it and
// checks that it rejoins from its peers with everything acknowledged.
func TestDamagedDataDirectory(t *testing.T) {
	c := startCluster(t)
	zc, err := dialDirect(c.nodes[0])
	if err != nil {
		t.Fatal(err)
	}
	defer zc.Close()
	write := func(from, to int) {
		t.Helper()
		for i := from; i < to; i++ {
			if _, err := zc.Create(fmt.Sprintf("/n%04d", i), []byte(fmt.Sprint(i)), 0, zk.WorldACL(zk.PermAll)); err != nil {
				t.Fatal(err)
			}
		}
	}
	write(0, 300)
	next := 300
	for _, damage := range []struct {
		name string
		do   func(t *testing.T, dir string) string
	}{
		{"the write-ahead log cut short", func(t *testing.T, dir string) string {
			w := newestFile(t, dir, "*.log")
			st, _ := os.Stat(w)
			if err := os.Truncate(w, st.Size()/2); err != nil {
				t.Fatal(err)
			}
			return filepath.Base(w)
		}},
		{"garbage in a table", func(t *testing.T, dir string) string {
			sst := newestFile(t, dir, "*.sst")
			f, err := os.OpenFile(sst, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			st, _ := f.Stat()
			f.WriteAt([]byte("zkfs test garbage, zkfs test garbage"), st.Size()/3)
			f.Close()
			return filepath.Base(sst)
		}},
	} {
		t.Run(damage.name, func(t *testing.T) {
			lead := c.leader()
			var r *replica
			for _, o := range c.nodes {
				if o != lead {
					r = o
				}
			}
			// Tables appear once Pebble flushes; a stop after enough
			// writes and a restart make one.
			if err := r.Stop(20 * time.Second); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(damage.name, "table") {
				if err := c.start(r, 60*time.Second); err != nil {
					t.Fatal(err)
				}
				if err := r.Stop(20 * time.Second); err != nil {
					t.Fatal(err)
				}
			}
			pebbleDir := filepath.Join(r.DataDir, "pebble")
			if strings.Contains(damage.name, "table") {
				if m, _ := filepath.Glob(filepath.Join(pebbleDir, "*.sst")); len(m) == 0 {
					t.Skip("no table to damage: Pebble kept everything in the log") // says why; not silent
				}
			}
			file := damage.do(t, pebbleDir)
			write(next, next+10) // the others go on meanwhile
			next += 10
			err := r.Start(30 * time.Second)
			if err == nil {
				t.Fatalf("the replica started on a data directory with %s", damage.name)
			}
			<-r.Done()
			log := r.LogTail(4000)
			if !strings.Contains(log, file) || !strings.Contains(log, "rejoin") {
				t.Fatalf("the refusal does not name %s or say what to do:\n%s", file, log)
			}
			var ee interface{ ExitCode() int }
			if !errors.As(r.ExitErr(), &ee) || ee.ExitCode() == 0 {
				t.Errorf("exit status %v, want a failure", r.ExitErr())
			}
			// Wipe and rejoin.
			if err := r.WipeData(); err != nil {
				t.Fatal(err)
			}
			if err := writeMyID(r); err != nil {
				t.Fatal(err)
			}
			if err := c.start(r, 60*time.Second); err != nil {
				t.Fatal(err)
			}
			if err := c.waitHealthy(60 * time.Second); err != nil {
				t.Fatal(err)
			}
			for _, i := range []int{0, 299, next - 1} {
				name := fmt.Sprintf("n%04d", i)
				b, err := os.ReadFile(filepath.Join(r.mnt, name))
				if err != nil || string(b) != fmt.Sprint(i) {
					t.Errorf("after rejoining, %s through the mount: %q, %v", name, b, err)
				}
			}
			t.Logf("refused with:\n%s", lastLines(log, 2))
		})
	}
}

func newestFile(t *testing.T, dir, pattern string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, pattern))
	if err != nil || len(m) == 0 {
		t.Fatalf("no %s in %s", pattern, dir)
	}
	sort.Strings(m)
	return m[len(m)-1]
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
