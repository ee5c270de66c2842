package chaos

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
)

// mountDir is the directory, under every mount, of the mount workload.
const mountDir = "chaos-m"

// mountWrite is one write through a mount: `echo > file`, or a write to a
// temporary file renamed over the target, as editors save.
type mountWrite struct {
	Kind    string  `json:"kind"` // echo, rename, mono (the client-port writer of the file mounts read)
	Replica int     `json:"replica"`
	File    string  `json:"file"`
	N       int     `json:"n"`
	Outcome Outcome `json:"outcome"`
	Err     string  `json:"err,omitempty"`
	Call    int64   `json:"call"`
	Return  int64   `json:"return"`
}

// mountContent formats a file's content: its kind and counter, and for
// renamed files a check value, so that a torn or mixed read shows.
func mountContent(kind string, r, n int) string {
	switch kind {
	case "rename":
		return fmt.Sprintf("rr%d %d %d\n", r, n, checkValue(n))
	case "echo":
		return fmt.Sprintf("w%d %d\n", r, n)
	}
	return fmt.Sprintf("%s%d %d\n", kind, r, n)
}

func checkValue(n int) int { return (n*7919 + 13) % 10007 }

// parseMount returns the counter of a file's content, or an error if the
// content is not one whole content of that file.
func parseMount(file, content string) (int, error) {
	base := filepath.Base(file)
	f := strings.Fields(strings.TrimSuffix(content, "\n"))
	if !strings.HasSuffix(content, "\n") || len(f) < 2 || f[0] != base {
		return 0, fmt.Errorf("%s holds %q", file, content)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		return 0, fmt.Errorf("%s holds %q", file, content)
	}
	if strings.HasPrefix(base, "rr") {
		if len(f) != 3 || f[2] != strconv.Itoa(checkValue(n)) {
			return 0, fmt.Errorf("%s holds %q: torn", file, content)
		}
	} else if len(f) != 2 {
		return 0, fmt.Errorf("%s holds %q", file, content)
	}
	return n, nil
}

// mountFiles lists the files the mount readers follow.
func (rn *run) mountFiles() []string {
	var files []string
	for _, r := range rn.cluster.nodes {
		files = append(files, fmt.Sprintf("w%d", r.id), fmt.Sprintf("rr%d", r.id))
	}
	return append(files, "mono0")
}

// mountWriter writes its file through one mount with `echo >`, or with a
// temporary file and a rename; its counter only grows.
func (rn *run) mountWriter(r *replica, kind string, rng *rand.Rand, stop <-chan struct{}) {
	dir := filepath.Join(r.mnt, mountDir)
	name := fmt.Sprintf("w%d", r.id)
	if kind == "rename" {
		name = fmt.Sprintf("rr%d", r.id)
	}
	for n := 1; !stopped(stop); n++ {
		w := &mountWrite{Kind: kind, Replica: r.id, File: name, N: n}
		content := []byte(mountContent(kind, r.id, n))
		w.Call = rn.rec.now()
		var err error
		if kind == "rename" {
			tmp := filepath.Join(dir, "."+name+".tmp")
			if err = os.WriteFile(tmp, content, 0o644); err == nil {
				err = os.Rename(tmp, filepath.Join(dir, name))
			}
		} else {
			err = os.WriteFile(filepath.Join(dir, name), content, 0o644)
		}
		w.Return = rn.rec.now()
		w.Outcome = OK
		if err != nil {
			w.Outcome, w.Err = Unknown, err.Error()
		}
		rn.rec.addMountWrite(w)
		wait := time.Duration(20+rng.Intn(80)) * time.Millisecond
		if err != nil {
			wait = 200 * time.Millisecond // the mount is down or has no quorum
		}
		if sleep(stop, wait) {
			return
		}
	}
}

