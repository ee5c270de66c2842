package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"
)

// maxTTL is the largest TTL ZooKeeper accepts, in milliseconds: the TTL
// shares a 64-bit ephemeralOwner with a marker byte and a counter.
const maxTTL = 1<<40 - 1

const dataHelp = `DATA "-" reads the data from standard input, so files and binary data can
be stored; anything else is stored as given.`

const aclHelp = `ACL is zkCli.sh's syntax: comma-separated scheme:id:perms entries, perms
being letters among c, d, r, w, a (world:anyone:cdrwa, digest:user:hash:rw,
ip:10.0.0.1:r, auth::cdrwa). An unknown letter is an error, where zkCli.sh
warns and drops it.`

var createCommand = &command{
	name:     "create",
	synopsis: "[-s] [-e] [-c] [-t TTL] PATH [DATA] [ACL]",
	help: `Create PATH, with no data (get then prints "null") unless DATA is given,
and with ACL world:anyone:cdrwa unless ACL is given. Prints "Created PATH"
(with the sequence number, for -s) on standard error, as zkCli.sh does.
An ephemeral node (-e) lives as long as this command's session, so it is
gone when the command exits, as with zkCli.sh. -t needs a server with
extended types enabled (ZooKeeper's zookeeper.extendedTypesEnabled).

With -e and "-- COMMAND [ARGS...]", zkfs runs COMMAND and the node exists
exactly as long as it runs: it is deleted when COMMAND exits, and zkfs
exits with COMMAND's status. If the session is lost meanwhile (the node is
then gone), COMMAND gets SIGTERM, then SIGKILL after 5 s, and zkfs exits
123. See "zkfs lock --help" for the other exit statuses.

` + dataHelp + "\n\n" + aclHelp,
	minArgs: 1, maxArgs: 3,
	takesCommand: true,
	setup: func(fs *pflag.FlagSet) runFunc {
		var f createFlags
		fs.BoolVarP(&f.sequential, "sequential", "s", false, "append a sequence number to the name")
		fs.BoolVarP(&f.ephemeral, "ephemeral", "e", false, "ephemeral node, removed when the session ends")
		fs.BoolVarP(&f.container, "container", "c", false, "container node, removed by the server once its last child goes")
		fs.Int64VarP(&f.ttl, "ttl", "t", 0, "`milliseconds` after which the server removes the node if it is unmodified and childless")
		session := fs.Duration("session-timeout", sessionTimeout, "session timeout: how long an ephemeral node outlives a killed zkfs")
		return func(o *clientOptions, args []string) error {
			f.hasTTL = fs.Changed("ttl")
			if *session <= 0 {
				return usagef("--session-timeout must be positive")
			}
			o.sessionTimeout = *session
			return runCreate(o, args, f)
		}
	},
}

type createFlags struct {
	sequential, ephemeral, container, hasTTL bool
	ttl                                      int64
}

func runCreate(o *clientOptions, args []string, f createFlags) error {
	path := args[0]
	if f.container && (f.sequential || f.ephemeral) {
		return usagef("-c cannot be combined with -s or -e. Containers cannot be ephemeral or sequential.")
	}
	if f.hasTTL {
		if f.ephemeral {
			return usagef("TTLs cannot be used with Ephemeral znodes")
		}
		if f.container {
			return usagef("TTLs cannot be used with Container znodes")
		}
		if f.ttl <= 0 || f.ttl > maxTTL {
			return usagef("ttl must be positive and cannot be larger than: %d", int64(maxTTL))
		}
	}
	if err := validatePath(path, f.sequential); err != nil {
		return err
	}
	acl := zk.WorldACL(zk.PermAll)
	if len(args) > 2 {
		var err error
		if acl, err = parseACL(args[2]); err != nil {
			return err
		}
	}
	var data []byte
	if len(args) > 1 {
		var err error
		if data, err = readData(args[1]); err != nil {
			return err
		}
	}
	var flags int32
	if f.ephemeral {
		flags |= zk.FlagEphemeral
	}
	if f.sequential {
		flags |= zk.FlagSequence
	}
	if o.command != nil {
		if !f.ephemeral {
			return usagef("a command needs -e: only an ephemeral node can live as long as it")
		}
		return registerAndRun(o, path, data, flags, acl)
	}
	return o.withConn(func(c *zk.Conn) error {
		var (
			created string
			err     error
		)
		switch {
		case f.container:
			created, err = c.CreateContainer(path, data, zk.FlagContainer, acl)
		case f.hasTTL:
			flag := int32(zk.FlagTTL)
			if f.sequential {
				flag = zk.FlagPersistentSequentialWithTTL
			}
			created, err = c.CreateTTL(path, data, flag, acl, time.Duration(f.ttl)*time.Millisecond)
		default:
			created, err = c.Create(path, data, flags, acl)
		}
		if err != nil {
			return onPath(path, err)
		}
		fmt.Fprintf(os.Stderr, "Created %s\n", created)
		return nil
	})
}

