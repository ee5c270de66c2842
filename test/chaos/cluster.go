package chaos

import (
	"bufio"
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
	"time"

	"zkfs/test"
)

// tickTime is the ensemble's ZooKeeper tick. Raft's timeouts derive from
// it (half a tick to notice a dead leader), sessions may be as short as
// two ticks.
const tickTime = time.Second

// replica is one `zkfs server --config zoo.cfg --mount DIR` process.
type replica struct {
	*test.Server
	id       int
	mnt      string
	cfg      string
	raftPort int
	rpcPort  int

	mu   sync.Mutex
	held bool // the harness has stopped it on purpose, or is restarting it
}

// link names a directed route between two replicas, by id.
type link struct{ from, to int }

// peerRoute is the pair of proxies one replica dials another through.
type peerRoute struct{ raft, rpc *proxy }

// cluster is an ensemble whose replicas reach each other only through
// per-link proxies. Replica i's zoo.cfg lists itself at its real ports
// and every peer j at the proxies of the link i->j; since a replica dials
// its peers at the addresses of its own configuration, cutting the link
// i->j cuts exactly the connections i opens to j.
type cluster struct {
	dir   string
	nodes []*replica
	links map[link]*peerRoute
	logf  func(format string, args ...any)
	// wedged counts the kills that needed umount -f (see kill).
	wedged atomic.Int64
}

// newCluster prepares n replicas and their links under dir and starts them.
func newCluster(bin, dir string, n int, extra []string, logf func(string, ...any)) (*cluster, error) {
	c := &cluster{dir: dir, links: map[link]*peerRoute{}, logf: logf}
	for i := 1; i <= n; i++ {
		rdir := filepath.Join(dir, fmt.Sprintf("replica%d", i))
		if err := os.MkdirAll(rdir, 0o755); err != nil {
			return nil, err
		}
		r := &replica{id: i, mnt: filepath.Join(rdir, "mnt"), cfg: filepath.Join(rdir, "zoo.cfg")}
		var err error
		if r.raftPort, err = test.FreePort(); err != nil {
			return nil, err
		}
		if r.rpcPort, err = test.FreePort(); err != nil {
			return nil, err
		}
		args := append([]string{"--config", r.cfg, "--mount", r.mnt,
			"--max-client-cnxns", "0", "--write-timeout", "4s"}, extra...)
		if r.Server, err = test.NewServer(bin, rdir, args...); err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, r)
	}
	for _, a := range c.nodes {
		for _, b := range c.nodes {
			if a == b {
				continue
			}
			name := fmt.Sprintf("%d->%d", a.id, b.id)
			rp, err := newProxy(name+" raft", fmt.Sprintf("127.0.0.1:%d", b.raftPort))
			if err != nil {
				c.close()
				return nil, err
			}
			pp, err := newProxy(name+" rpc", fmt.Sprintf("127.0.0.1:%d", b.rpcPort))
			if err != nil {
				rp.close()
				c.close()
				return nil, err
			}
			c.links[link{a.id, b.id}] = &peerRoute{raft: rp, rpc: pp}
		}
	}
	for _, r := range c.nodes {
		if err := c.writeConfig(r); err != nil {
			c.close()
			return nil, err
		}
	}
	if err := c.startAll(); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

