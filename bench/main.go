// Command bench measures zkfs against Apache ZooKeeper on one machine, in
// one run: it starts a three-replica zkfs ensemble (each replica with its
// own data directory and FUSE mount) and a three-server ZooKeeper 3.8
// ensemble from Debian's package, both on loopback and on the same disk,
// runs the same workloads against both through go-zookeeper, and prints
// the figures with their ratios. The results go to
// bench/results/<date>.md together with a description of the machine.
//
// Absolute figures drift on shared machines; the ratios, measured
// minutes apart on the same hardware, are what to compare across runs.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"zkfs/test"
)

// workloadNames are the workloads in the order they run. failover kills
// a server and scale loads a million znodes, so they come last.
var workloadNames = []string{"ops", "mix", "multi", "watch", "mount", "failover", "scale"}

// options are the harness's flags.
type options struct {
	zkfsBin string
	// zkfsBefore, when set, is a second zkfs build measured in the same
	// run by the client operations: the build before a change.
	zkfsBefore string
	workDir    string
	results    string
	workloads  []string
	duration   time.Duration
	warmup     time.Duration
	rounds     int
	// short is the write goals alone, quickly (--short).
	short       bool
	sessions    []int
	sizes       []int
	ops         []clientOp
	mixReads    []int
	mixSize     int
	mixSessions int

	watchSamples int

	mountDuration   time.Duration
	mountSamples    int
	readdirChildren int

	scaleZnodes   int
	scaleChildren int
	scaleSessions int
	scaleBatch    int

	failoverSessions int
	failoverSteady   time.Duration

	zkHeap     string
	profileDir string
	trace      bool

	out io.Writer // progress; the table goes there too
}

func defaultOptions() *options {
	return &options{
		workloads:        workloadNames,
		duration:         1500 * time.Millisecond,
		warmup:           3 * time.Second,
		rounds:           1,
		sessions:         []int{1, 16, 64, 256},
		sizes:            []int{100, 1024},
		ops:              allOps,
		mixReads:         []int{0, 50, 90, 100},
		mixSize:          1024,
		mixSessions:      64,
		watchSamples:     300,
		mountDuration:    time.Second,
		mountSamples:     300,
		readdirChildren:  10_000,
		scaleZnodes:      1_000_000,
		scaleChildren:    100_000,
		scaleSessions:    64,
		scaleBatch:       100,
		failoverSessions: 16,
		failoverSteady:   2 * time.Second,
		zkHeap:           "2g",
		out:              os.Stdout,
	}
}

func (o *options) has(w string) bool { return slices.Contains(o.workloads, w) }

