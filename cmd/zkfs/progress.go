package main

import (
	"fmt"
	"os"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// progress shows a long operation's running figures on standard error,
// overwriting one line, when standard error is a terminal; otherwise it
// prints nothing, so that logs and pipes stay clean.
type progress struct {
	verb  string
	on    bool
	start time.Time

	mu    sync.Mutex
	last  time.Time
	shown bool
}

func newProgress(verb string) *progress {
	_, err := unix.IoctlGetTermios(int(os.Stderr.Fd()), unix.TCGETS)
	return &progress{verb: verb, on: err == nil, start: time.Now()}
}

// update shows bytes and znodes so far with their rates, at most five
// times a second.
func (p *progress) update(bytes int64, znodes uint64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = now
	secs := max(now.Sub(p.start).Seconds(), 1e-3)
	fmt.Fprintf(os.Stderr, "\r%s: %s, %d znodes (%s/s, %.0f znodes/s)\033[K",
		p.verb, byteSize(float64(bytes)), znodes, byteSize(float64(bytes)/secs), float64(znodes)/secs)
	p.shown = true
}

// done clears the progress line.
func (p *progress) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		fmt.Fprint(os.Stderr, "\r\033[K")
		p.shown = false
	}
}

// byteSize renders a byte count with a binary unit.
func byteSize(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for n >= 1024 && i < len(units)-1 {
		n /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", n, units[i])
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