func (c *cluster) writeConfig(r *replica) error {
	var b strings.Builder
	fmt.Fprintf(&b, "tickTime=%d\ninitLimit=10\nsyncLimit=5\ndataDir=%s\nclientPort=%d\nclientPortAddress=127.0.0.1\n4lw.commands.whitelist=*\n",
		tickTime.Milliseconds(), r.DataDir, r.ClientPort)
	for _, o := range c.nodes {
		raft, rpc := o.raftPort, o.rpcPort
		if o != r {
			route := c.links[link{r.id, o.id}]
			raft, rpc = route.raft.Port(), route.rpc.Port()
		}
		fmt.Fprintf(&b, "server.%d=127.0.0.1:%d:%d:participant;127.0.0.1:%d\n", o.id, raft, rpc, o.ClientPort)
	}
	if err := os.WriteFile(r.cfg, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return writeMyID(r)
}

func writeMyID(r *replica) error {
	if err := os.MkdirAll(r.DataDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(r.DataDir, "myid"), []byte(fmt.Sprintf("%d\n", r.id)), 0o644)
}

// startAll starts every replica at once: a member serves only once a
// quorum is up.
func (c *cluster) startAll() error {
	var wg sync.WaitGroup
	errs := make([]error, len(c.nodes))
	for i, r := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.start(r, 90*time.Second)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// start starts a replica and waits until it serves and its mount is
// there. A replica that cannot reach a quorum keeps trying in the
// background; the error says it was not serving yet.
func (c *cluster) start(r *replica, timeout time.Duration) error {
	start := time.Now()
	if err := r.Start(timeout); err != nil {
		return fmt.Errorf("replica %d: %w", r.id, err)
	}
	// A replica that found no quorum within the read-only grace serves
	// read-only clients before its mount, which waits for the quorum.
	deadline := start.Add(timeout + 10*time.Second)
	for !isMounted(r.mnt) {
		if time.Now().After(deadline) {
			return fmt.Errorf("replica %d: no mount at %s", r.id, r.mnt)
		}
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// wipe kills a replica, deletes its data directory (keeping its myid, as
// an operator replacing a disk would) and starts it again empty.
func (c *cluster) wipe(r *replica) error {
	if err := c.kill(r); err != nil {
		return err
	}
	if err := r.WipeData(); err != nil {
		return err
	}
	if err := writeMyID(r); err != nil {
		return err
	}
	return c.start(r, 60*time.Second)
}

// hold marks a replica as stopped or restarted by the harness, so that
// the watchdog does not take its exit for a crash.
func (c *cluster) hold(r *replica, on bool) {
	r.mu.Lock()
	r.held = on
	r.mu.Unlock()
}

func (c *cluster) isHeld(r *replica) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.held
}

// crashed reports whether a replica's process exited without the harness
// asking it to.
func (c *cluster) crashed(r *replica) bool {
	done := r.Done()
	if done == nil || c.isHeld(r) {
		return false
	}
	select {
	case <-done:
		return !c.isHeld(r)
	default:
		return false
	}
}

// restartAll kills every replica at once, as a power cut of the whole
// ensemble would, and starts them all again.
func (c *cluster) restartAll() error {
	for _, r := range c.nodes {
		c.hold(r, true)
	}
	defer func() {
		for _, r := range c.nodes {
			c.hold(r, false)
		}
	}()
	var wg sync.WaitGroup
	for _, r := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.kill(r)
		}()
	}
	wg.Wait()
	return c.startAll()
}

// kill sends SIGKILL and waits for the process to be gone. A FUSE server
// killed while one of its threads is in the kernel, sending a cache
// invalidation that waits for a directory lock, cannot exit: the lock's
// holder waits for a reply only that server could give, and the kernel
// keeps the connection open while the dying process still holds the
// device. Nothing ends that but aborting the connection, which umount -f
// does. kill does so after a few seconds and counts it as a wedged kill.
func (c *cluster) kill(r *replica) error {
	done := make(chan error, 1)
	go func() { done <- r.Kill() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
	}
	c.wedged.Add(1)
	c.logf("replica %d did not exit 5s after SIGKILL; aborting its FUSE connection with umount -f; its threads still in the kernel:\n%s", r.id, kernelStacks(r.Pid()))
	for {
		syscall.Unmount(r.mnt, syscall.MNT_FORCE)
		select {
		case err := <-done:
			return err
		case <-time.After(time.Second):
		}
	}
}

// replicaStatus is what srvr tells about a replica.
type replicaStatus struct {
	mode string
	zxid int64
}

func status(r *replica) (replicaStatus, error) {
	out, err := test.FourLetter(r.Addr(), "srvr", time.Second)
	if err != nil {
		return replicaStatus{}, err
	}
	var st replicaStatus
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			st.mode = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Zxid: "); ok {
			st.zxid, _ = strconv.ParseInt(strings.TrimSpace(v), 0, 64)
		}
	}
	if st.mode == "" {
		return st, fmt.Errorf("replica %d: srvr said %q", r.id, out)
	}
	return st, nil
}

