package replication

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

// TestRaftLogKeepsLevels checks that raft's lines reach slog at their own
// level, with their fields, instead of all at one level.
func TestRaftLogKeepsLevels(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	h := newRaftLogger(log)
	h.Debug("not shown at info")
	h.Info("entering follower state", "follower", "node-1")
	h.Warn("heartbeat timeout reached")
	h.Error("failed to appendEntries", "peer", "2", "error", "refused")
	var got []string
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if rec["component"] != "raft" {
			t.Errorf("%q lacks component=raft", line)
		}
		got = append(got, rec["level"].(string)+" "+rec["msg"].(string))
		if rec["msg"] == "failed to appendEntries" && (rec["peer"] != "2" || rec["error"] != "refused") {
			t.Errorf("fields lost: %q", line)
		}
	}
	want := []string{"INFO entering follower state", "WARN heartbeat timeout reached", "ERROR failed to appendEntries"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