var setCommand = &command{
	name:     "set",
	synopsis: "[-s] [-v VERSION] PATH DATA",
	help: `Replace the data of PATH, if its data version is VERSION when -v is given.
-s prints the new stat.

` + dataHelp,
	minArgs: 2, maxArgs: 2,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the new stat")
		version := fs.Int32P("version", "v", -1, "expected data `version` (-1: any)")
		return func(o *clientOptions, args []string) error {
			return runSet(o, args[0], args[1], *stat, *version)
		}
	},
}

func runSet(o *clientOptions, path, dataArg string, withStat bool, version int32) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	data, err := readData(dataArg)
	if err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		stat, err := c.Set(path, data, version)
		if err != nil {
			return onPath(path, err)
		}
		if withStat {
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			writeStat(out, stat)
		}
		return nil
	})
}

var deleteCommand = &command{
	name:     "delete",
	synopsis: "[-v VERSION] PATH",
	help:     `Delete PATH, which must have no children, if its data version is VERSION when -v is given.`,
	minArgs:  1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		version := fs.Int32P("version", "v", -1, "expected data `version` (-1: any)")
		return func(o *clientOptions, args []string) error {
			return runDelete(o, args[0], *version)
		}
	},
}

func runDelete(o *clientOptions, path string, version int32) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		return onPath(path, c.Delete(path, version))
	})
}

var deleteAllCommand = &command{
	name:     "deleteall",
	synopsis: "[-b BATCH] PATH",
	help: `Delete PATH and every node below it, deepest first, BATCH deletions per
atomic multi request (zkCli.sh accepts -b after PATH too, and so does zkfs).
The whole is not atomic: if a batch fails, its nodes are deleted one by one
so that the error names the node at fault; nodes deleted meanwhile by
someone else are skipped. Unlike zkCli.sh, which says nothing when part of
the tree cannot be deleted, zkfs reports it.`,
	minArgs: 1, maxArgs: 1,
	setup: func(fs *pflag.FlagSet) runFunc {
		batch := fs.IntP("batch", "b", 1000, "deletions per multi request")
		return func(o *clientOptions, args []string) error {
			return runDeleteAll(o, args[0], *batch)
		}
	},
}

func runDeleteAll(o *clientOptions, path string, batch int) error {
	if batch <= 0 {
		return usagef("-b must be positive")
	}
	if err := validatePath(path, false); err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		paths, _, err := listTree(c, path, false)
		if err != nil {
			return err
		}
		for end := len(paths); end > 0; end -= batch {
			start := max(end-batch, 0)
			ops := make([]any, 0, end-start)
			for i := end - 1; i >= start; i-- {
				ops = append(ops, &zk.DeleteRequest{Path: paths[i], Version: -1})
			}
			if _, err := c.Multi(ops...); err == nil {
				continue
			}
			for _, op := range ops {
				p := op.(*zk.DeleteRequest).Path
				err := c.Delete(p, -1)
				if errors.Is(err, zk.ErrNoNode) && p != path {
					continue
				}
				if err != nil {
					return onPath(p, err)
				}
			}
		}
		return nil
	})
}

var setACLCommand = &command{
	name:     "setAcl",
	synopsis: "[-s] [-v VERSION] [-R] PATH ACL",
	help: `Replace the ACL of PATH, if its ACL version is VERSION when -v is given.
-s prints the new stat. -R sets the ACL of every node below PATH too
(passing VERSION to each, as zkCli.sh does), stopping at the first error.

` + aclHelp,
	minArgs: 2, maxArgs: 2,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the new stat (not with -R)")
		version := fs.Int32P("version", "v", -1, "expected ACL `version` (-1: any)")
		recursive := fs.BoolP("recursive", "R", false, "apply to the whole subtree")
		return func(o *clientOptions, args []string) error {
			return runSetACL(o, args[0], args[1], *stat, *version, *recursive)
		}
	},
}

func runSetACL(o *clientOptions, path, aclArg string, withStat bool, version int32, recursive bool) error {
	if err := validatePath(path, false); err != nil {
		return err
	}
	acl, err := parseACL(aclArg)
	if err != nil {
		return err
	}
	return o.withConn(func(c *zk.Conn) error {
		if recursive {
			paths, _, err := listTree(c, path, false)
			if err != nil {
				return err
			}
			for _, p := range paths {
				if _, err := c.SetACL(p, acl, version); err != nil {
					return onPath(p, err)
				}
			}
			return nil
		}
		stat, err := c.SetACL(path, acl, version)
		if err != nil {
			return onPath(path, err)
		}
		if withStat {
			out := bufio.NewWriter(os.Stdout)
			defer out.Flush()
			writeStat(out, stat)
		}
		return nil
	})
}

// registerAndRun creates the ephemeral node and runs the command for as
// long as the node exists.
func registerAndRun(o *clientOptions, path string, data []byte, flags int32, acl []zk.ACL) error {
	c, guard, err := o.connectGuarded()
	if err != nil {
		return err
	}
	defer c.Close() // ends the session: the node goes at once
	created, err := c.Create(path, data, flags, acl)
	if err != nil {
		return onPath(path, err)
	}
	fmt.Fprintf(os.Stderr, "Created %s\n", created)
	return superviseCommand(o.command, guard.Lost(), defaultGrace)
}
