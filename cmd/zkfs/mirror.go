package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-zookeeper/zk"

	"zkfs/tree"
	"zkfs/wire"
	"zkfs/zkclient"
)

// mirror copies the persistent nodes of a subtree from one ZooKeeper
// ensemble (zkfs or Apache ZooKeeper) to another through the client
// protocol, and can keep the copy in step. What the protocol cannot
// carry, it cannot keep: the copy gets its own zxids, times and versions;
// containers and TTL nodes, whose kind a client's stat does not show,
// become persistent nodes; ephemeral nodes belong to sessions of the
// source and are left out. Data and ACLs are copied, and each parent's
// count of child creates is brought up to the source's, so that the next
// sequential child gets the number it would have had.
type mirror struct {
	// src is read, dst written. While following, src is the session
	// that holds the watch (follow sets it).
	src  source
	dst  *zk.Conn
	root string
	// resync, when positive, runs a full pass this often while following.
	resync time.Duration
	// progress, when set, receives a line per pass.
	progress func(string)

	stats mirrorStats
}

// source is what a pass reads: a go-zookeeper session, or while following,
// the zkclient session that holds the persistent watch (watchSource), so
// that the source serves one session per invocation.
type source interface {
	Get(p string) ([]byte, *zk.Stat, error)
	GetACL(p string) ([]zk.ACL, *zk.Stat, error)
	Children(p string) ([]string, *zk.Stat, error)
	Exists(p string) (bool, *zk.Stat, error)
}

// watchSource reads through a zkclient session in go-zookeeper's types.
type watchSource struct{ c *zkclient.Conn }

func zkStat(st *wire.Stat) *zk.Stat {
	if st == nil {
		return nil
	}
	s := zk.Stat(*st)
	return &s
}

func (s watchSource) Get(p string) ([]byte, *zk.Stat, error) {
	data, st, err := s.c.Get(p)
	return data, zkStat(st), err
}

func (s watchSource) GetACL(p string) ([]zk.ACL, *zk.Stat, error) {
	acl, st, err := s.c.GetACL(p)
	out := make([]zk.ACL, len(acl))
	for i, a := range acl {
		out[i] = zk.ACL{Perms: a.Perms, Scheme: a.ID.Scheme, ID: a.ID.ID}
	}
	return out, zkStat(st), err
}

func (s watchSource) Children(p string) ([]string, *zk.Stat, error) {
	kids, st, err := s.c.Children(p)
	return kids, zkStat(st), err
}

func (s watchSource) Exists(p string) (bool, *zk.Stat, error) {
	st, _, err := s.c.Exists(p)
	return st != nil, zkStat(st), err
}

// isCode tells whether err, from either client, carries ZooKeeper's code.
func isCode(err error, code int32) bool {
	c, ok := zkclient.Code(err)
	return err != nil && ok && c == code
}

// mirrorStats counts what the passes did; the workers of a pass update it
// at once.
type mirrorStats struct {
	nodes, created, updated, deleted, ephemerals atomic.Int64
}

// mirrorWorkers is how many requests a full pass keeps in flight on each
// side: one at a time, each node costs several round trips and, on the
// writing side, a commit.
const mirrorWorkers = 32

