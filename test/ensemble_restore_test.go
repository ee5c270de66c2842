package test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// TestRestoreFiresOnlyRealChanges is the regression test of a bug the
// chaos harness found: a follower that caught up by installing a snapshot
// fired every watch it held, so a client was told that a node it watched
// had changed when it had not. Its watchers must get the events that the
// snapshot's writes imply, and no others.
func TestRestoreFiresOnlyRealChanges(t *testing.T) {
	const snapCount = 50
	e := newTestEnsemble(t, 3, 0, "--snap-count", fmt.Sprint(snapCount), "--trailing-logs", "10")
	leader := e.leader()
	follower := e.members[0]
	if follower == leader {
		follower = e.members[1]
	}
	lc := connect(t, leader.Addr(), 30*time.Second)
	fc := connect(t, follower.Addr(), 30*time.Second)
	for _, p := range []string{"/quiet-filler", "/quiet", "/busy", "/gone", "/calm", "/calm/c", "/moving", "/moving/k"} {
		if _, err := lc.Create(p, []byte("0"), 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := fc.Sync("/gone"); err != nil {
		t.Fatal(err)
	}
	_, _, quiet, err := fc.GetW("/quiet")
	if err != nil {
		t.Fatal(err)
	}
	_, _, busy, err := fc.GetW("/busy")
	if err != nil {
		t.Fatal(err)
	}
	_, _, gone, err := fc.ExistsW("/gone")
	if err != nil {
		t.Fatal(err)
	}
	_, _, born, err := fc.ExistsW("/born")
	if err != nil {
		t.Fatal(err)
	}
	// A node created after the restore: its event, on the same connection,
	// comes after anything the restore fired.
	_, _, marker, err := fc.ExistsW("/marker")
	if err != nil {
		t.Fatal(err)
	}

	// Readers of @watch on the follower's mount, likewise.
	calmW := openWatch(t, filepath.Join(follower.Mnt, "calm", "@watch"))
	movingW := openWatch(t, filepath.Join(follower.Mnt, "moving", "@watch"))

	// The follower sleeps through enough writes for the leader to snapshot
	// and compact its log past it.
	if err := follower.Pause(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			if err := follower.Resume(); err != nil {
				t.Error(err)
			}
		}
	}
	defer resume()
	for i := 0; i < 200; i++ {
		if _, err := lc.Set("/busy", []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := lc.Set("/moving/k", []byte("1"), -1); err != nil {
		t.Fatal(err)
	}
	if err := lc.Delete("/gone", -1); err != nil {
		t.Fatal(err)
	}
	if _, err := lc.Create("/born", nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatal(err)
	}
	// The leader must have snapshotted past the follower and compacted its
	// log. raft compacts right after a snapshot completes, in the same
	// goroutine, so a second snapshot proves the first one's compaction
	// is done; the writes that trigger it touch no watched node.
	_, bornStat, err := lc.Exists("/born")
	if err != nil {
		t.Fatal(err)
	}
	first := waitForSnapshot(t, leader.Server, uint64(bornStat.Czxid)-uint64(snapCount))
	for i := 0; i < snapCount+5; i++ {
		if _, err := lc.Set("/quiet-filler", []byte(fmt.Sprint(i)), -1); err != nil {
			t.Fatal(err)
		}
	}
	waitForSnapshot(t, leader.Server, first+1)
	resume()

	eventually(t, 20*time.Second, "the follower installing a snapshot", func() error {
		if !strings.Contains(follower.LogTail(1<<20), "restored the tree from a snapshot") {
			return fmt.Errorf("no restore in its log")
		}
		return nil
	})
	for _, w := range []struct {
		ch   <-chan zk.Event
		path string
		typ  zk.EventType
	}{
		{busy, "/busy", zk.EventNodeDataChanged},
		{gone, "/gone", zk.EventNodeDeleted},
		{born, "/born", zk.EventNodeCreated},
	} {
		select {
		case ev := <-w.ch:
			if ev.Type != w.typ || ev.Path != w.path {
				t.Errorf("watch on %s: got %v on %s, want %v", w.path, ev.Type, ev.Path, w.typ)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("watch on %s: no event after the restore", w.path)
		}
	}
	if typ, path := watchLine(t, movingW.next(t, 10*time.Second)); typ != "NodeDataChanged" || path != "/moving/k" {
		t.Errorf("@watch of /moving after the restore: %s %s, want NodeDataChanged /moving/k", typ, path)
	}
	// The unchanged nodes fired nothing: the changes made after the restore
	// are the first their watchers hear of.
	for _, p := range []string{"/marker", "/calm/marker"} {
		if _, err := lc.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil {
			t.Fatal(err)
		}
	}
	if typ, path := watchLine(t, calmW.next(t, 10*time.Second)); typ != "NodeCreated" || path != "/calm/marker" {
		t.Errorf("@watch of the unchanged /calm after the restore: %s %s, want NodeCreated /calm/marker first", typ, path)
	}
	select {
	case <-marker:
	case <-time.After(10 * time.Second):
		t.Fatal("no event for /marker, created after the restore")
	}
	select {
	case ev := <-quiet:
		data, st, err := fc.Get("/quiet")
		t.Errorf("watch on the unchanged /quiet fired %v; it reads %q at version %d (%v)", ev.Type, data, st.Version, err)
	default:
	}
}
