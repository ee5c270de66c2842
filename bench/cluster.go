package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/test"
)

// system is a three-server ensemble under test, ZooKeeper's or zkfs's.
// Servers are numbered from 0; the paper's "replica 1" is server 0.
type system interface {
	name() string
	size() int
	addr(i int) string
	pid(i int) int
	dataDir(i int) string
	// kill sends SIGKILL and waits for the process to be gone.
	kill(i int) error
	// stop asks for a clean exit.
	stop(i int) error
	// start starts a stopped server and returns once it serves clients.
	start(ctx context.Context, i int) error
	// close stops every server and removes what they left behind.
	close()
}

// mode asks a server for its role with srvr, which both systems answer:
// "leader", "follower", or "" when it does not serve.
func mode(addr string) string {
	out, err := test.FourLetter(addr, "srvr", 2*time.Second)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, "Mode: "); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// leader returns the index of the server that reports itself leader,
// waiting for an election if need be.
func leader(ctx context.Context, s system, timeout time.Duration) (int, error) {
	deadline := time.Now().Add(timeout)
	for {
		for i := 0; i < s.size(); i++ {
			if s.pid(i) != 0 && mode(s.addr(i)) == "leader" {
				return i, nil
			}
		}
		if time.Now().After(deadline) {
			return -1, fmt.Errorf("%s: no leader after %v", s.name(), timeout)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return -1, err
		}
	}
}

