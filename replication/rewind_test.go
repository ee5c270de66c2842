package replication

import (
	"io"
	"path/filepath"
	"testing"

	"zkfs/storage"
	"zkfs/tree"
)

// rewindStore puts the store back to an earlier state of its own, as if
// the applied batches since then had been lost while the log survived.
func rewindStore(t *testing.T, dir string, earlier io.Reader) {
	t.Helper()
	s, err := storage.Open(filepath.Join(dir, "pebble"), storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Restore(earlier, tree.Config{}); err != nil {
		t.Fatal(err)
	}
}
