package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/tree"
	"zkfs/wire"
	"zkfs/zkclient"
)

// awaitWatch flushes what the command printed, waits for the first of the
// one-shot watches to fire and prints it as zkCli.sh's default watcher does.
func awaitWatch(out *bufio.Writer, watches ...<-chan zk.Event) error {
	if err := out.Flush(); err != nil {
		return err
	}
	if len(watches) == 0 {
		return nil
	}
	first := make(chan zk.Event, len(watches))
	for _, ch := range watches {
		go func() {
			if ev, ok := <-ch; ok {
				first <- ev
			}
		}()
	}
	ev := <-first
	if ev.Type == zk.EventNotWatching {
		return &messageError{msg: fmt.Sprintf("zkfs: watch lost: %v", ev.Err)}
	}
	fmt.Fprintf(out, "\nWATCHER::\n\nWatchedEvent state:SyncConnected type:%s path:%s\n", wire.EventType(ev.Type), ev.Path)
	return nil
}

// watchCommand is `zkfs watch [-m] [-r] PATH...`, which prints one line per
// watch event, for scripts, in the spirit of inotifywait:
//
//	ZXID TYPE PATH
//
// separated by single spaces. ZXID is "0x" and the lower-case hex zxid of the
// change, TYPE is ZooKeeper's event type name (NodeCreated, NodeDeleted,
// NodeDataChanged, NodeChildrenChanged) and PATH is the node's full path,
// which may itself contain spaces, so it is everything after the second
// space. ZooKeeper 3.8 does not send an event's zxid; zkfs then stats the
// node right after the event and reports the node's czxid (NodeCreated),
// mzxid (NodeDataChanged) or pzxid (NodeChildrenChanged), or, when the node
// is gone (NodeDeleted), the zxid the server had reached: never earlier than
// the change itself, and exact when nothing changed in between. This line
// format is stable.
var watchCommand = &command{
	name:     "watch",
	synopsis: "[-m] [-r] PATH...",
	help: `Watch PATHs with persistent watches and print one line per event:

    ZXID TYPE PATH

ZXID is the change's zxid in hex ("0x1a"), TYPE is ZooKeeper's event type
(NodeCreated, NodeDeleted, NodeDataChanged, NodeChildrenChanged) and PATH is
the node's full path (everything after the second space). Where the server
does not send the event's zxid (ZooKeeper 3.8 does not), zkfs takes it from
a stat made right after the event: the node's czxid, mzxid or pzxid, or the
server's latest zxid once the node is deleted; it is then never earlier
than the change, and exact unless the node changed again meanwhile. This
format is stable; scripts may rely on it.

Without -r, each PATH's own changes and changes to its list of children are
reported (addWatch mode PERSISTENT); with -r, every node below PATH too
(PERSISTENT_RECURSIVE, which reports no NodeChildrenChanged). A PATH need
not exist yet. "Watches set." goes to standard error once the watches are
in place. Without -m, zkfs exits 0 after the first event (1 if interrupted
before one); with -m it runs until SIGINT or SIGTERM and then exits 0.
Changes made while the connection to the servers is lost and re-established
are not reported.

With "-- COMMAND [ARGS...]", zkfs prints no events: it runs COMMAND once
the watches are set, and again after each change, never two at once;
changes that arrive while COMMAND runs lead to one more run after it, and
so does a reconnection, since changes made while the connection was down
sent no events. A failing COMMAND is reported on standard error and run
again at the next change. SIGINT, SIGTERM or SIGHUP is passed on to a running COMMAND; zkfs
then exits 0 once it has ended. zkfs exits 125 if the session expires, 126
or 127 if COMMAND cannot be run.`,
	minArgs: 1, maxArgs: 1 << 20,
	takesCommand: true,
	setup: func(fs *pflag.FlagSet) runFunc {
		monitor := fs.BoolP("monitor", "m", false, "keep printing events until interrupted")
		recursive := fs.BoolP("recursive", "r", false, "watch the whole subtree below each PATH")
		return func(o *clientOptions, args []string) error {
			return runWatch(o, args, *monitor, *recursive)
		}
	},
}

