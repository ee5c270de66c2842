package replication

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// slogWriter forwards hclog's lines to slog, so the replica has one log.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.log.Warn(strings.TrimSpace(string(p)), "component", "raft")
	return len(p), nil
}

// pebbleLogger routes Pebble's messages to slog. Pebble reports routine
// work (WAL replay, compactions) at Info; keep those at Debug so that a
// replica's log shows what an operator needs.
type pebbleLogger struct{ log *slog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf is Pebble's report of a state it cannot continue from; like
// Pebble's own default, it stops the process.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "component", "pebble")
	os.Exit(70)
}
