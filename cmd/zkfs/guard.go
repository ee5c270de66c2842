package main

import (
	"fmt"
	"log/slog"
	"os"

	"zkfs/fusefs"
)

// mount-guard is not listed in the usage: the server starts it, once per
// mount, to abort the mount's FUSE connection if the server dies with a
// thread stuck on its own mount (fusefs/guard.go).
func init() {
	commands[mountGuardCommand] = runMountGuard
}

// mountGuardCommand is the server's own command; completion leaves it out.
const mountGuardCommand = "mount-guard"

func runMountGuard(args []string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := fusefs.RunGuard(args, log); err != nil {
		fmt.Fprintf(os.Stderr, "zkfs mount-guard: %v\n", err)
		return 1
	}
	return 0
}