// follower returns a server that is up and not the leader.
func follower(ctx context.Context, s system) (int, error) {
	l, err := leader(ctx, s, 30*time.Second)
	if err != nil {
		return -1, err
	}
	for i := s.size() - 1; i >= 0; i-- {
		if i != l && s.pid(i) != 0 {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%s: no follower", s.name())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitMode polls srvr until the server reports a role, which both systems
// do only once they serve clients.
func waitMode(ctx context.Context, addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for mode(addr) == "" {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s does not serve after %v", addr, timeout)
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	return nil
}

// quietLogger keeps go-zookeeper's reconnection chatter out of the
// harness's output.
type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// orderedHosts is a go-zookeeper host provider that tries the servers in
// the order given. go-zookeeper shuffles them otherwise, and the workloads
// need to say which server a session uses.
type orderedHosts struct {
	mu      sync.Mutex
	servers []string
	next    int
	tried   int
}

func (h *orderedHosts) Init([]string) error { return nil }

func (h *orderedHosts) Len() int { return len(h.servers) }

func (h *orderedHosts) Next() (string, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.servers[h.next]
	h.next = (h.next + 1) % len(h.servers)
	h.tried++
	retryStart := h.tried > len(h.servers)
	if retryStart {
		h.tried = 1
	}
	return s, retryStart
}

func (h *orderedHosts) Connected() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tried = 0
}

// sessionTimeout is what the harness's sessions ask for: long enough to
// ride a leader election, as a real client's would.
const sessionTimeout = 10 * time.Second

// dial opens a session that connects to servers in the given order and
// returns once it has a session.
func dial(ctx context.Context, servers ...string) (*zk.Conn, error) {
	c, ev, err := zk.Connect(servers, sessionTimeout,
		zk.WithLogger(quietLogger{}),
		zk.WithHostProvider(&orderedHosts{servers: servers}))
	if err != nil {
		return nil, err
	}
	timeout := time.NewTimer(20 * time.Second)
	defer timeout.Stop()
	for {
		select {
		case e, ok := <-ev:
			if !ok {
				return nil, errors.New("session closed while connecting")
			}
			if e.State == zk.StateHasSession {
				go func() {
					for range ev {
					}
				}()
				return c, nil
			}
		case <-timeout.C:
			c.Close()
			return nil, fmt.Errorf("no session with %v after 20s", servers)
		case <-ctx.Done():
			c.Close()
			return nil, ctx.Err()
		}
	}
}

// sessions opens n sessions spread over the servers: session i uses
// server i mod size only, so that a load is spread evenly.
func sessions(ctx context.Context, s system, n int) ([]*zk.Conn, error) {
	order := make([]int, s.size())
	for i := range order {
		order[i] = i
	}
	return sessionsIn(ctx, s, n, order)
}

// sessionsIn opens n sessions, session i on server order[i mod len(order)].
func sessionsIn(ctx context.Context, s system, n int, order []int) ([]*zk.Conn, error) {
	conns := make([]*zk.Conn, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			conns[i], errs[i] = dial(ctx, s.addr(order[i%len(order)]))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		closeAll(conns)
		return nil, fmt.Errorf("%s: %w", s.name(), err)
	}
	return conns, nil
}

// followersFirst orders the servers with the leader last, so that the
// first sessions of a workload, and a lone session, reach a follower on
// either system: which server leads is the election's choice, and a write
// through the leader skips a hop that a write through a follower makes.
func followersFirst(ctx context.Context, s system) ([]int, error) {
	l, err := leader(ctx, s, 30*time.Second)
	if err != nil {
		return nil, err
	}
	var order []int
	for i := 0; i < s.size(); i++ {
		if i != l {
			order = append(order, i)
		}
	}
	return append(order, l), nil
}

func closeAll(conns []*zk.Conn) {
	for _, c := range conns {
		if c != nil {
			c.Close()
		}
	}
}

// ensure creates path and its missing parents with empty data.
func ensure(c *zk.Conn, path string) error {
	if path == "/" {
		return nil
	}
	if err := ensure(c, filepath.Dir(path)); err != nil {
		return err
	}
	_, err := c.Create(path, nil, 0, zk.WorldACL(zk.PermAll))
	if err != nil && !errors.Is(err, zk.ErrNodeExists) {
		return fmt.Errorf("create %s: %w", path, err)
	}
	return nil
}

// rssBytes reads a process's resident set size from /proc.
func rssBytes(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err != nil {
				return 0, err
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// diskBytes is what a directory tree takes on disk, in allocated blocks,
// as du counts it.
func diskBytes(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok {
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}

// logSyncs is what a system's servers report in mntr about their log:
// fsyncs and the writes they carried, summed over the leader and over the
// followers. zkfs reports its Raft log's synced appends (zk_log_syncs,
// zk_log_writes); ZooKeeper the batches its SyncRequestProcessor flushed
// with one fsync each (the count and sum of sync_processor_batch_size).
type logSyncs struct {
	ok                            bool
	leaderSyncs, leaderWrites     uint64
	followerSyncs, followerWrites uint64
}

func readLogSyncs(s system) logSyncs {
	var out logSyncs
	for i := 0; i < s.size(); i++ {
		text, err := test.FourLetter(s.addr(i), "mntr", 2*time.Second)
		if err != nil {
			continue
		}
		var syncs, writes uint64
		var leader, has bool
		for _, line := range strings.Split(text, "\n") {
			k, v, _ := strings.Cut(line, "\t")
			switch k {
			case "zk_log_syncs", "zk_cnt_sync_processor_batch_size":
				syncs, _ = strconv.ParseUint(v, 10, 64)
				has = true
			case "zk_log_writes", "zk_sum_sync_processor_batch_size":
				writes, _ = strconv.ParseUint(v, 10, 64)
			case "zk_server_state":
				leader = v == "leader"
			}
		}
		if !has {
			continue
		}
		out.ok = true
		if leader {
			out.leaderSyncs += syncs
			out.leaderWrites += writes
		} else {
			out.followerSyncs += syncs
			out.followerWrites += writes
		}
	}
	return out
}

// perSync describes the writes per fsync between two readings, on the
// leader and on the followers.
func (after logSyncs) perSync(before logSyncs) (leader, followers string) {
	ratio := func(w, s uint64) string {
		if s == 0 {
			return "no fsync"
		}
		return fmt.Sprintf("%.1f (%d writes in %d fsyncs)", float64(w)/float64(s), w, s)
	}
	return ratio(after.leaderWrites-before.leaderWrites, after.leaderSyncs-before.leaderSyncs),
		ratio(after.followerWrites-before.followerWrites, after.followerSyncs-before.followerSyncs)
}
