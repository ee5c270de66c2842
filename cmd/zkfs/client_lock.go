package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/recipe"
)

var lockCommand = &command{
	name:     "lock",
	synopsis: "[--shared] [-n] [--timeout D] [--id NAME] PATH -- COMMAND [ARGS...]",
	help: `Take the lock PATH, run COMMAND, and release the lock when it exits.

The lock is kazoo's recipe: an ephemeral sequential contender node under
PATH (created with its parents if missing), waiting for the contender
before it. An exclusive lock behaves as kazoo's WriteLock (it also
excludes kazoo's Lock), --shared as kazoo's ReadLock; flock(2) on
PATH/@data through a zkfs mount takes the same lock. The contender's
data is --id (default HOST:PID), which "zkfs elect --leader" and kazoo's
contenders() show.

If the session is lost while COMMAND runs, the lock can no longer be
trusted: COMMAND gets SIGTERM, then SIGKILL after --grace, and zkfs exits
123.

` + runHelp,
	minArgs: 1, maxArgs: 1,
	takesCommand: true, wrapper: true,
	setup: func(fs *pflag.FlagSet) runFunc {
		var f lockFlags
		fs.BoolVar(&f.shared, "shared", false, "take a shared (read) lock instead of an exclusive one")
		fs.BoolVarP(&f.nonBlocking, "no-wait", "n", false, "exit 124 at once if the lock is held")
		fs.DurationVar(&f.timeout, "timeout", 0, "exit 124 if the lock is not taken within `D` (e.g. 30s; 0: wait forever)")
		f.addCommon(fs)
		return func(o *clientOptions, args []string) error {
			return runLock(o, args[0], f)
		}
	},
}

// lockFlags are the flags of lock and elect.
type lockFlags struct {
	shared, nonBlocking bool
	timeout, grace      time.Duration
	session             time.Duration
	id                  string
}

func (f *lockFlags) addCommon(fs *pflag.FlagSet) {
	fs.StringVar(&f.id, "id", "", "identifier stored in the contender node (default HOST:PID)")
	fs.DurationVar(&f.grace, "grace", defaultGrace, "time between SIGTERM and SIGKILL when the session is lost")
	fs.DurationVar(&f.session, "session-timeout", sessionTimeout, "session timeout: how soon the lock is freed if this process dies")
}

func (f *lockFlags) identifier() string {
	if f.id != "" {
		return f.id
	}
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

func runLock(o *clientOptions, path string, f lockFlags) error {
	if len(o.command) == 0 {
		return usagef("no command: zkfs lock PATH -- COMMAND [ARGS...]")
	}
	return holdAndRun(o, path, f)
}

// holdAndRun takes the lock PATH and runs the command while holding it.
func holdAndRun(o *clientOptions, path string, f lockFlags) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	if f.timeout < 0 || f.grace < 0 || f.session <= 0 {
		return usagef("durations must not be negative")
	}
	o.sessionTimeout = f.session
	c, guard, err := o.connectGuarded()
	if err != nil {
		return err
	}
	// Closing the session deletes the contender at once, in one round
	// trip, however things ended; after a lost session there is nothing
	// left to delete.
	defer c.Close()

	intr, stopIntr := interrupts()
	defer stopIntr()
	var deadline <-chan time.Time
	if f.timeout > 0 {
		t := time.NewTimer(f.timeout)
		defer t.Stop()
		deadline = t.C
	}
	l := &zkLock{c: c, path: path, shared: f.shared, data: []byte(f.identifier())}
	if err := l.acquire(f.nonBlocking, deadline, intr, guard.Lost()); err != nil {
		return err
	}
	stopIntr()
	return superviseCommand(o.command, guard.Lost(), f.grace)
}

// zkLock is one contender of kazoo's lock recipe over go-zookeeper.
type zkLock struct {
	c      *zk.Conn
	path   string
	shared bool
	data   []byte
	prefix string
	node   string // the contender's name, once created
}

