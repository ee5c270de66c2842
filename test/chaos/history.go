package chaos

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"
)

// Outcome is what a client learned about one operation.
type Outcome string

const (
	// OK means the operation took effect (or, for a read, returned).
	OK Outcome = "ok"
	// Fail means it certainly did not take effect: the server answered
	// with an error that comes before any change, such as a bad version.
	Fail Outcome = "fail"
	// Unknown means the client cannot tell: a timeout, a lost connection,
	// an expired session. The operation may have taken effect, at any
	// moment after it was called.
	Unknown Outcome = "unknown"
)

// recorder keeps the run's history: every operation, fault and anomaly,
// in memory for the checkers and as JSON lines in a file kept for
// inspection. Times are nanoseconds since the start of the run, from the
// monotonic clock.
type recorder struct {
	start time.Time
	logf  func(string, ...any)

	mu        sync.Mutex
	file      *os.File
	w         *bufio.Writer
	regs      []*regOp
	seqs      []*seqOp
	sessions  []*ephSession
	mountOps  []*mountWrite
	moved     []*movedCycle
	faults    []*faultRecord
	anomalies []anomaly
	counts    map[string]int
	// moves counts the sessions moved to another replica, movedAnswers
	// the SessionMoved replies their old connections got.
	moves, movedAnswers int
}

// anomaly is one violated guarantee.
type anomaly struct {
	Kind   string `json:"kind"`
	Detail string `json:"detail"`
	At     int64  `json:"at"`
}

func newRecorder(path string, logf func(string, ...any)) (*recorder, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	return &recorder{start: time.Now(), logf: logf, file: f, w: bufio.NewWriterSize(f, 1<<16), counts: map[string]int{}}, nil
}

// now is the time since the start of the run.
func (r *recorder) now() int64 { return int64(time.Since(r.start)) }

// write appends one record to the history file.
func (r *recorder) write(kind string, v any) {
	b, err := json.Marshal(struct {
		Type string `json:"type"`
		Rec  any    `json:"rec"`
	}{kind, v})
	if err != nil {
		panic(err)
	}
	r.mu.Lock()
	r.w.Write(b)
	r.w.WriteByte('\n')
	r.mu.Unlock()
}

// count adds to one of the run's operation counters.
func (r *recorder) count(what string, outcome Outcome) {
	r.mu.Lock()
	r.counts[what+" "+string(outcome)]++
	r.counts["ops"]++
	r.mu.Unlock()
}

// anomaly records a violated guarantee, at once, so that it shows in the
// log next to the faults of the moment.
func (r *recorder) anomaly(kind, format string, args ...any) {
	a := anomaly{Kind: kind, Detail: fmt.Sprintf(format, args...), At: r.now()}
	r.mu.Lock()
	r.anomalies = append(r.anomalies, a)
	r.mu.Unlock()
	r.write("anomaly", a)
	r.logf("ANOMALY %s at %.3fs: %s", kind, float64(a.At)/1e9, a.Detail)
}

// addReg keeps a finished register operation.
func (r *recorder) addReg(op *regOp) {
	r.mu.Lock()
	r.regs = append(r.regs, op)
	r.mu.Unlock()
	r.write("register", op)
	r.count(op.Kind, op.Outcome)
}

func (r *recorder) addSeq(op *seqOp) {
	r.mu.Lock()
	r.seqs = append(r.seqs, op)
	r.mu.Unlock()
	r.write("sequential", op)
	r.count("create-sequential", op.Outcome)
}

func (r *recorder) addSession(s *ephSession) {
	r.mu.Lock()
	r.sessions = append(r.sessions, s)
	r.mu.Unlock()
	r.write("session", s)
}

func (r *recorder) addMountWrite(w *mountWrite) {
	r.mu.Lock()
	r.mountOps = append(r.mountOps, w)
	r.mu.Unlock()
	r.write("mount-write", w)
	r.count("mount-"+w.Kind, w.Outcome)
}

func (r *recorder) addMoved(c *movedCycle) {
	r.mu.Lock()
	r.moved = append(r.moved, c)
	r.mu.Unlock()
	r.write("moved", c)
	r.count("move-session", OK)
}

// countMoved counts one move, or one SessionMoved answer.
func (r *recorder) countMoved(move, answer bool) {
	r.mu.Lock()
	if move {
		r.moves++
	}
	if answer {
		r.movedAnswers++
	}
	r.mu.Unlock()
}

func (r *recorder) addFault(f *faultRecord) {
	r.mu.Lock()
	r.faults = append(r.faults, f)
	r.mu.Unlock()
	r.write("fault", f)
}

// anomalyCount returns the number of anomalies so far.
func (r *recorder) anomalyCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.anomalies)
}

// close flushes the history file.
func (r *recorder) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.w.Flush(); err != nil {
		r.file.Close()
		return err
	}
	return r.file.Close()
}

// faultSummary counts the injected faults by kind, as "kind×n" in a
// stable order.
func (r *recorder) faultSummary() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	by := map[string]int{}
	for _, f := range r.faults {
		by[f.Kind]++
	}
	return len(r.faults), joinCounts(by)
}

func joinCounts(by map[string]int) string {
	keys := make([]string, 0, len(by))
	for k := range by {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, by[k]))
	}
	return strings.Join(parts, " ")
}