func parseFlags(args []string) (*options, error) {
	o := defaultOptions()
	fs := pflag.NewFlagSet("bench", pflag.ContinueOnError)
	fs.StringVar(&o.zkfsBin, "zkfs", "", "zkfs binary to run; empty builds ./cmd/zkfs")
	fs.StringVar(&o.zkfsBefore, "zkfs-before", "", "a second zkfs binary (the build before a change) whose ensemble the client operations also measure, alternating with the others: before/after ratios from the same run")
	fs.StringVar(&o.workDir, "work-dir", "", "directory for both ensembles' data (the same disk for both); empty means a new directory under $TMPDIR, removed at the end")
	fs.StringVar(&o.results, "results", "", "Markdown file for the results; empty means bench/results/<date>.md, - means none")
	fs.StringSliceVar(&o.workloads, "workloads", o.workloads, "workloads to run: "+strings.Join(workloadNames, ","))
	fs.DurationVar(&o.duration, "duration", o.duration, "length of each client-operations measurement")
	fs.DurationVar(&o.warmup, "warmup", o.warmup, "load each system gets before the first measurement (the JVM compiles its hot paths)")
	fs.IntVar(&o.rounds, "rounds", o.rounds, "times each client operation is measured on each system, alternating; the figures merge the rounds and the ratios show their range")
	fs.BoolVar(&o.short, "short", false, "measure only the write goals: create, set and delete at every size and session count (--workloads ops --ops create,set,delete --duration 1s --warmup 15s unless given), with the results in bench/results/<date>-writes.md")
	fs.IntSliceVar(&o.sessions, "sessions", o.sessions, "session counts of the client operations")
	fs.IntSliceVar(&o.sizes, "sizes", o.sizes, "value sizes of the client operations, in bytes")
	var ops []string
	fs.StringSliceVar(&ops, "ops", []string{"create", "set", "get", "exists", "delete"}, "client operations to measure")
	fs.IntSliceVar(&o.mixReads, "mix-reads", o.mixReads, "read percentages of the read/write mix")
	fs.IntVar(&o.mixSize, "mix-size", o.mixSize, "value size of the read/write mix, in bytes")
	fs.IntVar(&o.mixSessions, "mix-sessions", o.mixSessions, "sessions of the read/write mix and of multi")
	fs.IntVar(&o.watchSamples, "watch-samples", o.watchSamples, "watch events timed per kind")
	fs.DurationVar(&o.mountDuration, "mount-duration", o.mountDuration, "length of each syscall loop on the mount and on tmpfs")
	fs.IntVar(&o.mountSamples, "mount-samples", o.mountSamples, "reads timed right after a remote change")
	fs.IntVar(&o.readdirChildren, "readdir-children", o.readdirChildren, "entries of the directory that readdir lists")
	fs.IntVar(&o.scaleZnodes, "scale-znodes", o.scaleZnodes, "znodes of 100 B that the scale workload loads")
	fs.IntVar(&o.scaleChildren, "scale-children", o.scaleChildren, "children of the one node whose listing is timed (part of --scale-znodes)")
	fs.IntVar(&o.scaleSessions, "scale-sessions", o.scaleSessions, "sessions that load the znodes")
	fs.IntVar(&o.scaleBatch, "scale-batch", o.scaleBatch, "creates per multi when loading the znodes; 1 loads them one create at a time (slower than the default run allows)")
	fs.IntVar(&o.failoverSessions, "failover-sessions", o.failoverSessions, "sessions writing through the leader's death")
	fs.DurationVar(&o.failoverSteady, "failover-steady", o.failoverSteady, "steady load before the leader is killed")
	fs.StringVar(&o.zkHeap, "zk-heap", o.zkHeap, "ZooKeeper's JVM heap limit (-Xmx)")
	fs.StringVar(&o.profileDir, "profile-dir", "", "if set, save CPU, block and mutex profiles of every zkfs replica during each measurement there (adds --pprof-address)")
	fs.BoolVar(&o.trace, "trace", false, "with --profile-dir, also save an execution trace of each replica for the first second of each measurement (go tool trace)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	for _, w := range o.workloads {
		if !slices.Contains(workloadNames, w) {
			return nil, fmt.Errorf("--workloads: unknown workload %q (have %s)", w, strings.Join(workloadNames, ", "))
		}
	}
	if o.short {
		if !fs.Changed("workloads") {
			o.workloads = []string{"ops"}
		}
		if !fs.Changed("ops") {
			ops = []string{string(opCreate), string(opSet), string(opDelete)}
		}
		if !fs.Changed("duration") {
			o.duration = time.Second
		}
		if !fs.Changed("warmup") {
			// ZooKeeper's JIT goes on compiling for tens of seconds:
			// with 2 s its one-writer p50 fell from 1.2-1.5 ms to
			// 0.9-1.0 ms between the first size measured and the second.
			o.warmup = 15 * time.Second
		}
	}
	if o.rounds < 1 {
		return nil, fmt.Errorf("--rounds must be at least 1, not %d", o.rounds)
	}
	o.ops = nil
	for _, op := range ops {
		if !slices.Contains(allOps, clientOp(op)) {
			return nil, fmt.Errorf("--ops: unknown operation %q", op)
		}
		o.ops = append(o.ops, clientOp(op))
	}
	if o.scaleBatch < 1 {
		return nil, fmt.Errorf("--scale-batch must be at least 1, not %d", o.scaleBatch)
	}
	if o.scaleChildren > o.scaleZnodes {
		return nil, fmt.Errorf("--scale-children (%d) exceeds --scale-znodes (%d)", o.scaleChildren, o.scaleZnodes)
	}
	return o, nil
}

func main() {
	o, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(2)
	}
	// Ctrl-C or SIGTERM cancels the run; the deferred clean-up then stops
	// every server and unmounts every mount before the harness exits.
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
	if bad := rep.failedChecks(); len(bad) > 0 {
		fmt.Fprintf(os.Stderr, "bench: %d measurements saw errors or completed nothing:\n  %s\n", len(bad), strings.Join(bad, "\n  "))
		os.Exit(1)
	}
}

