package zkdata

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/golang/snappy"
)

// Info describes what Load read.
type Info struct {
	// Snapshot is the file the tree was loaded from, and SnapshotZxid the
	// zxid in its name.
	Snapshot     string
	SnapshotZxid int64
	// Logs are the transaction log files read, oldest first, and Txns the
	// number of transactions applied from them.
	Logs []string
	Txns int
	// Skipped lists newer snapshots that could not be read, with the
	// reason; ZooKeeper also falls back to an older snapshot.
	Skipped []string
	// NoLogs tells that the log directory holds no log.* file at all:
	// right for a ZooKeeper that never took a write after its snapshot,
	// but also what a dataLogDir left out looks like.
	NoLogs bool
}

// Load reads the tree in a ZooKeeper data directory: dataDir is
// ZooKeeper's dataDir (or its version-2 subdirectory) and holds the
// snapshots; logDir is dataLogDir, empty if the logs are in dataDir.
func Load(dataDir, logDir string) (*Tree, Info, error) {
	var info Info
	if logDir == "" {
		logDir = dataDir
	}
	snapDir, err := versionDir(dataDir)
	if err != nil {
		return nil, info, err
	}
	if logDir, err = versionDir(logDir); err != nil {
		return nil, info, err
	}
	snaps, err := listFiles(snapDir, "snapshot")
	if err != nil {
		return nil, info, err
	}
	var t *Tree
	var reasons []string
	for i := len(snaps) - 1; i >= 0 && t == nil; i-- {
		t, err = readSnapshot(snaps[i].path)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("%s: %v", snaps[i].path, err))
			t = nil
			continue
		}
		info.Snapshot, info.SnapshotZxid = snaps[i].path, snaps[i].zxid
	}
	if t == nil {
		if len(snaps) == 0 {
			return nil, info, fmt.Errorf("%w: no snapshot.* file in %s", ErrNoSnapshot, snapDir)
		}
		return nil, info, fmt.Errorf("%w in %s: %s", ErrNoSnapshot, snapDir, strings.Join(reasons, "; "))
	}
	info.Skipped = reasons
	t.LastZxid = info.SnapshotZxid

	logs, err := listFiles(logDir, "log")
	if err != nil {
		return nil, info, err
	}
	info.NoLogs = len(logs) == 0
	// As FileTxnLog.getLogFiles: the newest log that starts at or before
	// the snapshot, and every later one.
	first := 0
	for i, l := range logs {
		if l.zxid <= info.SnapshotZxid {
			first = i
		}
	}
	for _, l := range logs[first:] {
		b, err := os.ReadFile(l.path)
		if err != nil {
			return nil, info, err
		}
		if len(b) == 0 {
			continue // created before its header was written
		}
		lf, err := decodeLog(b)
		if err != nil {
			return nil, info, fmt.Errorf("%s: %w", l.path, err)
		}
		info.Logs = append(info.Logs, l.path)
		for _, x := range lf.txns {
			if x.zxid <= t.LastZxid {
				if info.Txns > 0 {
					return nil, info, fmt.Errorf("%w: %s: zxid %#x comes after %#x", ErrCorrupt, l.path, x.zxid, t.LastZxid)
				}
				continue // in the snapshot already
			}
			if !follows(t.LastZxid, x.zxid) {
				return nil, info, fmt.Errorf("%w: %s: after zxid %#x comes %#x; a log file is missing", ErrLogGap, l.path, t.LastZxid, x.zxid)
			}
			if err := t.apply(x); err != nil {
				return nil, info, fmt.Errorf("%s: %w", l.path, err)
			}
			t.LastZxid = x.zxid
			info.Txns++
		}
	}
	return t, info, nil
}

// follows tells whether zxid b may come right after a: the next counter
// of the same epoch, or the first of a later epoch.
func follows(a, b int64) bool {
	return b == a+1 || (b>>32 > a>>32 && b&0xffffffff == 1)
}

// versionDir returns dir's version-2 subdirectory if it has one, else dir.
func versionDir(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", err
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("%s is not a directory", dir)
	}
	v := filepath.Join(dir, "version-2")
	if fi, err := os.Stat(v); err == nil && fi.IsDir() {
		return v, nil
	}
	return dir, nil
}

type zkFile struct {
	path string
	zxid int64
}

// listFiles returns the files named prefix.<hex zxid>[.suffix], sorted by
// zxid, as Util.sortDataDir does.
func listFiles(dir, prefix string) ([]zkFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []zkFile
	for _, e := range entries {
		parts := strings.Split(e.Name(), ".")
		if len(parts) < 2 || parts[0] != prefix || e.IsDir() {
			continue
		}
		z, err := strconv.ParseUint(parts[1], 16, 64)
		if err != nil {
			continue
		}
		out = append(out, zkFile{filepath.Join(dir, e.Name()), int64(z)})
	}
	slices.SortFunc(out, func(a, b zkFile) int { return int(min(max(a.zxid-b.zxid, -1), 1)) })
	return out, nil
}

// readSnapshot reads and decodes one snapshot file, uncompressing it as
// its name says.
func readSnapshot(path string) (*Tree, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	switch filepath.Ext(path) {
	case ".gz":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
		if b, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
		}
	case ".snappy":
		if b, err = unsnappy(b); err != nil {
			return nil, err
		}
	}
	return decodeSnapshot(b)
}

// snappyMagic starts the stream of snappy-java's SnappyOutputStream, which
// ZooKeeper's snapshot.compression.method=snappy writes: the magic, a
// version and a compatible version (both 1), then blocks, each a
// big-endian length and a snappy block of at most 32 KiB uncompressed.
const snappyMagic = "\x82SNAPPY\x00"

func unsnappy(b []byte) ([]byte, error) {
	if len(b) < 16 || string(b[:8]) != snappyMagic {
		return nil, fmt.Errorf("%w: not a snappy-java stream", ErrCorrupt)
	}
	var out []byte
	for rest := b[16:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, fmt.Errorf("%w: snappy stream cut short", ErrCorrupt)
		}
		n := int64(binary.BigEndian.Uint32(rest))
		if n > int64(len(rest)-4) {
			return nil, fmt.Errorf("%w: snappy stream cut short", ErrCorrupt)
		}
		block, err := snappy.Decode(nil, rest[4:4+n])
		if err != nil {
			return nil, fmt.Errorf("%w: snappy block: %v", ErrCorrupt, err)
		}
		out = append(out, block...)
		rest = rest[4+n:]
	}
	return out, nil
}