// parallel runs fn on every path with up to mirrorWorkers at once and
// returns the first error.
func parallel(paths []string, fn func(p string) error) error {
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	next := make(chan string)
	for range min(mirrorWorkers, len(paths)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if err := fn(p); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return first
}

// bumpNode is the child a counter bump creates and deletes at once.
const bumpNode = ".zkfs-sequence-bump"

// bumpBatch is how many create-delete pairs one multi carries.
const bumpBatch = 500

// skipped tells whether p is ZooKeeper's own subtree, which each side
// keeps for itself.
func skipped(p string) bool {
	return p == "/zookeeper" || strings.HasPrefix(p, "/zookeeper/")
}

// sync makes the destination subtree equal to the source's: every
// persistent node created or updated, parents first, then counters, then
// what the source no longer has deleted, children first.
func (m *mirror) sync() error {
	var mu sync.Mutex
	var order []string
	have := map[string]bool{}
	// Level by level, so that parents exist before their children are
	// created; the nodes of one level go in parallel.
	for level := []string{m.root}; len(level) > 0; {
		var next []string
		err := parallel(level, func(p string) error {
			if skipped(p) || tree.Name(p) == bumpNode {
				return nil
			}
			kids, ok, err := m.syncNode(p)
			if err != nil || !ok {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			have[p] = true
			order = append(order, p)
			for _, k := range kids {
				next = append(next, tree.Join(p, k))
			}
			return nil
		})
		if err != nil {
			return err
		}
		level = next
	}
	if err := parallel(order, m.syncCounter); err != nil {
		return err
	}
	// Extra nodes in the destination, found level by level and deleted
	// deepest level first.
	var extra [][]string
	for level := []string{m.root}; len(level) > 0; {
		var next, gone []string
		err := parallel(level, func(p string) error {
			if skipped(p) {
				return nil
			}
			kids, _, err := m.dst.Children(p)
			if errors.Is(err, zk.ErrNoNode) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("destination %s: %w", p, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, k := range kids {
				c := tree.Join(p, k)
				if !have[c] && !skipped(c) {
					gone = append(gone, c)
				}
				next = append(next, c)
			}
			return nil
		})
		if err != nil {
			return err
		}
		extra = append(extra, gone)
		level = next
	}
	for i := len(extra) - 1; i >= 0; i-- {
		if err := parallel(extra[i], m.remove); err != nil {
			return err
		}
	}
	m.stats.nodes.Store(int64(len(order)))
	return nil
}

// syncNode makes the destination's node at p match the source's and
// returns the source's children. ok is false when the source has no
// persistent node there (it is then removed from the destination).
func (m *mirror) syncNode(p string) (kids []string, ok bool, err error) {
	data, st, err := m.src.Get(p)
	if isCode(err, tree.CodeNoNode) || (err == nil && st.EphemeralOwner != 0) {
		if err == nil {
			m.stats.ephemerals.Add(1)
		}
		return nil, false, m.remove(p)
	}
	if err != nil {
		return nil, false, fmt.Errorf("source %s: %w", p, err)
	}
	acl, _, err := m.src.GetACL(p)
	if err != nil {
		return nil, false, fmt.Errorf("source %s: %w", p, err)
	}
	if kids, _, err = m.src.Children(p); err != nil && !isCode(err, tree.CodeNoNode) {
		return nil, false, fmt.Errorf("source %s: %w", p, err)
	}
	if err := m.put(p, data, acl); err != nil {
		return nil, false, err
	}
	return kids, true, nil
}

// put creates or updates the destination's node, creating missing
// parents (with an open ACL, as zkCli.sh's create does not) on the way.
func (m *mirror) put(p string, data []byte, acl []zk.ACL) error {
	got, _, err := m.dst.Get(p)
	switch {
	case errors.Is(err, zk.ErrNoNode):
		_, err = m.dst.Create(p, data, 0, acl)
		if errors.Is(err, zk.ErrNoNode) && p != "/" {
			if err = m.put(tree.Parent(p), nil, zk.WorldACL(zk.PermAll)); err == nil {
				_, err = m.dst.Create(p, data, 0, acl)
			}
		}
		if errors.Is(err, zk.ErrNodeExists) {
			return m.put(p, data, acl) // a sibling's worker made it a parent
		}
		if err == nil {
			m.stats.created.Add(1)
		}
		return m.dstErr(p, err)
	case err != nil:
		return m.dstErr(p, err)
	}
	changed := false
	if string(got) != string(data) || (got == nil) != (data == nil) {
		if _, err := m.dst.Set(p, data, -1); err != nil {
			return m.dstErr(p, err)
		}
		changed = true
	}
	cur, _, err := m.dst.GetACL(p)
	if err != nil {
		return m.dstErr(p, err)
	}
	if !sameACL(cur, acl) {
		if _, err := m.dst.SetACL(p, acl, -1); err != nil {
			return m.dstErr(p, err)
		}
		changed = true
	}
	if changed {
		m.stats.updated.Add(1)
	}
	return nil
}

// remove deletes the destination's node at p and everything below it;
// a node that is not there is fine. Ephemeral nodes of the destination's
// own sessions are left alone.
func (m *mirror) remove(p string) error {
	if skipped(p) || p == "/" {
		return nil
	}
	kids, _, err := m.dst.Children(p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err != nil {
		return m.dstErr(p, err)
	}
	for _, k := range kids {
		if err := m.remove(tree.Join(p, k)); err != nil {
			return err
		}
	}
	_, st, err := m.dst.Exists(p)
	if err != nil || st == nil || st.EphemeralOwner != 0 {
		return m.dstErr(p, err)
	}
	err = m.dst.Delete(p, -1)
	if errors.Is(err, zk.ErrNoNode) {
		return nil
	}
	if err == nil {
		m.stats.deleted.Add(1)
	}
	return m.dstErr(p, err)
}

// syncCounter raises the destination's count of child creates at p to the
// source's. A stat shows cversion = 2*creates - children, so creates =
// (cversion + children) / 2 on either side; each create and delete of a
// scratch child adds one, a few hundred pairs to a multi.
//
// While following, the source may be ahead by children whose events are
// still queued: those will be created here when their turn comes, so they
// are not made up for now, or the count would overshoot. Each side's
// children and stat come from one request, so they agree; a child that
// is gone again by the time it is looked at is made up for, since its
// event will create nothing.
func (m *mirror) syncCounter(p string) error {
	skids, ss, err := m.src.Children(p)
	if err != nil {
		return nil // gone: its deletion event follows
	}
	dkids, ds, err := m.dst.Children(p)
	if err != nil {
		return m.dstErr(p, err)
	}
	need := (int(ss.Cversion)+int(ss.NumChildren))/2 - (int(ds.Cversion)+int(ds.NumChildren))/2
	if need <= 0 {
		return nil
	}
	here := make(map[string]bool, len(dkids))
	for _, k := range dkids {
		here[k] = true
	}
	for _, k := range skids {
		if here[k] || k == bumpNode {
			continue
		}
		_, st, err := m.src.Exists(tree.Join(p, k))
		if err == nil && st != nil && st.EphemeralOwner == 0 {
			need-- // still to be copied
		}
	}
	scratch := tree.Join(p, bumpNode)
	for need > 0 {
		n := min(need, bumpBatch)
		ops := make([]any, 0, 2*n)
		for i := 0; i < n; i++ {
			ops = append(ops, &zk.CreateRequest{Path: scratch, Acl: zk.WorldACL(zk.PermAll)}, &zk.DeleteRequest{Path: scratch, Version: -1})
		}
		if _, err := m.dst.Multi(ops...); err != nil {
			return m.dstErr(p, fmt.Errorf("raising the sequence counter: %w", err))
		}
		need -= n
	}
	return nil
}

func (m *mirror) dstErr(p string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, zk.ErrNoAuth) {
		return fmt.Errorf("destination %s: %w: authenticate as a user its ACLs admit (e.g. the superuser)", p, err)
	}
	return fmt.Errorf("destination %s: %w", p, err)
}

func sameACL(a, b []zk.ACL) bool {
	key := func(l []zk.ACL) []string {
		var out []string
		for _, x := range l {
			out = append(out, fmt.Sprintf("%d:%s:%s", x.Perms, x.Scheme, x.ID))
		}
		slices.Sort(out)
		return out
	}
	return slices.Equal(key(a), key(b))
}

// follow keeps the destination in step with the source until ctx ends.
// The persistent recursive watch is set before the first full pass, so no
// change falls between the two; each event then syncs its node and its
// parent's counter. A reconnection (whose missed changes sent no events)
// or a new session runs a full pass again. It needs ZooKeeper 3.6+. The
// passes read through the watch's session, the one session the source
// serves this command.
func (m *mirror) follow(ctx context.Context, dial func() (*zkclient.Conn, error)) error {
	for {
		w, err := dial()
		if err != nil {
			return err
		}
		m.src = watchSource{w}
		err = m.followSession(ctx, w)
		w.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
	}
}

func (m *mirror) followSession(ctx context.Context, w *zkclient.Conn) error {
	if err := w.AddWatch(m.root, wire.AddWatchPersistentRecursive); err != nil {
		if code, ok := zkclient.Code(err); ok && code == tree.CodeUnimplemented {
			return errors.New("--follow needs persistent recursive watches: ZooKeeper 3.6 or later")
		}
		return fmt.Errorf("setting the watch on %s: %w", m.root, err)
	}
	pass := func() error {
		start := time.Now()
		if err := m.sync(); err != nil {
			return err
		}
		if m.progress != nil {
			m.progress(fmt.Sprintf("in step: %d znodes (%d created, %d updated, %d deleted so far) in %s",
				m.stats.nodes.Load(), m.stats.created.Load(), m.stats.updated.Load(), m.stats.deleted.Load(), time.Since(start).Round(time.Millisecond)))
		}
		return nil
	}
	// A lost connection or session (a leader election, a restart) is
	// waited out: the next full pass catches up on whatever was missed.
	// Once the watch's session is over, the next session starts over.
	retry := func(err error) error {
		for transient(err) {
			if w.Err() != nil {
				return nil // Events is closed: the loop below starts over
			}
			if m.progress != nil {
				m.progress(fmt.Sprintf("unavailable (%v); retrying", err))
			}
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Second):
			}
			err = pass()
		}
		return err
	}
	if err := retry(pass()); err != nil {
		return err
	}
	var tick <-chan time.Time
	if m.resync > 0 {
		t := time.NewTicker(m.resync)
		defer t.Stop()
		tick = t.C
	}
	for {
		var err error
		select {
		case <-ctx.Done():
			return nil
		case <-tick:
			err = pass()
		case <-w.Reconnects():
			err = pass()
		case ev, ok := <-w.Events():
			if !ok {
				if m.progress != nil {
					m.progress(fmt.Sprintf("source session ended (%v); starting over", w.Err()))
				}
				return nil
			}
			if skipped(ev.Path) || tree.Name(ev.Path) == bumpNode {
				continue
			}
			if _, _, err = m.syncNode(ev.Path); err == nil && ev.Path != m.root {
				err = m.syncCounter(tree.Parent(ev.Path))
			}
		}
		if err = retry(err); err != nil {
			return err
		}
	}
}

// transient tells whether err, from either client, is a connection's or
// session's loss, which a later attempt can get past.
func transient(err error) bool {
	return errors.Is(err, zk.ErrConnectionClosed) || errors.Is(err, zk.ErrNoServer) ||
		isCode(err, tree.CodeConnectionLoss) || isCode(err, tree.CodeSessionExpired) || isCode(err, tree.CodeSessionMoved)
}