func runWatch(o *clientOptions, paths []string, monitor, recursive bool) error {
	for _, p := range paths {
		if err := validatePath(p, false); err != nil {
			return err
		}
	}
	mode := wire.AddWatchPersistent
	if recursive {
		mode = wire.AddWatchPersistentRecursive
	}
	if o.command != nil {
		if monitor {
			return usagef("-m and a command exclude each other: with a command, zkfs watch runs until interrupted")
		}
		return watchAndRun(o, paths, mode)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(stop)

	return o.withDial(func(c *zkclient.Conn) error {
		for _, p := range paths {
			if err := c.AddWatch(p, mode); err != nil {
				return onPath(p, err)
			}
		}
		fmt.Fprintln(os.Stderr, "Watches set.")
		for {
			select {
			case <-stop:
				if monitor {
					return nil
				}
				return &messageError{msg: "zkfs: interrupted before any event"}
			case ev, ok := <-c.Events():
				if !ok {
					err := c.Err()
					if code, _ := zkclient.Code(err); code == tree.CodeSessionExpired {
						return &messageError{msg: "zkfs: session expired"}
					}
					return &messageError{msg: fmt.Sprintf("zkfs: %v", err)}
				}
				zxid := eventZxid(c, ev)
				if _, err := fmt.Fprintf(os.Stdout, "0x%x %s %s\n", uint64(zxid), ev.Type, ev.Path); err != nil {
					return err // the reader went away; nothing left to do
				}
				if !monitor {
					return nil
				}
			}
		}
	})
}

// eventZxid returns the event's zxid, from the notification when the server
// sent it, otherwise from a stat of the node (see watchCommand). While the
// connection is being re-established the stat is retried; 0 means the zxid
// could not be learnt.
func eventZxid(c *zkclient.Conn, ev zkclient.Event) int64 {
	if ev.Zxid > 0 {
		return ev.Zxid
	}
	deadline := time.Now().Add(sessionTimeout)
	for {
		stat, zxid, err := c.Exists(ev.Path)
		if err == nil {
			switch {
			case stat == nil || ev.Type == wire.EventNodeDeleted:
				return zxid
			case ev.Type == wire.EventNodeCreated:
				return stat.Czxid
			case ev.Type == wire.EventNodeChildrenChanged:
				return stat.Pzxid
			default:
				return stat.Mzxid
			}
		}
		code, _ := zkclient.Code(err)
		if code != tree.CodeConnectionLoss || errors.Is(err, zkclient.ErrClosed) || time.Now().After(deadline) {
			return 0
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// watchAndRun runs the command at start and after changes, one run at a
// time, coalescing the changes that arrive during a run into one more run.
func watchAndRun(o *clientOptions, paths []string, mode wire.AddWatchMode) error {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)
	return o.withDial(func(c *zkclient.Conn) error {
		for _, p := range paths {
			if err := c.AddWatch(p, mode); err != nil {
				return onPath(p, err)
			}
		}
		fmt.Fprintln(os.Stderr, "Watches set.")
		var (
			cmd      *exec.Cmd
			done     chan struct{}
			pending  = true // the run at start
			stopping bool
			lostErr  error
		)
		for {
			if cmd == nil {
				if stopping {
					return nil
				}
				if lostErr != nil {
					return lostErr
				}
				if pending {
					pending = false
					var err error
					if cmd, err = startCommand(o.command); err != nil {
						return err
					}
					done = make(chan struct{})
					go func(cmd *exec.Cmd, done chan struct{}) { cmd.Wait(); close(done) }(cmd, done)
				}
			}
			events := c.Events()
			if lostErr != nil {
				events = nil
			}
			select {
			case s := <-sigs:
				stopping = true
				if cmd != nil {
					cmd.Process.Signal(s)
				}
			case <-done:
				if st := commandStatus(cmd.ProcessState); st != 0 && !stopping {
					fmt.Fprintf(os.Stderr, "zkfs watch: %s exited with status %d\n", o.command[0], st)
				}
				cmd, done = nil, nil
			case <-c.Reconnects():
				// Changes made while the connection was down sent no
				// events: one more run sees them.
				pending = true
			case _, ok := <-events:
				if !ok {
					lostErr = &exitStatus{code: exitFailed, msg: "session expired"}
					if code, _ := zkclient.Code(c.Err()); code != tree.CodeSessionExpired {
						lostErr = &exitStatus{code: exitFailed, msg: fmt.Sprint(c.Err())}
					}
					continue
				}
				pending = true
			}
		}
	})
}
