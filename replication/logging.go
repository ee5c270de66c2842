package replication

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"slices"

	"github.com/hashicorp/go-hclog"
)

// newRaftLogger returns the logger hashicorp/raft writes to: hclog in its
// JSON form, whose lines slogWriter turns back into slog records with
// their own level and fields, so that the replica has one log and raft's
// errors stand out from its routine. Raft logs at Info and above unless
// the replica's log shows Debug.
func newRaftLogger(log *slog.Logger) hclog.Logger {
	level := hclog.Info
	if log.Enabled(context.Background(), slog.LevelDebug) {
		level = hclog.Debug
	}
	return hclog.New(&hclog.LoggerOptions{
		Name:        "raft",
		Level:       level,
		Output:      slogWriter{log},
		JSONFormat:  true,
		DisableTime: true,
	})
}

// slogWriter forwards hclog's JSON lines to slog.
type slogWriter struct{ log *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	for _, line := range bytes.Split(bytes.TrimSpace(p), []byte("\n")) {
		if len(line) > 0 {
			w.line(line)
		}
	}
	return len(p), nil
}

func (w slogWriter) line(line []byte) {
	var rec map[string]any
	if err := json.Unmarshal(line, &rec); err != nil {
		w.log.Warn(string(line), "component", "raft")
		return
	}
	msg, _ := rec["@message"].(string)
	args := []any{"component", "raft"}
	keys := make([]string, 0, len(rec))
	for k := range rec {
		if k != "" && k[0] != '@' {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		args = append(args, k, rec[k])
	}
	w.log.Log(context.Background(), hclogLevel(rec["@level"]), msg, args...)
}

// hclogLevel maps hclog's level names to slog's levels.
func hclogLevel(v any) slog.Level {
	switch v {
	case "trace", "debug":
		return slog.LevelDebug
	case "info":
		return slog.LevelInfo
	case "warn":
		return slog.LevelWarn
	}
	return slog.LevelError
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
