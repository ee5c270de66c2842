package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"zkfs/replication"
	"zkfs/tree"
)

// serverOptions are the flags of `zkfs server`.
type serverOptions struct {
	dataDir     string
	maxDataSize int
	snapCount   uint64
	logLevel    string
}

func serverFlags(o *serverOptions) *pflag.FlagSet {
	fs := pflag.NewFlagSet("zkfs server", pflag.ContinueOnError)
	fs.StringVar(&o.dataDir, "data-dir", "data", "directory for the replica's store and snapshots")
	fs.IntVar(&o.maxDataSize, "max-data-size", tree.DefaultMaxDataSize, "largest data a znode may hold, in bytes")
	fs.Uint64Var(&o.snapCount, "snap-count", 100_000, "log entries between snapshots (ZooKeeper's snapCount)")
	fs.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	return fs
}

func runServer(args []string) int {
	var o serverOptions
	fs := serverFlags(&o)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "zkfs server: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "zkfs server: --log-level: %v\n", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if err := serve(log, o); err != nil {
		log.Error("server stopped", "err", err)
		fmt.Fprintf(os.Stderr, "zkfs server: %v\n", err)
		return 1
	}
	return 0
}

func serve(log *slog.Logger, o serverOptions) error {
	if o.maxDataSize <= 0 {
		return fmt.Errorf("--max-data-size must be positive, not %d", o.maxDataSize)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	start := time.Now()
	rep, err := replication.Open(replication.Config{
		DataDir:           o.dataDir,
		Tree:              tree.Config{MaxDataSize: o.maxDataSize},
		SnapshotThreshold: o.snapCount,
		Logger:            log,
	})
	if err != nil {
		return err
	}
	defer func() {
		if err := rep.Close(); err != nil {
			log.Error("closing the replica", "err", err)
		}
		log.Info("stopped")
	}()
	readyCtx, cancel := context.WithTimeout(ctx, time.Minute)
	err = rep.WaitReady(readyCtx)
	cancel()
	if err != nil {
		return err
	}
	log.Info("serving", "data-dir", o.dataDir, "applied", rep.AppliedIndex(), "startup", time.Since(start).Round(time.Millisecond))
	<-ctx.Done()
	log.Info("shutting down")
	return nil
}
