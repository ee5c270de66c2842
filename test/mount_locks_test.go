package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMountLocksAcrossReplicas checks that flock(2) (and fcntl(2)) on the mounts of a
// three-replica ensemble is one cluster-wide lock: critical sections on
// different replicas never overlap, LOCK_NB fails at once, a waiter that
// gives up withdraws, kazoo's Lock and flock exclude each other, and a
// lock is released when its process is killed and when its replica is.
func TestMountLocksAcrossReplicas(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	ms := e.members
	if err := os.MkdirAll(filepath.Join(ms[0].Mnt, "locks"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ms[0].Mnt, "locks", "job"), []byte("0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		eventually(t, 10*time.Second, "the lock file on every mount", fileIs(filepath.Join(m.Mnt, "locks", "job"), "0\n"))
	}
	zc := connect(t, ms[0].Addr(), 10*time.Second)
	contenders := func(path string) int {
		kids, _, err := zc.Children(path)
		if err != nil {
			return 0
		}
		return len(kids)
	}
	jobLocks := "/zkfs/flock/locks/job"
	// noneLeft waits for every contender to go: a release through another
	// replica reaches replica 1's tree (which zc reads) a moment later,
	// and one at a close comes after close(2) returns.
	noneLeft := func(t *testing.T) {
		t.Helper()
		eventually(t, 10*time.Second, "no contenders left behind", func() error {
			if n := contenders(jobLocks); n != 0 {
				return fmt.Errorf("%d contenders left behind", n)
			}
			return nil
		})
	}
	open := func(m *member) *os.File {
		t.Helper()
		f, err := os.OpenFile(filepath.Join(m.Mnt, "locks", "job"), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}

	t.Run("critical sections never overlap", func(t *testing.T) {
		// Two workers per replica; each section is a read-modify-write
		// of the lock file's content through its own mount, which only
		// mutual exclusion keeps exact.
		const perMount, rounds = 2, 5
		var inside, overlaps, sections atomic.Int32
		var wg sync.WaitGroup
		for _, m := range ms {
			for w := 0; w < perMount; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; r < rounds; r++ {
						if err := criticalSection(m, &inside, &overlaps); err != nil {
							t.Error(err)
							return
						}
						sections.Add(1)
					}
				}()
			}
		}
		wg.Wait()
		want := len(ms) * perMount * rounds
		if overlaps.Load() != 0 {
			t.Errorf("%d of %d critical sections overlapped another", overlaps.Load(), sections.Load())
		}
		if int(sections.Load()) != want {
			t.Fatalf("%d critical sections, want %d", sections.Load(), want)
		}
		for _, m := range ms {
			eventually(t, 10*time.Second, "the count on every mount", fileIs(filepath.Join(m.Mnt, "locks", "job"), fmt.Sprintf("%d\n", want)))
		}
		noneLeft(t)
	})

	t.Run("non-blocking and shared", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		holder := open(ms[0])
		defer holder.Close()
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		for _, how := range []int{syscall.LOCK_EX, syscall.LOCK_SH} {
			f := open(ms[1])
			err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) {
				t.Errorf("flock(%d|LOCK_NB) on replica 2 while replica 1 holds LOCK_EX: %v, want EWOULDBLOCK", how, err)
			}
		}
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_UN); err != nil {
			t.Fatal(err)
		}
		r1, r2 := open(ms[1]), open(ms[2])
		defer r1.Close()
		defer r2.Close()
		for i, f := range []*os.File{r1, r2} {
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
				t.Errorf("LOCK_SH on replica %d beside another reader: %v", i+2, err)
			}
		}
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Errorf("LOCK_EX|LOCK_NB under two readers: %v, want EWOULDBLOCK", err)
		}
	})

	t.Run("fcntl", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		// fcntl locks belong to the process (this test's), so each
		// mount sees one owner; across mounts they exclude.
		setlk := func(f *os.File, typ int16) error {
			return syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &syscall.Flock_t{Type: typ, Whence: 0})
		}
		a, b := open(ms[0]), open(ms[1])
		defer b.Close()
		if err := setlk(a, syscall.F_WRLCK); err != nil {
			t.Fatal(err)
		}
		if err := setlk(b, syscall.F_RDLCK); !errors.Is(err, syscall.EAGAIN) {
			t.Errorf("F_SETLK F_RDLCK on replica 2 under replica 1's F_WRLCK: %v, want EAGAIN", err)
		}
		getlk := syscall.Flock_t{Type: syscall.F_WRLCK}
		if err := syscall.FcntlFlock(b.Fd(), syscall.F_GETLK, &getlk); err != nil || getlk.Type != syscall.F_WRLCK {
			t.Errorf("F_GETLK on replica 2: %v, type %d, want the F_WRLCK held on replica 1", err, getlk.Type)
		}
		// POSIX: closing any descriptor of the file drops the process's
		// lock on it.
		other := open(ms[0])
		other.Close()
		eventually(t, 10*time.Second, "the lock to go with the close of another descriptor", func() error {
			err := setlk(b, syscall.F_WRLCK)
			if err == nil {
				setlk(b, syscall.F_UNLCK)
			}
			return err
		})
		a.Close()

		// A read lock through a read-only descriptor (whose close sends
		// no FLUSH) goes at that descriptor's close.
		r, err := os.Open(filepath.Join(ms[0].Mnt, "locks", "job"))
		if err != nil {
			t.Fatal(err)
		}
		if err := setlk(r, syscall.F_RDLCK); err != nil {
			t.Fatal(err)
		}
		if err := setlk(b, syscall.F_WRLCK); !errors.Is(err, syscall.EAGAIN) {
			t.Errorf("F_WRLCK on replica 2 under a reader on replica 1: %v, want EAGAIN", err)
		}
		r.Close()
		eventually(t, 10*time.Second, "the read lock to go with its descriptor", func() error {
			err := setlk(b, syscall.F_WRLCK)
			if err == nil {
				setlk(b, syscall.F_UNLCK)
			}
			return err
		})
		noneLeft(t)
	})

	t.Run("a waiter that gives up withdraws", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		holder := open(ms[0])
		defer holder.Close()
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		// flock -w times out with SIGALRM, which interrupts the wait.
		out, err := exec.Command("flock", "-w", "0.3", filepath.Join(ms[1].Mnt, "locks", "job"), "true").CombinedOutput()
		if err == nil {
			t.Fatalf("flock -w took a held lock: %s", out)
		}
		eventually(t, 10*time.Second, "the timed-out waiter's contender to go", func() error {
			if n := contenders(jobLocks); n != 1 {
				return fmt.Errorf("%d contenders, want the holder's only", n)
			}
			return nil
		})
	})

	t.Run("kazoo", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		requireKazoo(t)
		script := filepath.Join(t.TempDir(), "kazoo_lock.py")
		if err := os.WriteFile(script, []byte(kazooLockScript), 0o644); err != nil {
			t.Fatal(err)
		}
		kazoo := func(path, mode string) (*exec.Cmd, *syncBuffer) {
			cmd := exec.Command(kazooPython, script, ms[2].Addr(), path, mode, "plain")
			var out syncBuffer
			cmd.Stdout, cmd.Stderr = &out, &out
			return cmd, &out
		}
		// flock on a file holds kazoo's Lock on /zkfs/flock/PATH.
		holder := open(ms[0])
		if err := syscall.Flock(int(holder.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatal(err)
		}
		try, out := kazoo(jobLocks, "try")
		if err := try.Run(); err != nil || strings.TrimSpace(out.String()) != "busy" {
			t.Errorf("kazoo Lock on %s under flock: %v %q, want busy", jobLocks, err, out)
		}
		holder.Close()

		// A directory's lock is flock on its @data; kazoo's Lock on the
		// directory's path is the same lock.
		if err := os.Mkdir(filepath.Join(ms[0].Mnt, "kz"), 0o755); err != nil {
			t.Fatal(err)
		}
		hold, hout := kazoo("/kz", "hold")
		stdin, _ := hold.StdinPipe()
		if err := hold.Start(); err != nil {
			t.Fatal(err)
		}
		defer hold.Wait()
		defer hold.Process.Kill()
		eventually(t, 20*time.Second, "kazoo to hold /kz", func() error {
			if !strings.Contains(hout.String(), "HELD") {
				return fmt.Errorf("kazoo says %q", hout)
			}
			return nil
		})
		data := filepath.Join(ms[1].Mnt, "kz", "@data")
		f, err := os.OpenFile(data, os.O_RDONLY|os.O_CREATE, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			t.Errorf("flock -n on /kz/@data while kazoo holds /kz: %v, want EWOULDBLOCK", err)
		}
		stdin.Close()
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			t.Fatalf("flock on /kz/@data after kazoo released: %v", err)
		}
		try, out = kazoo("/kz", "try")
		if err := try.Run(); err != nil || strings.TrimSpace(out.String()) != "busy" {
			t.Errorf("kazoo Lock on /kz under flock of /kz/@data: %v %q, want busy", err, out)
		}
	})

	// A holder that dies releases; so does a holder's replica, once the
	// ensemble expires the mount's session.
	holdWith := func(m *member) *exec.Cmd {
		cmd := exec.Command("flock", filepath.Join(m.Mnt, "locks", "job"), "sleep", "1000")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			cmd.Wait()
		})
		eventually(t, 10*time.Second, "the holder's lock", func() error {
			f := open(ms[0])
			defer f.Close()
			if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
				if err == nil {
					syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				}
				return fmt.Errorf("LOCK_NB: %v", err)
			}
			return nil
		})
		return cmd
	}
	waitFor := func(m *member) <-chan error {
		got := make(chan error, 1)
		go func() {
			f, err := os.OpenFile(filepath.Join(m.Mnt, "locks", "job"), os.O_RDWR, 0)
			if err != nil {
				got <- err
				return
			}
			defer f.Close()
			got <- syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		}()
		return got
	}

	t.Run("released when its process is killed", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		holder := holdWith(ms[2])
		got := waitFor(ms[1])
		eventually(t, 10*time.Second, "the waiter's contender", func() error {
			if n := contenders(jobLocks); n != 2 {
				return fmt.Errorf("%d contenders", n)
			}
			return nil
		})
		syscall.Kill(-holder.Process.Pid, syscall.SIGKILL)
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("the waiter on replica 2: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("the lock of a killed process was not released")
		}
	})

	t.Run("released when its replica is killed", func(t *testing.T) {
		noneLeft(t) // the last subtest's locks went at closes that return before they do
		leader := e.leader()
		var victim, other *member
		for _, m := range ms {
			switch {
			case m == leader:
			case victim == nil:
				victim = m
			default:
				other = m
			}
		}
		holdWith(victim)
		got := waitFor(other)
		if err := victim.Kill(); err != nil {
			t.Fatal(err)
		}
		// The mount's session times out after 30 s.
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("the waiter on replica %d: %v", other.ID, err)
			}
		case <-time.After(90 * time.Second):
			t.Fatal("the lock of a dead replica was not released")
		}
	})
}

