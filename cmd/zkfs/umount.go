package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"zkfs/fusefs"
)

// runUmount is `zkfs umount [--force] DIR`. A plain umount is the
// kernel's, and fails while the mount is busy; --force first aborts the
// FUSE connection, so that a mount whose server is wedged or stopped goes
// away and every process blocked on it gets ENOTCONN.
func runUmount(args []string) int {
	fs := pflag.NewFlagSet("umount", pflag.ContinueOnError)
	force := fs.BoolP("force", "f", false, "abort the FUSE connection (/sys/fs/fuse/connections/N/abort), then detach the mount")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: zkfs umount [--force] DIR\n\nUnmount a zkfs mount.\n\n%s", fs.FlagUsages())
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	dir := fs.Arg(0)
	var err error
	if *force {
		err = fusefs.AbortConnection(dir)
	} else {
		err = unmount(dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "zkfs umount: %v\n", err)
		return 1
	}
	return 0
}

// unmount unmounts dir as umount(8) or fusermount3 -u would.
func unmount(dir string) error {
	if os.Geteuid() == 0 {
		err := syscall.Unmount(dir, 0)
		if errors.Is(err, syscall.EINVAL) {
			return fmt.Errorf("%s: not a mount point", dir)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", dir, err)
		}
		return nil
	}
	out, err := exec.Command("fusermount3", "-u", dir).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s", strings.TrimSpace(string(out)))
	}
	return nil
}
