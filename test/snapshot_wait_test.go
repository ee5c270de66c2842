package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// latestSnapshot returns the highest Raft index among the snapshots in a
// replica's data directory, or 0. hashicorp/raft writes each snapshot in
// its own directory and renames it into place once complete, so a
// meta.json found here belongs to a finished snapshot.
func latestSnapshot(p *Server) (uint64, error) {
	metas, err := filepath.Glob(filepath.Join(p.DataDir, "snapshots", "*", "meta.json"))
	if err != nil {
		return 0, err
	}
	var best uint64
	for _, m := range metas {
		b, err := os.ReadFile(m)
		if err != nil {
			continue // reaped between the glob and the read
		}
		var meta struct{ Index uint64 }
		if err := json.Unmarshal(b, &meta); err != nil {
			return 0, fmt.Errorf("%s: %v", m, err)
		}
		best = max(best, meta.Index)
	}
	return best, nil
}

// waitForSnapshot polls until p holds a snapshot at index min or later.
// raft looks at the snapshot threshold every few seconds, so a deadline
// of a minute leaves room on a loaded machine.
func waitForSnapshot(t *testing.T, p *Server, min uint64) uint64 {
	t.Helper()
	var got uint64
	eventually(t, 60*time.Second, fmt.Sprintf("a snapshot at index %d or later on %s", min, p.DataDir), func() error {
		var err error
		got, err = latestSnapshot(p)
		if err != nil {
			return err
		}
		if got < min {
			return fmt.Errorf("latest snapshot at %d", got)
		}
		return nil
	})
	return got
}