// criticalSection increments the lock file's number through mount m under
// flock, counting the sections that found another one inside.
func criticalSection(m *member, inside, overlaps *atomic.Int32) error {
	path := filepath.Join(m.Mnt, "locks", "job")
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("flock on replica %d: %w", m.ID, err)
	}
	if inside.Add(1) != 1 {
		overlaps.Add(1)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("replica %d: the count reads %q", m.ID, b)
	}
	if err := os.WriteFile(path, []byte(fmt.Sprintf("%d\n", n+1)), 0o644); err != nil {
		return err
	}
	inside.Add(-1) // before the unlock, after which another may enter
	return syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}

// TestMountLockReleasedAfterQuorumReturns closes a flock'ed file while its
// replica has no quorum, so that the release's delete of the contender
// fails; once the quorum is back the lock must be free for the other
// replicas. The chaos harness found every flock worker waiting for ever
// behind such a contender, which the release had given up on while the
// mount's session, its owner, lived on.
func TestMountLockReleasedAfterQuorumReturns(t *testing.T) {
	e := newTestEnsemble(t, 3, 0)
	ms := e.members
	path := func(m *member) string { return filepath.Join(m.Mnt, "relock") }
	if err := os.WriteFile(path(ms[0]), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the lock file on replica 2", fileIs(path(ms[1]), "x\n"))
	f, err := os.OpenFile(path(ms[0]), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	e.stop(ms[1])
	e.stop(ms[2])
	f.Close() // the release goes out now, and fails: no quorum
	eventually(t, 60*time.Second, "replica 1 failing to release the lock", func() error {
		if !strings.Contains(ms[0].LogTail(20000), "releasing a lock") {
			return errors.New("no failed release in the log yet")
		}
		return nil
	})
	e.startAll(ms[1], ms[2])
	eventually(t, 60*time.Second, "the lock free on replica 2", func() error {
		g, err := os.OpenFile(path(ms[1]), os.O_RDWR, 0)
		if err != nil {
			return err
		}
		defer g.Close()
		if err := syscall.Flock(int(g.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return fmt.Errorf("flock on replica 2: %w", err)
		}
		return nil
	})
}