// leader returns the replica that says it leads, nil if none does.
func (c *cluster) leader() *replica {
	for _, r := range c.nodes {
		if !r.Running() {
			continue
		}
		if st, err := status(r); err == nil && st.mode == "leader" {
			return r
		}
	}
	return nil
}

// healthy reports whether every replica runs, serves with its mount,
// one leads, and the followers have applied what the leader had a moment
// before.
func (c *cluster) healthy() error {
	var lead *replica
	var leadZxid int64
	for _, r := range c.nodes {
		if !r.Running() {
			return fmt.Errorf("replica %d is not running", r.id)
		}
		st, err := status(r)
		if err != nil {
			return err
		}
		if st.mode == "leader" {
			if lead != nil {
				return fmt.Errorf("replicas %d and %d both lead", lead.id, r.id)
			}
			lead, leadZxid = r, st.zxid
		}
		if !isMounted(r.mnt) {
			return fmt.Errorf("replica %d has no mount", r.id)
		}
	}
	if lead == nil {
		return errors.New("no leader")
	}
	for _, r := range c.nodes {
		if st, err := status(r); err != nil || st.zxid < leadZxid {
			return fmt.Errorf("replica %d is behind the leader (%#x < %#x, %v)", r.id, st.zxid, leadZxid, err)
		}
	}
	return nil
}

// waitHealthy polls healthy until it holds.
func (c *cluster) waitHealthy(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := c.healthy()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster not healthy after %v: %w", timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// setLink sets both proxies of the link from->to.
func (c *cluster) setLink(l link, s linkState, reset bool) {
	route := c.links[l]
	route.raft.set(s, reset)
	route.rpc.set(s, reset)
}

// healLinks brings every replica link up.
func (c *cluster) healLinks(reset bool) {
	for l := range c.links {
		c.setLink(l, linkUp, reset)
	}
}

// close stops every replica, removes stale mounts and closes the proxies.
func (c *cluster) close() error {
	var errs []error
	for _, r := range c.nodes {
		if r.Server == nil {
			continue
		}
		stopped := make(chan error, 1)
		go func() { stopped <- r.Stop(20 * time.Second) }()
		var err error
		select {
		case err = <-stopped:
		case <-time.After(30 * time.Second):
			// Stop ends with SIGKILL, which may wedge: see kill.
			c.wedged.Add(1)
			for err == nil {
				syscall.Unmount(r.mnt, syscall.MNT_FORCE)
				select {
				case err = <-stopped:
					if err == nil {
						err = errors.New("")
					}
				case <-time.After(time.Second):
				}
			}
		}
		var ee *exec.ExitError
		if err != nil && err.Error() != "" && !errors.As(err, &ee) {
			errs = append(errs, fmt.Errorf("replica %d: %w", r.id, err))
		}
		if isMounted(r.mnt) {
			exec.Command("fusermount3", "-u", "-z", r.mnt).Run()
			if isMounted(r.mnt) {
				exec.Command("umount", "-l", r.mnt).Run()
			}
		}
		if isMounted(r.mnt) {
			errs = append(errs, fmt.Errorf("replica %d: %s still mounted", r.id, r.mnt))
		}
	}
	for _, route := range c.links {
		route.raft.close()
		route.rpc.close()
	}
	return errors.Join(errs...)
}

// isMounted reports whether dir is a mount point in /proc/mounts.
func isMounted(dir string) bool {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[1] == dir {
			return true
		}
	}
	return false
}

// kernelStacks returns the kernel stacks of a process's threads that are
// not just waiting to exit, which tell what a wedged kill waits for.
func kernelStacks(pid int) string {
	if pid == 0 {
		return ""
	}
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*", pid))
	var b strings.Builder
	for _, task := range tasks {
		stack, err := os.ReadFile(filepath.Join(task, "stack"))
		if err != nil || strings.Contains(string(stack), "do_exit") && !strings.Contains(string(stack), "fuse") {
			continue
		}
		fmt.Fprintf(&b, "%s:\n%s", filepath.Base(task), stack)
	}
	return b.String()
}
