package test

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// writeOutcome is one write of a failover writer.
type writeOutcome struct {
	start, end time.Time
	err        error
}

// failoverWriter writes in a loop, through a client port or a mount, and
// records every outcome.
type failoverWriter struct {
	name  string
	write func(i int) error
	stop  chan struct{}
	done  chan struct{}

	mu   sync.Mutex
	outs []writeOutcome
}

func startWriter(name string, write func(i int) error) *failoverWriter {
	w := &failoverWriter{name: name, write: write, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			o := writeOutcome{start: time.Now()}
			o.err = w.write(i)
			o.end = time.Now()
			w.mu.Lock()
			w.outs = append(w.outs, o)
			w.mu.Unlock()
			if o.err != nil {
				time.Sleep(10 * time.Millisecond) // a reconnecting client fails fast
			}
		}
	}()
	return w
}

// succeededSince reports whether a write that started at or after t
// succeeded.
func (w *failoverWriter) succeededSince(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, o := range w.outs {
		if !o.start.Before(t) && o.err == nil {
			return nil
		}
	}
	return fmt.Errorf("%s: no write started since %v has succeeded yet (%d writes)", w.name, t.Format("15:04:05.000"), len(w.outs))
}

func (w *failoverWriter) finish() []writeOutcome {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.outs
}

// TestEnsembleLeaderLossUnderClients stops, then kills, the leader of a
// three-replica ensemble while clients write through every follower, over
// the client port and through the mount. Every write either completes or
// fails the way a lost leader may make it fail (ConnectionLoss for a
// client, EIO for the mount), none hangs, and the first write through each
// survivor after the new leader is elected succeeds at the first try:
// nothing waits for a forwarding sequence the new leader cannot know
// (before the peer stream, that write waited 5 s and failed).
func TestEnsembleLeaderLossUnderClients(t *testing.T) {
	const writeTimeout = 5 * time.Second
	e := newTestEnsemble(t, 3, 0, "--write-timeout", writeTimeout.String())
	admin := connect(t, e.members[0].Addr(), 10*time.Second)
	for _, m := range e.members {
		for _, p := range []string{fmt.Sprintf("/client-%d", m.ID), fmt.Sprintf("/probe-%d", m.ID)} {
			if _, err := admin.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
				t.Fatal(err)
			}
		}
	}

	for _, how := range []string{"stop", "kill"} {
		leader := e.leader()
		var followers []*member
		for _, m := range e.members {
			if m != leader {
				followers = append(followers, m)
			}
		}
		var writers []*failoverWriter
		probes := map[*member]*zk.Conn{}
		for _, m := range followers {
			c := connect(t, m.Addr(), 10*time.Second)
			busy := connect(t, m.Addr(), 10*time.Second)
			probes[m] = c
			path := fmt.Sprintf("/client-%d", m.ID)
			writers = append(writers,
				startWriter(fmt.Sprintf("client on %d", m.ID), func(i int) error {
					_, err := busy.Set(path, []byte(fmt.Sprint(i)), -1)
					return err
				}),
				startWriter(fmt.Sprintf("mount of %d", m.ID), func(i int) error {
					return os.WriteFile(m.Mnt+"/mount-file", []byte(fmt.Sprint(i)), 0o644)
				}))
		}
		start := time.Now()
		for _, w := range writers {
			eventually(t, 20*time.Second, "writes before the "+how, func() error { return w.succeededSince(start) })
		}

		kill := time.Now()
		var err error
		if how == "stop" {
			err = leader.Stop(20 * time.Second)
		} else {
			err = leader.Kill()
		}
		if err != nil {
			t.Fatalf("%s leader %d: %v", how, leader.ID, err)
		}
		var elected time.Time
		eventually(t, 20*time.Second, "a new leader", func() error {
			for _, m := range followers {
				if mode(m) == "leader" {
					elected = time.Now()
					return nil
				}
			}
			return errors.New("none yet")
		})

		// The first write through each survivor, on a connection and a
		// mount that were idle through the failover.
		for _, m := range followers {
			if _, err := probes[m].Set(fmt.Sprintf("/probe-%d", m.ID), []byte(how), -1); err != nil {
				t.Errorf("%s: first write through server %d's client port after the new leader: %v", how, m.ID, err)
			}
			if err := os.WriteFile(m.Mnt+"/probe", []byte(how), 0o644); err != nil {
				t.Errorf("%s: first write through server %d's mount after the new leader: %v", how, m.ID, err)
			}
		}
		for _, w := range writers {
			eventually(t, 20*time.Second, "writes after the "+how, func() error { return w.succeededSince(elected) })
		}
		var resumed time.Time
		for _, w := range writers {
			outs := w.finish()
			first := time.Time{}
			failed := 0
			for _, o := range outs {
				if o.err == nil && !o.start.Before(kill) && (first.IsZero() || o.end.Before(first)) {
					first = o.end
				}
				if o.err == nil {
					continue
				}
				failed++
				switch {
				// go-zookeeper's ConnectionLoss is ErrConnectionClosed,
				// or ErrNoServer for a request queued while it found no
				// server to take its session (a replica without a leader
				// refuses it, as ZooKeeper's does). EROFS: an election
				// that outlasts the read-only grace (2 s) on a loaded
				// machine puts the survivor in read-only mode, as it
				// would a ZooKeeper server.
				case errors.Is(o.err, zk.ErrConnectionClosed), errors.Is(o.err, zk.ErrNoServer),
					errors.Is(o.err, syscall.EIO), errors.Is(o.err, syscall.EROFS):
				default:
					t.Errorf("%s: %s: a write got %v, want success, ConnectionLoss or EIO", how, w.name, o.err)
				}
				if o.end.Sub(o.start) > writeTimeout+2*time.Second {
					t.Errorf("%s: %s: a write took %v to fail (--write-timeout %v)", how, w.name, o.end.Sub(o.start), writeTimeout)
				}
			}
			if first.After(resumed) {
				resumed = first
			}
			t.Logf("%s: %s: %d writes, %d failed, first success after the %s %v later",
				how, w.name, len(outs), failed, how, first.Sub(kill).Round(time.Millisecond))
		}
		t.Logf("%s: new leader elected %v after the %s; writes resumed on every follower %v after it",
			how, elected.Sub(kill).Round(time.Millisecond), how, resumed.Sub(kill).Round(time.Millisecond))

		if err := leader.Start(60 * time.Second); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, "the restarted member's mount", func() error {
			if !mountAnswers(leader.Mnt) {
				return errors.New("not mounted")
			}
			return nil
		})
	}
}
