package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"zkfs/test"
)

// zkfsEnsemble is three `zkfs server` processes on loopback, each with its
// own zoo.cfg, data directory (fsync on, as always) and mount.
type zkfsEnsemble struct {
	members []*zkfsMember
	label   string // its name in the results; "zkfs" if empty
}

type zkfsMember struct {
	*test.Server
	id    int
	mnt   string
	cfg   string
	peer  int
	elect int
	pprof string // host:port of the profiling endpoint, "" if none
}

// zkfsTickTime is the tickTime both ensembles run with: ZooKeeper's
// default, from which both derive their failure-detection timeouts.
const zkfsTickTime = 2000

func startZkfs(ctx context.Context, bin, dir string, profile bool) (*zkfsEnsemble, error) {
	e := &zkfsEnsemble{}
	for id := 1; id <= 3; id++ {
		mdir := filepath.Join(dir, fmt.Sprintf("zkfs%d", id))
		if err := os.MkdirAll(mdir, 0o755); err != nil {
			return nil, err
		}
		var ports [3]int
		for i := range ports {
			p, err := test.FreePort()
			if err != nil {
				return nil, err
			}
			ports[i] = p
		}
		m := &zkfsMember{id: id, mnt: filepath.Join(mdir, "mnt"), cfg: filepath.Join(mdir, "zoo.cfg"), peer: ports[0], elect: ports[1]}
		args := []string{"--config", m.cfg, "--mount", m.mnt, "--log-level", "warn"}
		if profile {
			m.pprof = fmt.Sprintf("127.0.0.1:%d", ports[2])
			args = append(args, "--pprof-address", m.pprof)
		}
		s, err := test.NewServer(bin, mdir, args...)
		if err != nil {
			return nil, err
		}
		m.Server = s
		e.members = append(e.members, m)
	}
	var servers strings.Builder
	for _, m := range e.members {
		fmt.Fprintf(&servers, "server.%d=127.0.0.1:%d:%d;127.0.0.1:%d\n", m.id, m.peer, m.elect, m.ClientPort)
	}
	for _, m := range e.members {
		cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\n4lw.commands.whitelist=*\n%s",
			zkfsTickTime, m.DataDir, m.ClientPort, servers.String())
		if err := os.WriteFile(m.cfg, []byte(cfg), 0o644); err != nil {
			return nil, err
		}
		if err := writeMyID(m.DataDir, m.id); err != nil {
			return nil, err
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, len(e.members))
	for i := range e.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = e.start(ctx, i)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

func writeMyID(dataDir string, id int) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dataDir, "myid"), []byte(fmt.Sprintf("%d\n", id)), 0o644)
}

func (e *zkfsEnsemble) name() string {
	if e.label != "" {
		return e.label
	}
	return "zkfs"
}

func (e *zkfsEnsemble) size() int            { return len(e.members) }
func (e *zkfsEnsemble) addr(i int) string    { return e.members[i].Addr() }
func (e *zkfsEnsemble) pid(i int) int        { return e.members[i].Pid() }
func (e *zkfsEnsemble) dataDir(i int) string { return e.members[i].DataDir }

// mount is server i's mount point.
func (e *zkfsEnsemble) mount(i int) string { return e.members[i].mnt }

func (e *zkfsEnsemble) kill(i int) error {
	m := e.members[i]
	err := m.Kill()
	// The dead server's mount answers ENOTCONN until unmounted; the next
	// start would clear it, but nothing should trip over it meanwhile.
	unmount(m.mnt)
	return err
}

func (e *zkfsEnsemble) stop(i int) error {
	m := e.members[i]
	err := m.Stop(30 * time.Second)
	unmount(m.mnt)
	return err
}

func (e *zkfsEnsemble) start(ctx context.Context, i int) error {
	m := e.members[i]
	if err := m.Start(120 * time.Second); err != nil {
		return fmt.Errorf("zkfs server %d: %w", m.id, err)
	}
	// The mount comes up right after the client port.
	deadline := time.Now().Add(30 * time.Second)
	for !isMounted(m.mnt) {
		if time.Now().After(deadline) {
			return fmt.Errorf("zkfs server %d: no mount at %s\n%s", m.id, m.mnt, m.LogTail(2000))
		}
		if err := sleepCtx(ctx, 10*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

func (e *zkfsEnsemble) close() {
	var wg sync.WaitGroup
	for _, m := range e.members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if m.Running() {
				if err := m.Stop(30 * time.Second); err != nil {
					var ee *exec.ExitError
					if !errors.As(err, &ee) {
						fmt.Fprintf(os.Stderr, "bench: stopping zkfs server %d: %v\n", m.id, err)
					}
				}
			}
			unmount(m.mnt)
		}()
	}
	wg.Wait()
}

// isMounted reports whether a FUSE file system is mounted at dir.
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 2 && f[1] == dir && strings.HasPrefix(f[2], "fuse") {
			return true
		}
	}
	return false
}

// unmount detaches a mount left by a server that did not unmount it.
func unmount(dir string) {
	if isMounted(dir) {
		exec.Command("umount", "-l", dir).Run()
	}
}
