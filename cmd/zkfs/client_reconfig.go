package main

import (
	"bufio"
	"fmt"
	"os"
	"strings"

	"github.com/go-zookeeper/zk"
	"github.com/spf13/pflag"

	"zkfs/zkclient"
)

var reconfigCommand = &command{
	name:     "reconfig",
	synopsis: "[-s] [-v VERSION] [-add SPECS] [-remove IDS] | [-members SPECS | -file PATH]",
	help: `Change the ensemble's membership, as zkCli.sh's reconfig does.

-add takes comma-separated specs server.N=host:peerPort:electionPort[:participant|:observer][;[clientHost:]clientPort]
(a new server must have been started with --join); -remove takes comma-separated
server ids; -members (or -file, one spec per line, as a dynamic configuration
file) gives the whole new membership. -v makes the change only if the current
configuration has that version (the hex version= line of /zookeeper/config).
On success prints "Committed new configuration:" and the configuration; -s also
prints the stat of /zookeeper/config.

Only a session with ADMIN on /zookeeper/config may reconfigure, which by default
means the superuser (--auth digest:super:PASSWORD with the server's --super-digest).
A standalone server answers "Reconfig is disabled".`,
	minArgs: 0, maxArgs: 0,
	setup: func(fs *pflag.FlagSet) runFunc {
		stat := fs.BoolP("stat", "s", false, "print the stat of /zookeeper/config")
		version := fs.Int64P("version", "v", -1, "expected configuration `version` (-1: any)")
		add := fs.StringArray("add", nil, "comma-separated server `specs` to add (repeatable)")
		remove := fs.StringArray("remove", nil, "comma-separated server `ids` to remove (repeatable)")
		members := fs.String("members", "", "comma-separated server `specs` of the whole new membership")
		file := fs.String("file", "", "dynamic configuration `file` with the whole new membership")
		return func(o *clientOptions, _ []string) error {
			m := *members
			if *file != "" {
				if m != "" {
					return usagef("-members and -file cannot be combined")
				}
				var err error
				if m, err = readMembersFile(*file); err != nil {
					return err
				}
			}
			joining, leaving := strings.Join(*add, ","), strings.Join(*remove, ",")
			if m != "" && (joining != "" || leaving != "") {
				return usagef("-members or -file cannot be combined with -add or -remove")
			}
			if m == "" && joining == "" && leaving == "" {
				return usagef("nothing to change: give -add, -remove, -members or -file")
			}
			return o.withDial(func(c *zkclient.Conn) error {
				data, st, err := c.Reconfig(joining, leaving, m, *version)
				if err != nil {
					return onPath("/zookeeper/config", err)
				}
				out := bufio.NewWriter(os.Stdout)
				defer out.Flush()
				fmt.Fprintf(out, "Committed new configuration:\n%s\n", data)
				if *stat {
					writeStat(out, &zk.Stat{
						Czxid: st.Czxid, Mzxid: st.Mzxid, Ctime: st.Ctime, Mtime: st.Mtime,
						Version: st.Version, Cversion: st.Cversion, Aversion: st.Aversion,
						EphemeralOwner: st.EphemeralOwner, DataLength: st.DataLength,
						NumChildren: st.NumChildren, Pzxid: st.Pzxid,
					})
				}
				return nil
			})
		}
	},
}

// readMembersFile reads a dynamic configuration file: server.N lines,
// blank lines, comments and a version line, which is ignored.
func readMembersFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	var specs []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "version=") {
			continue
		}
		specs = append(specs, line)
	}
	return strings.Join(specs, ","), nil
}

func init() {
	commands[reconfigCommand.name] = reconfigCommand.entry()
}
