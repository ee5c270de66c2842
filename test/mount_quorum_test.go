package test

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMountEnsemble checks the mount of an ensemble member: read-your-writes
// on a follower whose writes go to the leader, and, once the member has no
// quorum, reads from the local state while writes fail within
// --write-timeout instead of hanging: EIO while the replica still waits for
// a leader, EROFS once it is in read-only mode.
func TestMountEnsemble(t *testing.T) {
	const writeTimeout = 2 * time.Second
	e := newTestEnsemble(t, 3, 0, "--write-timeout", writeTimeout.String())
	leader := e.leader()
	var follower *member
	var others []*member
	for _, m := range e.members {
		if m != leader && follower == nil {
			follower = m
		} else {
			others = append(others, m)
		}
	}
	run := func(m *member, script string) shResult { return shIn(t, m.Mnt, script) }

	// Read your writes through a follower, every time.
	for i := 0; i < 30; i++ {
		r := run(follower, fmt.Sprintf("echo v%d > f; cat f; echo w%d >> f; cat f", i, i))
		if want := fmt.Sprintf("v%d\nv%d\nw%d\n", i, i, i); r.Code != 0 || r.Stdout != want {
			t.Fatalf("round %d on a follower: %q (exit %d, %s), want %q", i, r.Stdout, r.Code, r.Stderr, want)
		}
	}
	// And the leader's mount sees it once applied there.
	eventually(t, 5*time.Second, "the leader's mount", fileIs(leader.Mnt+"/f", "v29\nw29\n"))

	// Appends from two replicas at once all land (>> retries on a
	// version conflict), and both mounts end up showing every line.
	const each = 15
	var wg sync.WaitGroup
	for i, m := range []*member{leader, follower} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if r := run(m, fmt.Sprintf("for i in $(seq %d); do echo r%d-$i >> log; done", each, i)); r.Code != 0 {
				t.Errorf("appending on %d: %s", m.ID, r.Stderr)
			}
		}()
	}
	wg.Wait()
	for _, m := range []*member{leader, follower} {
		eventually(t, 5*time.Second, fmt.Sprintf("all appends on mount %d", m.ID), func() error {
			b, err := os.ReadFile(m.Mnt + "/log")
			if err != nil {
				return err
			}
			if n := strings.Count(string(b), "\n"); n != 2*each {
				return fmt.Errorf("%d lines, want %d", n, 2*each)
			}
			return nil
		})
	}

	// Without a quorum: reads work, writes fail in time.
	for _, m := range others {
		e.stop(m)
	}
	if r := run(follower, "cat f; ls"); r.Code != 0 || !strings.HasPrefix(r.Stdout, "v29\nw29\n") {
		t.Errorf("reads without a quorum: %q exit %d %s", r.Stdout, r.Code, r.Stderr)
	}
	// /bin/echo sees the failed commit when it closes its output; the
	// shell's builtin echo cannot (bash drops the error of the close
	// hidden in its dup2), so the open fails once the replica knows it
	// has no leader.
	for _, script := range []string{"/bin/echo lost > f", "cp /etc/hostname f", "mkdir newdir", "echo lost > f", "echo more >> f", "rm f"} {
		start := time.Now()
		r := run(follower, script)
		took := time.Since(start)
		if r.Code == 0 || !strings.Contains(r.Stderr, "Input/output error") && !strings.Contains(r.Stderr, "Read-only file system") {
			t.Errorf("%q without a quorum: exit %d, stderr %q; want EIO or EROFS", script, r.Code, r.Stderr)
		}
		if took > writeTimeout+3*time.Second {
			t.Errorf("%q took %v to fail, more than --write-timeout %v", script, took, writeTimeout)
		}
	}
	if r := run(follower, "cat f"); r.Stdout != "v29\nw29\n" {
		t.Errorf("after the failed writes: %q", r.Stdout)
	}

	// With the quorum back, writes work again.
	e.startAll(others...)
	eventually(t, 30*time.Second, "a write after the quorum came back", func() error {
		if r := run(follower, "echo back > f && cat f"); r.Stdout != "back\n" {
			return fmt.Errorf("exit %d: %q %s", r.Code, r.Stdout, r.Stderr)
		}
		return nil
	})
}
