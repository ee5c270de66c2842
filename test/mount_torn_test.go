package test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestMountReadsAreWholeVersions reads a file through the mount while the
// client port rewrites it, alternating two contents of different lengths:
// every read returns one of them whole. The chaos harness saw reads cut
// short or padded with a zero byte, the kernel's cached size of one
// version over the pages of another.
func TestMountReadsAreWholeVersions(t *testing.T) {
	m := startMounted(t)
	zc := connect(t, m.Addr(), 10*time.Second)
	short, long := "short\n", strings.Repeat("long ", 40)+"\n"
	if _, err := zc.Create("/flip", []byte(short), 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan int)
	go func() {
		n := 0
		for ; ; n++ {
			select {
			case <-stop:
				done <- n
				return
			default:
			}
			v := short
			if n%2 == 0 {
				v = long
			}
			if _, err := zc.Set("/flip", []byte(v), -1); err != nil {
				t.Errorf("set: %v", err)
			}
		}
	}()
	reads, torn := 0, 0
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); reads++ {
		b, err := os.ReadFile(m.path("flip"))
		if err != nil {
			t.Fatal(err)
		}
		if s := string(b); s != short && s != long {
			if torn < 5 {
				t.Errorf("read %d: %q (%d bytes) is neither version whole", reads, s, len(s))
			}
			torn++
		}
	}
	close(stop)
	writes := <-done
	t.Logf("%d reads during %d writes, %d torn", reads, writes, torn)
}
