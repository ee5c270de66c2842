package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSmoke runs every workload for a moment against both systems at a
// tiny scale, so that the benchmarks keep working between benchmark runs.
// It asserts that each workload completed operations without errors on
// each system it measures; it never judges a figure, since speed belongs
// to `make bench`.
func TestSmoke(t *testing.T) {
	o := defaultOptions()
	o.results = "-"
	o.duration = 200 * time.Millisecond
	o.warmup = 200 * time.Millisecond
	o.sessions = []int{1, 4}
	o.sizes = []int{100}
	o.mixReads = []int{0, 90}
	o.mixSessions = 4
	o.watchSamples = 10
	o.mountDuration = 100 * time.Millisecond
	o.mountSamples = 10
	o.readdirChildren = 100
	o.scaleZnodes = 1500
	o.scaleChildren = 500
	o.scaleSessions = 6
	o.failoverSessions = 3
	o.failoverSteady = 300 * time.Millisecond
	var out bytes.Buffer
	o.out = &out

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	rep, err := run(ctx, o)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}

	// Who each workload measures.
	want := map[string][]string{
		"ops":      {"ZooKeeper", "zkfs"},
		"mix":      {"ZooKeeper", "zkfs"},
		"multi":    {"ZooKeeper", "zkfs"},
		"watch":    {"ZooKeeper", "zkfs"},
		"mount":    {"tmpfs", "zkfs"},
		"failover": {"ZooKeeper", "zkfs"},
		"scale":    {"ZooKeeper", "zkfs"},
	}
	seen := map[string][]string{}
	for _, c := range rep.checks {
		name := fmt.Sprintf("%s %q on %s", c.workload, c.what, c.system)
		if c.ops == 0 {
			t.Errorf("%s completed no operations (first error: %v)", name, c.firstErr)
		}
		if c.errs > 0 && !c.errsExpected {
			t.Errorf("%s: %d errors, first: %v", name, c.errs, c.firstErr)
		}
		if !slices.Contains(seen[c.workload], c.system) {
			seen[c.workload] = append(seen[c.workload], c.system)
		}
	}
	for _, w := range workloadNames {
		for _, sys := range want[w] {
			if !slices.Contains(seen[w], sys) {
				t.Errorf("workload %s measured nothing on %s", w, sys)
			}
		}
	}
	// Every row has both figures; a blank cell means a measurement that
	// silently did not happen.
	for _, r := range rep.rows {
		if strings.TrimSpace(r.base) == "" || strings.TrimSpace(r.zkfs) == "" {
			t.Errorf("row %s: %s has an empty cell (%q, %q)", r.section, r.name, r.base, r.zkfs)
		}
	}
	var table bytes.Buffer
	rep.markdown(&table, "")
	for _, section := range []string{"Client operations", "Read/write mix", "Multi", "Watch latency", "Mount", "Failover", "Scale"} {
		if !strings.Contains(table.String(), "### "+section) {
			t.Errorf("the results have no %s table", section)
		}
	}
	if t.Failed() {
		t.Logf("harness output:\n%s", out.String())
	}
}