// mountReader reads every followed file through one mount, over and
// over: each read is one whole content, and a mount never goes back to an
// older content of a file than it showed before, across restarts of its
// replica too (a replica serves, and mounts, only once it has caught up).
func (rn *run) mountReader(r *replica, rng *rand.Rand, stop <-chan struct{}) {
	last := map[string]int{}
	files := rn.mountFiles()
	for !stopped(stop) {
		f := files[rng.Intn(len(files))]
		b, err := os.ReadFile(filepath.Join(r.mnt, mountDir, f))
		if err != nil {
			// A replica that died answers ENOTCONN, or ECONNABORTED to
			// requests the kernel had sent it; a lost quorum is EIO.
			if !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTCONN) && !errors.Is(err, syscall.EIO) &&
				!errors.Is(err, syscall.ECONNABORTED) && !errors.Is(err, syscall.EINTR) {
				rn.rec.anomaly("mount-read-error", "reading %s through mount %d: %v", f, r.id, err)
			}
			rn.rec.count("mount-read", Fail)
			sleep(stop, 100*time.Millisecond)
			continue
		}
		rn.rec.count("mount-read", OK)
		n, err := parseMount(f, string(b))
		if err != nil {
			rn.rec.anomaly("mount-read-torn", "mount %d: %v", r.id, err)
			continue
		}
		if n < last[f] {
			rn.rec.anomaly("mount-read-went-back", "mount %d showed %s at %d after showing it at %d", r.id, f, n, last[f])
		}
		last[f] = max(last[f], n)
		sleep(stop, time.Duration(5+rng.Intn(20))*time.Millisecond)
	}
}

// counterState is what the flock workers know of a mount's counter file:
// its value, or the two values it may hold after a write whose outcome is
// unknown.
type counterState struct {
	mu       sync.Mutex
	vals     []int
	acked    int
	attempts int
}

// flockCounter increments a counter file through one mount, each
// read-modify-write under flock(LOCK_EX) on a lock file of that mount.
// flock on the mount is a cluster-wide ZooKeeper lock whose contenders
// are ephemeral nodes of the mount's session; the workers of one mount
// share a lock file, so what this checks is the lock's exclusion and the
// mount's read-your-writes: under the lock, the counter reads exactly as
// the last acknowledged write left it. Taking the lock is a write: under a
// fault it fails as writes do (EIO without a quorum, EROFS once the replica
// is in read-only mode, ENOTCONN or ECONNABORTED from a dead mount, EINTR),
// which is not an anomaly.
func (rn *run) flockCounter(r *replica, st *counterState, worker int, stop <-chan struct{}) {
	dir := filepath.Join(r.mnt, mountDir)
	lockPath := filepath.Join(dir, fmt.Sprintf("lk%d", r.id))
	cnt := filepath.Join(dir, fmt.Sprintf("cnt%d", r.id))
	for !stopped(stop) {
		lf, err := os.OpenFile(lockPath, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			sleep(stop, 200*time.Millisecond)
			continue
		}
		rn.flockWaiting.Add(1)
		err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX)
		rn.flockWaiting.Add(-1)
		if err != nil {
			lf.Close()
			if !errors.Is(err, syscall.EIO) && !errors.Is(err, syscall.EROFS) && !errors.Is(err, syscall.ENOTCONN) &&
				!errors.Is(err, syscall.ECONNABORTED) && !errors.Is(err, syscall.EINTR) {
				rn.rec.anomaly("flock", "flock on mount %d: %v", r.id, err)
			}
			rn.rec.count("mount-flock", Fail)
			sleep(stop, 200*time.Millisecond)
			continue
		}
		if stopped(stop) {
			// A wait that outlasted the workload (see execute): the
			// final checks may have begun.
			lf.Close()
			return
		}
		rn.incrementLocked(r, st, cnt)
		syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		lf.Close()
		sleep(stop, time.Duration(10+worker*7)*time.Millisecond)
	}
}

