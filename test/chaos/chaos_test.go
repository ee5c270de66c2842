package chaos

import (
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"zkfs/test"
)

var (
	durationFlag = flag.Duration("chaos.duration", 0, "how long clients and the nemesis run (env CHAOS_DURATION; default 2m, 30s with -short)")
	seedFlag     = flag.Int64("chaos.seed", 0, "seed of every random choice; 0 picks one (env CHAOS_SEED)")
	replicasFlag = flag.Int("chaos.replicas", 0, "replicas in the ensemble, 3 or 5 (env CHAOS_REPLICAS; default 3)")
	dirFlag      = flag.String("chaos.dir", "", "directory that keeps the history, summary and logs (env CHAOS_DIR; default a temporary directory, kept only on failure)")
	faultFlag    = flag.String("chaos.fault", "", "inject only this kind of fault, or none (env CHAOS_FAULT)")
)

// setting returns the flag's value when set, else the environment's.
func setting(flagVal, env string) string {
	if flagVal != "" && flagVal != "0" && flagVal != "0s" {
		return flagVal
	}
	return os.Getenv(env)
}

func TestChaos(t *testing.T) {
	cfg := Config{Replicas: 3, Duration: 2 * time.Minute, Seed: time.Now().UnixNano() % 1_000_000}
	if testing.Short() {
		cfg.Duration = 30 * time.Second
	}
	if v := setting(durationFlag.String(), "CHAOS_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("duration %q: %v", v, err)
		}
		cfg.Duration = d
	}
	if v := setting(strconv.FormatInt(*seedFlag, 10), "CHAOS_SEED"); v != "" {
		s, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("seed %q: %v", v, err)
		}
		cfg.Seed = s
	}
	if v := setting(strconv.Itoa(*replicasFlag), "CHAOS_REPLICAS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || (n != 3 && n != 5) {
			t.Fatalf("replicas %q: want 3 or 5", v)
		}
		cfg.Replicas = n
	}
	cfg.Fault = setting(*faultFlag, "CHAOS_FAULT")
	keep := true
	cfg.Dir = setting(*dirFlag, "CHAOS_DIR")
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "zkfs-chaos-")
		if err != nil {
			t.Fatal(err)
		}
		cfg.Dir, keep = d, false
	} else {
		cfg.Dir = filepath.Join(cfg.Dir, time.Now().Format("20060102-150405")+"-seed"+strconv.FormatInt(cfg.Seed, 10))
	}
	if cfg.Duration > 10*time.Minute {
		cfg.CheckTimeout = 10 * time.Minute
	}
	binDir := t.TempDir()
	bin, err := test.Build("../..", binDir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Bin = bin
	cfg.Logf = t.Logf

	res, err := Run(cfg)
	if leftover := mountsUnder(cfg.Dir); len(leftover) > 0 {
		t.Errorf("mounts left behind: %v", leftover)
	}
	if err != nil {
		keep = true
		t.Fatalf("the run could not be carried out: %v (kept in %s)", err, cfg.Dir)
	}
	t.Log(res.Summary)
	for _, a := range res.Anomalies {
		t.Error(a)
	}
	if len(res.Anomalies) > 0 {
		keep = true
		t.Errorf("%d anomalies; the history is in %s; reproduce with CHAOS_SEED=%d", len(res.Anomalies), res.History, cfg.Seed)
	}
	if res.Ops == 0 || res.LinearizedOps == 0 {
		t.Errorf("the run did nothing: %d operations, %d checked", res.Ops, res.LinearizedOps)
	}
	if res.Moves == 0 || res.MovedAnswers == 0 {
		t.Errorf("the SessionMoved check did not run: %d sessions moved, %d SessionMoved answers", res.Moves, res.MovedAnswers)
	}
	if res.WatchesFired == 0 {
		t.Error("the watch check did not run: no data watch fired")
	}
	if cfg.Fault != "none" && res.Faults == 0 {
		t.Error("the nemesis injected no fault")
	}
	if keep {
		removeData(cfg.Dir)
	} else {
		os.RemoveAll(cfg.Dir)
	}
}

// removeData deletes the replicas' data directories of a kept run: the
// history, summary and server logs are what one inspects.
func removeData(dir string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "replica*", "data"))
	for _, m := range matches {
		os.RemoveAll(m)
	}
}

// mountsUnder lists the mount points below dir still in /proc/mounts.
func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/mounts")
	if err != nil {
		return nil
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && strings.HasPrefix(f[1], dir+"/") {
			out = append(out, f[1])
		}
	}
	return out
}
