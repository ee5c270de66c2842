// Command zkfs is the zkfs server and its command-line client.
package main

import (
	"fmt"
	"os"
)

// commands maps each subcommand to its entry point, which gets the
// arguments after the subcommand's name and returns the exit status.
var commands = map[string]func(args []string) int{
	"server":  runServer,
	"umount":  runUmount,
	"version": runVersion,
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		if os.Args[1] == "help" || os.Args[1] == "-h" || os.Args[1] == "--help" {
			usage()
			os.Exit(0)
		}
		fmt.Fprintf(os.Stderr, "zkfs: unknown command %q\n", os.Args[1])
		usage()
		os.Exit(2)
	}
	os.Exit(cmd(os.Args[2:]))
}

func usage() {
	fmt.Fprint(os.Stderr, `usage: zkfs COMMAND [ARGS]

commands:
  server     run a replica
  version    print the version
  umount     unmount a zkfs mount; --force aborts its FUSE connection first,
             for a mount whose server is wedged or stopped
  import     import zookeeper: copy a ZooKeeper data directory into a new
             zkfs one, or a live ZooKeeper into zkfs ("zkfs import zookeeper --help")
  export     export zookeeper: copy zkfs into a live ZooKeeper
  snapshot   save, check and restore backups ("zkfs snapshot --help")
  completion print the bash or zsh completion script ("zkfs completion bash")
  ls, get, stat, getAcl, getEphemerals, getAllChildrenNumber, whoami, sync,
  create, set, delete, deleteall, setAcl, watch, reconfig
             zkCli.sh's commands, with its output ("zkfs ls --help");
             -server defaults to $ZKFS_SERVER, else 127.0.0.1:2181
  lock, elect
             run a command under a lock, or while elected leader
             ("zkfs create -e PATH DATA -- COMMAND" registers a node for as
             long as a command runs; "zkfs watch PATH -- COMMAND" runs one
             at each change)
`)
}