func (rn *run) incrementLocked(r *replica, st *counterState, cnt string) {
	b, err := os.ReadFile(cnt)
	v := 0
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return
	default:
		if v, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
			rn.rec.anomaly("mount-read-torn", "mount %d: counter holds %q", r.id, b)
			return
		}
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	if !containsInt(st.vals, v) {
		rn.rec.anomaly("mount-lost-own-write", "mount %d: counter reads %d under the lock, want one of %v", r.id, v, st.vals)
	}
	st.attempts++
	err = os.WriteFile(cnt, []byte(strconv.Itoa(v+1)+"\n"), 0o644)
	if err != nil {
		st.vals = []int{v, v + 1}
		rn.rec.count("mount-increment", Unknown)
		return
	}
	st.vals = []int{v + 1}
	st.acked++
	rn.rec.count("mount-increment", OK)
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// monoWriter writes the file mono0 under the mount directory through the
// client port, with compare-and-set, so that its counter only ever grows
// in the tree itself: the mount readers' check that reads never go back
// then does not depend on the order in which unknown writes land.
func (rn *run) monoWriter(id int, rng *rand.Rand, stop <-chan struct{}) {
	path := "/" + mountDir + "/mono0"
	var zc *zkConn
	defer func() {
		if zc != nil {
			zc.Close()
		}
	}()
	n, version := 0, int32(-2)
	for !stopped(stop) {
		if zc == nil {
			var err error
			if zc, err = dialZK(rn.clients, id, rn.cluster.pick(rng), regSessionTimeout, nil); err != nil {
				zc = nil
				sleep(stop, 300*time.Millisecond)
				continue
			}
			version = -2
		}
		if version == -2 {
			var data []byte
			var st *zk.Stat
			var err error
			if within(regTimeout, zc, func() {
				if _, err = zc.Sync(path); err == nil {
					data, st, err = zc.Get(path)
				}
			}) || err != nil {
				zc.Close()
				zc = nil
				continue
			}
			cur, _ := parseMount("mono0", string(data))
			n, version = max(n, cur), st.Version
		}
		n++
		w := &mountWrite{Kind: "mono", File: "mono0", N: n, Replica: zc.replica}
		var st *zk.Stat
		var err error
		closed := within(regTimeout, zc, func() {
			w.Call = rn.rec.now()
			st, err = zc.Set(path, []byte(mountContent("mono", 0, n)), version)
			w.Return = rn.rec.now()
		})
		w.Outcome = outcomeOf(err)
		if err != nil {
			w.Err = err.Error()
		}
		rn.rec.addMountWrite(w)
		switch {
		case err == nil:
			version = st.Version
		case closed || w.Outcome == Unknown:
			zc.Close()
			zc = nil
		default:
			version = -2
		}
		sleep(stop, time.Duration(20+rng.Intn(40))*time.Millisecond)
	}
}

// checkMountFinal checks the files after the full restart: each holds its
// last acknowledged content or that of a later write whose outcome was
// unknown, and each counter one of the values its workers allow.
func checkMountFinal(rec *recorder, writes []*mountWrite, final map[string]int, counters map[int]*counterState, finalCounters map[int]int) {
	lastAcked := map[string]*mountWrite{}
	unknownAfter := map[string]map[int]bool{}
	for _, w := range writes {
		if w.Outcome == OK {
			if p := lastAcked[w.File]; p == nil || w.N > p.N {
				lastAcked[w.File] = w
			}
		}
	}
	for _, w := range writes {
		if w.Outcome == Unknown {
			if unknownAfter[w.File] == nil {
				unknownAfter[w.File] = map[int]bool{}
			}
			unknownAfter[w.File][w.N] = true
		}
	}
	for file, w := range lastAcked {
		got, ok := final[file]
		switch {
		case !ok:
			rec.anomaly("lost-acknowledged-write", "%s is missing after the full restart; %s write %d was acknowledged at %.3fs", file, w.Kind, w.N, secs(w.Return))
		case got < w.N:
			rec.anomaly("lost-acknowledged-write", "%s holds %d after the full restart; %s write %d was acknowledged at %.3fs", file, got, w.Kind, w.N, secs(w.Return))
		case got > w.N && !unknownAfter[file][got]:
			rec.anomaly("mount-phantom-write", "%s holds %d after the full restart, which no write that may have succeeded wrote (last acknowledged %d)", file, got, w.N)
		}
	}
	for r, st := range counters {
		got, ok := finalCounters[r]
		st.mu.Lock()
		vals := append([]int(nil), st.vals...)
		st.mu.Unlock()
		if !ok {
			got = 0
		}
		if !containsInt(vals, got) {
			rec.anomaly("lost-acknowledged-write", "mount %d's counter holds %d after the full restart, want one of %v", r, got, vals)
		}
	}
}
