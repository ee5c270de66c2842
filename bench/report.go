package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"
)

// row is one line of the results: a workload measured on zkfs and on a
// baseline (ZooKeeper unless said otherwise), and their ratio.
type row struct {
	section  string
	name     string
	baseline string // the column header: "ZooKeeper", "tmpfs", ...
	base     string
	zkfs     string
	// ratio is zkfs's figure divided by the baseline's, on the row's
	// headline metric; 0 when there is none.
	ratio float64
	// ratioText, when set, is shown instead of ratio: a row judged on
	// more than one figure (p50 and p99), or measured in rounds whose
	// ratios spread.
	ratioText string
	// goal states the target, e.g. "≥ 2×"; empty when the row has none.
	goal string
	met  bool
}

// check is what the smoke test asserts about one measurement: it ran on
// a system and completed operations, and how many failed.
type check struct {
	workload string // one of workloadNames
	what     string
	system   string
	ops      int
	errs     int
	firstErr error
	// errsExpected marks measurements where failures are part of the
	// figure (failover), so that only ops is asserted.
	errsExpected bool
}

// report gathers the rows, checks and notes of a run.
type report struct {
	mu     sync.Mutex
	rows   []row
	checks []check
	notes  []string
	// fsyncs are the writes per fsync, one line per system and write
	// measurement at 64 and 256 sessions.
	fsyncs []fsyncLine
	out    io.Writer // where rows are echoed as they come, if anywhere
}

func (r *report) add(x row) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rows = append(r.rows, x)
	if r.out != nil {
		fmt.Fprintf(r.out, "  %-58s %-22s %-22s %s\n", x.section+": "+x.name, x.base, x.zkfs, x.shownRatio())
	}
}

func (r *report) check(c check) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, c)
}

// failedChecks describes the measurements that completed nothing or saw
// errors they should not have.
func (r *report) failedChecks() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var bad []string
	for _, c := range r.checks {
		if c.ops == 0 || (c.errs > 0 && !c.errsExpected) {
			bad = append(bad, fmt.Sprintf("%s %s on %s: %d operations, %d errors (first: %v)", c.workload, c.what, c.system, c.ops, c.errs, c.firstErr))
		}
	}
	return bad
}

// fsyncLine is one system's writes per fsync during one measurement, on
// the leader (its own appends) and on the followers.
type fsyncLine struct{ what, system, leader, followers string }

func (r *report) fsync(what, system, leader, followers string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.fsyncs = append(r.fsyncs, fsyncLine{what, system, leader, followers})
	if r.out != nil {
		fmt.Fprintf(r.out, "  writes per fsync, %s, %s: leader %s, followers %s\n", what, system, leader, followers)
	}
}

func (r *report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// goalRow builds a row whose ratio is judged against a goal: for a
// higher-is-better figure the ratio must reach min, for a lower-is-better
// one it must stay at or under max.
func goalRow(section, name, baseline, base, zkfs string, ratio float64, goal string, met bool) row {
	return row{section: section, name: name, baseline: baseline, base: base, zkfs: zkfs, ratio: ratio, goal: goal, met: met}
}

func (x row) shownRatio() string {
	if x.ratioText != "" {
		return x.ratioText
	}
	return fmtRatio(x.ratio)
}

func fmtRatio(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	if x >= 10 {
		return fmt.Sprintf("%.0f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

func fmtRate(x float64) string {
	n := int64(math.Round(x))
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// fmtDur shows a duration in the unit that keeps three significant
// digits readable: µs below a millisecond, ms below ten seconds, s above.
func fmtDur(d time.Duration) string {
	switch {
	case d < 0:
		return "−" + fmtDur(-d)
	case d == 0:
		return "0"
	case d < time.Millisecond:
		return fmt.Sprintf("%.0f µs", float64(d)/float64(time.Microsecond))
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func fmtMiB(b int64) string {
	return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
}

func ratioOf(zkfs, base float64) float64 {
	if base == 0 {
		return 0
	}
	return zkfs / base
}

// table writes rows as Markdown tables, one per section and baseline.
func (r *report) table(w io.Writer) {
	type key struct{ section, baseline string }
	var order []key
	groups := map[key][]row{}
	for _, x := range r.rows {
		k := key{x.section, x.baseline}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], x)
	}
	baselines := map[string]int{}
	for _, k := range order {
		baselines[k.section]++
	}
	for _, k := range order {
		if baselines[k.section] > 1 {
			fmt.Fprintf(w, "\n### %s, against %s\n\n", k.section, k.baseline)
		} else {
			fmt.Fprintf(w, "\n### %s\n\n", k.section)
		}
		fmt.Fprintf(w, "| workload | %s | zkfs | zkfs ÷ %s | goal |\n|---|---:|---:|---:|---|\n", k.baseline, k.baseline)
		for _, x := range groups[k] {
			goal := x.goal
			if goal != "" {
				if x.met {
					goal += " met"
				} else {
					goal += " **not met**"
				}
			}
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", x.name, x.base, x.zkfs, x.shownRatio(), goal)
		}
	}
}

// goals writes the rows that carry a goal, as a summary.
func (r *report) goals(w io.Writer) {
	fmt.Fprintf(w, "| goal | figure | ratio | met |\n|---|---|---:|---|\n")
	for _, x := range r.rows {
		if x.goal == "" {
			continue
		}
		met := "no"
		if x.met {
			met = "yes"
		}
		fmt.Fprintf(w, "| %s %s | %s: %s, zkfs: %s | %s | %s |\n", x.section, x.name, x.baseline, x.base, x.zkfs, x.shownRatio(), met)
	}
}

// markdown is the results file: what ran where, the goals, every table
// and the notes.
func (r *report) markdown(w io.Writer, header string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprint(w, header)
	fmt.Fprintf(w, "\n## Goals\n\n")
	r.goals(w)
	fmt.Fprintf(w, "\n## Results\n")
	r.table(w)
	if len(r.fsyncs) > 0 {
		fmt.Fprintf(w, "\n### Writes per fsync\n\nzkfs: each Raft log append is one synced Pebble batch; the leader appends what it took from its queue, a follower what one AppendEntries brought. ZooKeeper: each flush of a server's SyncRequestProcessor is one fsync (mntr's sync_processor_batch_size).\n\n| workload | system | leader | followers |\n|---|---|---|---|\n")
		for _, f := range r.fsyncs {
			fmt.Fprintf(w, "| %s | %s | %s | %s |\n", f.what, f.system, f.leader, f.followers)
		}
	}
	if len(r.notes) > 0 {
		fmt.Fprintf(w, "\n## Notes\n\n")
		for _, n := range r.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
}
