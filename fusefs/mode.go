package fusefs

import (
	"fmt"
	"sync"
	"time"

	"zkfs/tree"
)

// A replica cut off from the quorum keeps serving reads (read-only mode),
// so a config consumer on that host keeps reading the last state it knows,
// which may be stale. The mount says so in two places: user.zk.mode
// (xattrs.go) shows the replica's mode, and every @watch reader gets a
// state line when the replica goes read-only and when it is back, in the
// words of ZooKeeper's client states:
//
//	0x1f3 ConnectedReadOnly /app
//	0x1f3 SyncConnected /app
//
// The zxid is the last change the replica has applied: what the reader's
// view is as of. A reader that opens @watch while the replica is read-only
// gets the ConnectedReadOnly line first, as a ZooKeeper client connecting
// to a read-only server learns that at once.

// modePoll is how often the mount looks at the replica's mode. Read-only
// mode begins when a grace period (2 s at least) passes without a leader,
// an instant nothing announces, so the mount looks, as the client port's
// sweep does.
const modePoll = 100 * time.Millisecond

// The state words of the lines.
const (
	stateReadOnly  = "ConnectedReadOnly"
	stateConnected = "SyncConnected"
)

// modeNotices is the mount's set of open @watch files and the mode they
// were last told of.
type modeNotices struct {
	mu       sync.Mutex
	readOnly bool
	open     map[*watcher]struct{}
}

// followMode tells the mount's @watch readers of every change between
// read-only and read-write.
func (m *Mount) followMode() {
	defer m.wg.Done()
	t := time.NewTicker(modePoll)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
		}
		ro := m.rep.ReadOnly()
		m.modes.mu.Lock()
		changed := ro != m.modes.readOnly
		m.modes.readOnly = ro
		var ws []*watcher
		if changed {
			for w := range m.modes.open {
				ws = append(ws, w)
			}
		}
		m.modes.mu.Unlock()
		if !changed {
			continue
		}
		state := stateConnected
		if ro {
			state = stateReadOnly
		}
		zxid := m.lastZxid()
		m.log.Info("the replica's mode changed; telling @watch readers", "read-only", ro, "zxid", fmt.Sprintf("0x%x", zxid))
		for _, w := range ws {
			w.queue(stateLine(zxid, state, w.dir))
		}
	}
}

// watchOpened registers an @watch reader for state lines, and returns the
// line it must read first, if any.
func (m *Mount) watchOpened(w *watcher) []byte {
	m.modes.mu.Lock()
	defer m.modes.mu.Unlock()
	if m.modes.open == nil {
		m.modes.open = map[*watcher]struct{}{}
	}
	m.modes.open[w] = struct{}{}
	if !m.modes.readOnly {
		return nil
	}
	return stateLine(m.lastZxid(), stateReadOnly, w.dir)
}

// watchClosed forgets an @watch reader.
func (m *Mount) watchClosed(w *watcher) {
	m.modes.mu.Lock()
	delete(m.modes.open, w)
	m.modes.mu.Unlock()
}

func (m *Mount) lastZxid() int64 {
	var z int64
	m.rep.Read(func(t *tree.Tree) { z = t.LastZxid() })
	return z
}

func stateLine(zxid int64, state, dir string) []byte {
	return fmt.Appendf(nil, "0x%x %s %s\n", zxid, state, dir)
}
