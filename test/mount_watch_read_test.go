package test

import (
	"bufio"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// TestMountWatchBashReadLoop checks the way scripts read @watch: bash's
// read builtin reads a regular file a buffer at a time and seeks back to
// the end of its line. A loop slower than the events therefore gets
// several lines per read; before the seek back replayed them, it lost
// all but the first of each read (13 of 200 in one run).
func TestMountWatchBashReadLoop(t *testing.T) {
	const events = 100
	m := startMounted(t)
	m.ok(t, "mkdir -p w && echo 0 > w/f")
	cmd := exec.Command("bash", "-c", `exec 3< w/@watch; echo ready
n=0
while read -r zxid type path <&3; do
	n=$((n+1)); sleep 0.02
	[ "$n" -ge `+strconv.Itoa(events)+` ] && { echo "$n $type $path"; exit 0; }
done
echo "stream ended after $n"; exit 1`)
	cmd.Dir = m.Mnt
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(stdout)
	if !lines.Scan() || lines.Text() != "ready" {
		t.Fatalf("the reader did not open @watch: %q", lines.Text())
	}
	m.ok(t, "for i in $(seq 1 "+strconv.Itoa(events)+"); do echo $i > w/f; done")
	got := make(chan string, 1)
	go func() {
		lines.Scan()
		got <- lines.Text()
	}()
	select {
	case line := <-got:
		if want := strconv.Itoa(events) + " NodeDataChanged /w/f"; line != want {
			t.Errorf("the read loop printed %q, want %q", line, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("a bash read loop did not see %d events within 60 s", events)
	}
}