// run starts both ensembles, runs the chosen workloads and stops
// everything, whatever happens.
func run(ctx context.Context, o *options) (*report, error) {
	moduleDir, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	work := o.workDir
	if work == "" {
		work, err = os.MkdirTemp("", "zkfs-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
	} else {
		// A fresh start: the ensembles' directories of an earlier run
		// would hold its tree.
		for _, d := range []string{"zk1", "zk2", "zk3", "zkfs1", "zkfs2", "zkfs3", "before"} {
			if err := os.RemoveAll(filepath.Join(work, d)); err != nil {
				return nil, err
			}
		}
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, err
		}
	}
	if o.zkfsBefore != "" {
		if o.zkfsBefore, err = filepath.Abs(o.zkfsBefore); err != nil {
			return nil, err
		}
	}
	if o.zkfsBin != "" {
		if o.zkfsBin, err = filepath.Abs(o.zkfsBin); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintln(o.out, "building zkfs")
		o.zkfsBin, err = test.Build(moduleDir, work)
		if err != nil {
			return nil, err
		}
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return nil, err
		}
	}
	started := time.Now()
	fmt.Fprintf(o.out, "starting a three-server ZooKeeper ensemble and a three-replica zkfs ensemble in %s\n", work)
	var zk *zkEnsemble
	var zf, before *zkfsEnsemble
	var zkErr, zfErr, beforeErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); zk, zkErr = startZooKeeper(ctx, work, o.zkHeap) }()
	go func() { defer wg.Done(); zf, zfErr = startZkfs(ctx, o.zkfsBin, work, o.profileDir != "") }()
	if o.zkfsBefore != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			before, beforeErr = startZkfs(ctx, o.zkfsBefore, filepath.Join(work, "before"), false)
			if before != nil {
				before.label = "zkfs before"
			}
		}()
	}
	wg.Wait()
	if zk != nil {
		defer zk.close()
	}
	if zf != nil {
		defer zf.close()
	}
	if before != nil {
		defer before.close()
	}
	if err := errors.Join(zkErr, zfErr, beforeErr); err != nil {
		return nil, err
	}
	rep := &report{out: o.out}
	machine := describeMachine(work, zk.version(), versionOf(o.zkfsBin), o)
	systems := []system{zk, zf}
	fmt.Fprintf(o.out, "running %s\n", strings.Join(o.workloads, ", "))
	steps := []struct {
		names []string
		f     func() error
	}{
		{[]string{"ops", "mix", "multi"}, func() error {
			if before != nil {
				return clientOpsWorkload(ctx, o, append(systems, before), rep)
			}
			return clientOpsWorkload(ctx, o, systems, rep)
		}},
		{[]string{"watch"}, func() error { return watchWorkload(ctx, o, zk, zf, rep) }},
		{[]string{"mount"}, func() error { return mountWorkload(ctx, o, zf, rep) }},
		{[]string{"failover"}, func() error { return failoverWorkload(ctx, o, systems, rep) }},
		{[]string{"scale"}, func() error { return scaleWorkload(ctx, o, zk, zf, rep) }},
	}
	for _, st := range steps {
		if !slices.ContainsFunc(st.names, o.has) {
			continue
		}
		t0 := time.Now()
		if err := st.f(); err != nil {
			return rep, fmt.Errorf("%s: %w", strings.Join(st.names, "/"), err)
		}
		fmt.Fprintf(o.out, "  (%s took %v)\n", strings.Join(st.names, "/"), time.Since(t0).Round(time.Second))
	}
	for _, b := range rep.failedChecks() {
		rep.note("Measurement failed: %s.", b)
	}
	header := fmt.Sprintf("# zkfs against ZooKeeper, %s\n\n%s\nRun took %v. Each ratio is zkfs's figure divided by the baseline's, measured in the same run; for throughput higher is better, for latency, memory, disk and time lower is better.\n",
		started.Format("2006-01-02 15:04"), machine, time.Since(started).Round(time.Second))
	fmt.Fprintln(o.out)
	rep.markdown(o.out, header)
	if o.results != "-" {
		path := o.results
		if path == "" {
			name := started.Format("2006-01-02")
			if o.short {
				name += "-writes"
			}
			path = filepath.Join(moduleDir, "bench", "results", name+".md")
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return rep, err
		}
		var b strings.Builder
		rep.markdown(&b, header)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			return rep, err
		}
		fmt.Fprintf(o.out, "\nwrote %s\n", path)
	}
	return rep, nil
}

// moduleRoot finds the zkfs module from the working directory up, so that
// the harness runs from the repository root (make bench) or from bench/
// (go test).
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module zkfs\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the zkfs module")
		}
		dir = parent
	}
}

// profile starts CPU, block and mutex profiles of every zkfs replica for
// what, when asked to; the returned function waits for them to be saved.
func (o *options) profile(s system, what string) func() {
	zf, ok := s.(*zkfsEnsemble)
	if o.profileDir == "" || !ok {
		return func() {}
	}
	secs := max(1, int(o.duration.Seconds()))
	name := strings.NewReplacer(" ", "_", "%", "pc", "×", "x", "/", "_", "(", "", ")", "").Replace(what)
	var wg sync.WaitGroup
	for _, m := range zf.members {
		if m.pprof == "" || !m.Running() {
			continue
		}
		kinds := []string{"profile", "block", "mutex"}
		if o.trace {
			kinds = append(kinds, "trace")
		}
		for _, kind := range kinds {
			wg.Add(1)
			go func() {
				defer wg.Done()
				path := filepath.Join(o.profileDir, fmt.Sprintf("%s.r%d.%s.pprof", name, m.id, strings.Replace(kind, "profile", "cpu", 1)))
				secs := secs
				if kind == "trace" {
					secs = 1 // a second of a loaded server is a large trace
				}
				if err := fetch(fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", m.pprof, kind, secs), path); err != nil {
					fmt.Fprintf(os.Stderr, "bench: %s profile of replica %d: %v\n", kind, m.id, err)
				}
			}()
		}
	}
	return wg.Wait
}

func fetch(url, path string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
