package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/tree"
	"zkfs/zkclient"
)

const watchHelp = `

With -w, zkfs then waits for the watch to fire and prints the event as
zkCli.sh's watcher does (a blank line, "WATCHER::", a blank line and a
"WatchedEvent" line) before exiting; zkCli.sh exits before any event can
arrive.`

// noFlags is the setup of subcommands that have only the shared flags.
func noFlags(run runFunc) func(*pflag.FlagSet) runFunc {
	return func(*pflag.FlagSet) runFunc { return run }
}

var lsCommand = &command{
	name:     "ls",
	synopsis: "[-s] [-R] [-w] PATH",
	help: `Print the children of PATH as a sorted list, "[a, b]". -s adds the stat
of PATH. -R prints instead PATH and every node below it, one per line,
breadth first; with -R -w, every listed node is watched.` + watchHelp,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the stat of PATH too")
		recursive := fs.BoolP("recursive", "R", false, "list the whole subtree, one path per line")
		watch := fs.BoolP("watch", "w", false, "wait for the children of PATH to change")
		return func(o *clientOptions, args []string) error {
			return runLs(o, args[0], *stat, *recursive, *watch)
		}
	},
}

func runLs(o *clientOptions, path string, withStat, recursive, watch bool) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		if recursive {
			paths, watches, err := listTree(c, path, watch)
			if err != nil {
				return err
			}
			for _, p := range paths {
				fmt.Fprintln(out, p)
			}
			if watch {
				return awaitWatch(out, watches...)
			}
			return nil
		}
		var (
			children []string
			stat     *zk.Stat
			ch       <-chan zk.Event
			err      error
		)
		if watch {
			children, stat, ch, err = c.ChildrenW(path)
		} else {
			children, stat, err = c.Children(path)
		}
		if err != nil {
			return onPath(path, err)
		}
		sort.Strings(children)
		writeList(out, children)
		if withStat {
			writeStat(out, stat)
		}
		if watch {
			return awaitWatch(out, ch)
		}
		return nil
	})
}

// listTree returns root and every node below it, breadth first with the
// children of each node sorted, as zkCli.sh's ls -R prints them. Nodes that
// vanish during the walk are left out; only a missing root is an error.
func listTree(c *zk.Conn, root string, watch bool) ([]string, []<-chan zk.Event, error) {
	var watches []<-chan zk.Event
	paths := []string{root}
	for i := 0; i < len(paths); i++ {
		p := paths[i]
		var (
			children []string
			ch       <-chan zk.Event
			err      error
		)
		if watch {
			children, _, ch, err = c.ChildrenW(p)
		} else {
			children, _, err = c.Children(p)
		}
		if errors.Is(err, zk.ErrNoNode) && i > 0 {
			continue
		}
		if err != nil {
			return nil, nil, onPath(p, err)
		}
		if ch != nil {
			watches = append(watches, ch)
		}
		sort.Strings(children)
		for _, name := range children {
			paths = append(paths, tree.Join(p, name))
		}
	}
	return paths, watches, nil
}

var getCommand = &command{
	name:     "get",
	synopsis: "[-s] [-w] PATH",
	help: `Print the data of PATH byte for byte, then a newline ("null" for a node
created without data). -s adds the stat.` + watchHelp,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the stat too")
		watch := fs.BoolP("watch", "w", false, "wait for the data to change")
		return func(o *clientOptions, args []string) error {
			return runGet(o, args[0], *stat, *watch)
		}
	},
}

func runGet(o *clientOptions, path string, withStat, watch bool) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		var (
			data []byte
			stat *zk.Stat
			ch   <-chan zk.Event
			err  error
		)
		if watch {
			data, stat, ch, err = c.GetW(path)
		} else {
			data, stat, err = c.Get(path)
		}
		if err != nil {
			return onPath(path, err)
		}
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		if data == nil {
			out.WriteString("null")
		} else {
			out.Write(data)
		}
		out.WriteByte('\n')
		if withStat {
			writeStat(out, stat)
		}
		if watch {
			return awaitWatch(out, ch)
		}
		return nil
	})
}

var statCommand = &command{
	name:     "stat",
	synopsis: "[-w] PATH",
	help:     `Print the stat of PATH.` + watchHelp,
	minArgs:  1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		watch := fs.BoolP("watch", "w", false, "wait for the node to change")
		return func(o *clientOptions, args []string) error {
			return runStat(o, args[0], *watch)
		}
	},
}