// acquire creates the contender and waits until it holds the lock, or
// until nonBlocking finds it held, deadline passes, intr is closed or the
// session is lost. It never polls: it waits for its predecessor's
// deletion.
func (l *zkLock) acquire(nonBlocking bool, deadline <-chan time.Time, intr, lost <-chan struct{}) error {
	if err := ensurePath(l.c, l.path); err != nil {
		return err
	}
	l.prefix = recipe.Prefix(l.shared)
	if err := l.create(); err != nil {
		return err
	}
	for {
		children, _, err := l.c.Children(l.path)
		if err != nil {
			return onPath(l.path, err)
		}
		pred, found := recipe.Predecessor(children, l.node)
		if !found {
			return &exitStatus{code: exitSessionLost, msg: "session lost while waiting for " + l.path}
		}
		if pred == "" {
			return nil
		}
		if nonBlocking {
			return &exitStatus{code: exitNotAcquired, msg: fmt.Sprintf("%s is held by %s (-n)", l.path, l.holderID(pred))}
		}
		exists, _, ch, err := l.c.ExistsW(l.path + "/" + pred)
		if err != nil {
			return onPath(l.path+"/"+pred, err)
		}
		if !exists {
			continue
		}
		select {
		case <-ch:
		case <-deadline:
			return &exitStatus{code: exitNotAcquired, msg: fmt.Sprintf("%s not taken within --timeout", l.path)}
		case <-intr:
			return &exitStatus{code: exitFailed, msg: "interrupted while waiting for " + l.path}
		case <-lost:
			return &exitStatus{code: exitSessionLost, msg: "session lost while waiting for " + l.path}
		}
	}
}

// holderID names a contender by the identifier in its data.
func (l *zkLock) holderID(name string) string {
	data, _, err := l.c.Get(l.path + "/" + name)
	if err != nil || len(data) == 0 {
		return name
	}
	return fmt.Sprintf("%q", data)
}

// create makes the contender node. A create whose reply was lost may have
// happened: the unique prefix finds it, as kazoo does.
func (l *zkLock) create() error {
	for attempt := 0; ; attempt++ {
		created, err := l.c.Create(l.path+"/"+l.prefix, l.data, zk.FlagEphemeral|zk.FlagSequence, zk.WorldACL(zk.PermAll))
		if err == nil {
			l.node = created[len(l.path)+1:]
			return nil
		}
		if !errors.Is(err, zk.ErrConnectionClosed) || attempt >= 5 {
			return onPath(l.path, err)
		}
		children, _, cerr := l.c.Children(l.path)
		if cerr != nil {
			continue
		}
		for _, ch := range children {
			if strings.HasPrefix(ch, l.prefix) {
				l.node = ch
				return nil
			}
		}
	}
}

// ensurePath creates path and its missing ancestors, as kazoo's
// ensure_path does.
func ensurePath(c *zk.Conn, path string) error {
	if ok, _, err := c.Exists(path); err == nil && ok {
		return nil
	}
	for i := 1; i <= len(path); i++ {
		if i < len(path) && path[i] != '/' {
			continue
		}
		p := path[:i]
		if _, err := c.Create(p, nil, 0, zk.WorldACL(zk.PermAll)); err != nil && !errors.Is(err, zk.ErrNodeExists) {
			return onPath(p, err)
		}
	}
	return nil
}

var electCommand = &command{
	name:     "elect",
	synopsis: "[--id NAME] PATH -- COMMAND [ARGS...] | --leader PATH",
	help: `Stand for election at PATH and run COMMAND once elected; resign when it
exits. This is kazoo's Election recipe (a Lock at PATH whose contenders
hold their --id), so zkfs and kazoo contenders elect among themselves.
With --leader, print the current leader's id and exit (1, with a line on
standard error, if there is none).

If the session is lost while COMMAND runs, the leadership can no longer be
trusted: COMMAND gets SIGTERM, then SIGKILL after --grace, and zkfs exits
123.

` + runHelp,
	minArgs: 1, maxArgs: 1,
	takesCommand: true,
	setup: func(fs *pflag.FlagSet) runFunc {
		var f lockFlags
		leader := fs.Bool("leader", false, "print the current leader's id instead of standing")
		f.addCommon(fs)
		return func(o *clientOptions, args []string) error {
			if *leader {
				if o.command != nil {
					return usagef("--leader takes no command")
				}
				return printLeader(o, args[0])
			}
			if len(o.command) == 0 {
				return &exitStatus{code: exitFailed, msg: "no command: zkfs elect PATH -- COMMAND [ARGS...]"}
			}
			return holdAndRun(o, args[0], f)
		}
	},
}

// printLeader prints the data of the first exclusive contender, which is
// what kazoo's Election.contenders()[0] is.
func printLeader(o *clientOptions, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		for {
			children, _, err := c.Children(path)
			if errors.Is(err, zk.ErrNoNode) {
				return &messageError{msg: "zkfs elect: no leader at " + path}
			}
			if err != nil {
				return onPath(path, err)
			}
			leader := ""
			for _, ct := range recipe.Contenders(children) {
				if !ct.Shared {
					leader = ct.Name
					break
				}
			}
			if leader == "" {
				return &messageError{msg: "zkfs elect: no leader at " + path}
			}
			data, _, err := c.Get(path + "/" + leader)
			if errors.Is(err, zk.ErrNoNode) {
				continue // the leader just resigned: look again
			}
			if err != nil {
				return onPath(path+"/"+leader, err)
			}
			fmt.Println(string(data))
			return nil
		}
	})
}