func runStat(o *clientOptions, path string, watch bool) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		var (
			ok   bool
			stat *zk.Stat
			ch   <-chan zk.Event
			err  error
		)
		ok, stat, err = c.Exists(path)
		if watch && err == nil && ok {
			// The watch is set only on a node that exists: this command
			// ends at once on a missing node, and a watch left registered
			// in go-zookeeper at Close makes it set the watch again on a
			// last reconnection, whose goroutines race (v1.0.4).
			ok, stat, ch, err = c.ExistsW(path)
		}
		if err == nil && !ok {
			err = zk.ErrNoNode
		}
		if err != nil {
			return onPath(path, err)
		}
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		writeStat(out, stat)
		if watch {
			return awaitWatch(out, ch)
		}
		return nil
	})
}

var getACLCommand = &command{
	name:     "getAcl",
	synopsis: "[-s] PATH",
	help: `Print the ACL of PATH, two lines per entry ("'world,'anyone" then
": cdrwa"). -s adds the stat.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the stat too")
		return func(o *clientOptions, args []string) error {
			return runGetACL(o, args[0], *stat)
		}
	},
}

func runGetACL(o *clientOptions, path string, withStat bool) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		acl, stat, err := c.GetACL(path)
		if err != nil {
			return onPath(path, err)
		}
		out := bufio.NewWriter(os.Stdout)
		defer out.Flush()
		writeACL(out, acl)
		if withStat {
			writeStat(out, stat)
		}
		return nil
	})
}

var getEphemeralsCommand = &command{
	name:     "getEphemerals",
	synopsis: "[PATH]",
	help: `Print, as a list, the ephemeral nodes under PATH (default /) that belong
to this command's own session. As with zkCli.sh run for one command, that
session is new, so the list is normally empty.`,
	minArgs: 0, maxArgs: 1,
	setup: noFlags(func(o *clientOptions, args []string) error {
		path := "/"
		if len(args) > 0 {
			path = args[0]
		}
		return runGetEphemerals(o, path)
	}),
}

func runGetEphemerals(o *clientOptions, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withDial(func(c *zkclient.Conn) error {
		list, err := c.GetEphemerals(path)
		if err != nil {
			return onPath(path, err)
		}
		writeList(os.Stdout, list)
		return nil
	})
}

var getAllChildrenNumberCommand = &command{
	name:     "getAllChildrenNumber",
	synopsis: "PATH",
	help:     `Print how many nodes lie below PATH, at any depth.`,
	minArgs:  1, maxArgs: 1,
	setup: noFlags(func(o *clientOptions, args []string) error {
		return runGetAllChildrenNumber(o, args[0])
	}),
}

func runGetAllChildrenNumber(o *clientOptions, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withDial(func(c *zkclient.Conn) error {
		n, err := c.GetAllChildrenNumber(path)
		if err != nil {
			return onPath(path, err)
		}
		fmt.Println(n)
		return nil
	})
}

var whoamiCommand = &command{
	name:    "whoami",
	help:    `Print the identities the server knows this session by (see --auth).`,
	minArgs: 0, maxArgs: 0,
	setup: noFlags(func(o *clientOptions, _ []string) error {
		return o.withDial(func(c *zkclient.Conn) error {
			ids, err := c.WhoAmI()
			if err != nil {
				return onPath("", err)
			}
			var b strings.Builder
			b.WriteString("Auth scheme: User\n")
			for _, id := range ids {
				fmt.Fprintf(&b, "%s: %s\n", id.AuthScheme, id.User)
			}
			fmt.Print(b.String())
			return nil
		})
	}),
}

var syncCommand = &command{
	name:     "sync",
	synopsis: "PATH",
	help: `Make the server this command is connected to catch up with the leader
for PATH, then print "Sync is OK".`,
	minArgs: 1, maxArgs: 1,
	setup: noFlags(func(o *clientOptions, args []string) error {
		return runSync(o, args[0])
	}),
}

func runSync(o *clientOptions, path string) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		if _, err := c.Sync(path); err != nil {
			if code, ok := zkclient.Code(err); ok {
				return &messageError{msg: fmt.Sprintf("Sync has failed. rc=%d", code)}
			}
			return err
		}
		fmt.Println("Sync is OK")
		return nil
	})
}
