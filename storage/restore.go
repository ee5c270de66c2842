package storage

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"

	"github.com/cockroachdb/pebble/v2"

	"zkfs/tree"
)

// maxRestoreBatch caps the batch Restore builds, below Pebble's 4 GiB
// limit. A variable so that tests can exercise the limit.
var maxRestoreBatch = 3 << 30

// Restore replaces the stored tree and applied index with the snapshot read
// from r, written by Snapshot.WriteTo, and returns the restored tree and
// index.
//
// The whole stream is read and checked (format, order, record count,
// checksum, and that the records form a tree) before the database is
// touched; the replacement is then one synced batch. So a truncated or
// damaged snapshot, or a crash at any moment, leaves either the old state or
// the new one. The Raft log and stable store are not touched. The caller
// must not run CommitApplied concurrently.
//
// The batch holds the whole snapshot in memory and is capped by Pebble at
// 4 GiB; a snapshot beyond maxRestoreBatch fails with ErrSnapshotTooLarge.
// That is far beyond what a ZooKeeper-sized tree needs: a million 100-byte
// nodes make a batch of about 150 MB.
func (s *Store) Restore(r io.Reader, cfg tree.Config) (*tree.Tree, uint64, error) {
	b, t, applied, err := s.readSnapshot(r, cfg)
	if err != nil {
		return nil, 0, err
	}
	defer b.Close()
	// A restore replaces the state, possibly with an older one: lower the
	// durable watermark first, so that a crash on either side of the
	// commit reopens cleanly.
	if err := s.marks.restoring(applied); err != nil {
		return nil, 0, fmt.Errorf("storage: restore: %w", err)
	}
	// Synced, unlike CommitApplied: the restored state is not in our Raft
	// log, so nothing could rebuild it after a crash.
	if err := b.Commit(pebble.Sync); err != nil {
		return nil, 0, fmt.Errorf("storage: restore: %w", err)
	}
	s.marks.synced(applied, 0)
	return t, applied, nil
}

// readSnapshot reads and validates a snapshot stream into a batch that
// replaces the tree, and the tree it describes. The batch is not committed.
func (s *Store) readSnapshot(r io.Reader, cfg tree.Config) (_ *pebble.Batch, _ *tree.Tree, _ uint64, err error) {
	b := s.db.NewBatch()
	defer func() {
		if err != nil {
			b.Close()
		}
	}()
	// The deletions come first: within a batch later operations win, so the
	// records set below survive them.
	for _, p := range []byte{prefixNode, prefixSession} {
		if err := b.DeleteRange(prefixStart(p), prefixEnd(p), nil); err != nil {
			return nil, nil, 0, err
		}
	}
	t, info, err := decodeSnapshot(r, cfg, func(rec tree.Record, key []byte) error {
		// Pebble panics on a batch reaching 4 GiB; fail cleanly well before.
		if b.Len()+len(key)+len(rec.Value)+32 > maxRestoreBatch {
			return fmt.Errorf("%w: more than %d MiB of records", ErrSnapshotTooLarge, maxRestoreBatch>>20)
		}
		return b.Set(key, rec.Value, nil)
	}, nil)
	if err != nil {
		return nil, nil, 0, err
	}
	if info.Nodes+info.Sessions == 0 {
		// An empty store's snapshot: store the fresh tree, as LoadTree
		// would.
		if err := addTreeRecords(b, t); err != nil {
			return nil, nil, 0, err
		}
	}
	if err := b.Set(metaAppliedKey, appliedValue(info.Index), nil); err != nil {
		return nil, nil, 0, err
	}
	return b, t, info.Index, nil
}

// SnapshotInfo describes a snapshot stream.
type SnapshotInfo struct {
	// Index is the applied Raft index the snapshot holds, which is also
	// the zxid of its last change.
	Index uint64
	// Nodes and Sessions count the records of each kind.
	Nodes, Sessions uint64
	// Bytes is how much of the stream was read.
	Bytes int64
	// Checksum is the CRC-32C that the trailer holds, once it is read.
	Checksum uint32
}

// ReadSnapshotInfo reads a whole snapshot stream, written by
// Snapshot.WriteTo, checks it as Restore does (format, order, record
// count, checksum, and that the records form a tree) and describes it. It
// writes nothing. On failure the error wraps ErrBadSnapshot and the info
// describes what was read before the fault. progress, when not nil, is
// called as records arrive with the figures so far.
func ReadSnapshotInfo(r io.Reader, progress func(SnapshotInfo)) (SnapshotInfo, error) {
	_, info, err := decodeSnapshot(r, tree.Config{}, func(tree.Record, []byte) error { return nil }, progress)
	return info, err
}

// progressEvery is how many records pass between two progress calls.
const progressEvery = 4096

// decodeSnapshot reads and validates a snapshot stream, hands each record
// to fn with its database key (the record's Value is only valid during the
// call), and returns the tree the records describe. A stream with no
// records yields a fresh tree.
func decodeSnapshot(r io.Reader, cfg tree.Config, fn func(rec tree.Record, key []byte) error, progress func(SnapshotInfo)) (*tree.Tree, SnapshotInfo, error) {
	sr := &snapReader{br: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	var info SnapshotInfo
	fail := func(err error) (*tree.Tree, SnapshotInfo, error) {
		info.Bytes = sr.n
		return nil, info, err
	}
	var hdr [len(snapMagic) + 4 + 8]byte
	if err := sr.full(hdr[:]); err != nil {
		return fail(err)
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return fail(fmt.Errorf("%w: not a zkfs snapshot", ErrBadSnapshot))
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != snapVersion {
		return fail(fmt.Errorf("%w: snapshot format version %d, this build understands only %d",
			ErrBadSnapshot, v, snapVersion))
	}
	info.Index = binary.BigEndian.Uint64(hdr[12:])

	var loader *tree.Loader
	var count uint64
	var prevKey []byte
	for {
		tag, err := sr.byte()
		if err != nil {
			return fail(err)
		}
		if tag == snapEnd {
			break
		}
		rec, key, err := sr.record(tag)
		if err != nil {
			return fail(err)
		}
		if prevKey != nil && bytes.Compare(prevKey, key) >= 0 {
			return fail(fmt.Errorf("%w: record %d out of order", ErrBadSnapshot, count))
		}
		prevKey = append(prevKey[:0], key...)
		if loader == nil {
			loader = tree.NewLoader(cfg)
		}
		if err := loader.Add(rec); err != nil {
			return fail(fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err))
		}
		if err := fn(rec, key); err != nil {
			return fail(err)
		}
		if rec.Type == tree.RecordNode {
			info.Nodes++
		} else {
			info.Sessions++
		}
		count++
		if progress != nil && count%progressEvery == 0 {
			info.Bytes = sr.n
			progress(info)
		}
	}
	n, err := sr.uint64()
	if err != nil {
		return fail(err)
	}
	if n != count {
		return fail(fmt.Errorf("%w: trailer counts %d records, stream has %d", ErrBadSnapshot, n, count))
	}
	want := sr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(sr.br, sum[:]); err != nil {
		return fail(snapErr(err))
	}
	sr.n += int64(len(sum))
	info.Checksum = binary.BigEndian.Uint32(sum[:])
	if info.Checksum != want {
		return fail(fmt.Errorf("%w: checksum %08x, computed %08x", ErrBadSnapshot, info.Checksum, want))
	}
	if _, err := sr.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the trailer")
		}
		return fail(fmt.Errorf("%w: %v", ErrBadSnapshot, err))
	}
	info.Bytes = sr.n
	if progress != nil {
		progress(info)
	}

	if count == 0 {
		// An empty store's snapshot: nothing was ever applied.
		if info.Index != 0 {
			return fail(fmt.Errorf("%w: applied index %d but no records", ErrBadSnapshot, info.Index))
		}
		return tree.New(cfg), info, nil
	}
	t, err := loader.Finish(int64(info.Index))
	if err != nil {
		return fail(fmt.Errorf("%w: %v", ErrBadSnapshot, err))
	}
	return t, info, nil
}

// record reads the body of a record whose tag has been read, and returns it
// with its database key. The record's Value is only valid until the next
// read.
func (r *snapReader) record(tag byte) (tree.Record, []byte, error) {
	var rec tree.Record
	var key []byte
	switch tag {
	case snapNode:
		p, err := r.bytes(maxSnapPath, "path")
		if err != nil {
			return rec, nil, err
		}
		rec = tree.Record{Type: tree.RecordNode, Path: string(p)}
		if key, err = nodeKey(rec.Path); err != nil {
			return rec, nil, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
		}
	case snapSession:
		id, err := r.uint64()
		if err != nil {
			return rec, nil, err
		}
		rec = tree.Record{Type: tree.RecordSession, Session: int64(id)}
		key = sessionKey(rec.Session)
	default:
		return rec, nil, fmt.Errorf("%w: unknown record tag %#x", ErrBadSnapshot, tag)
	}
	v, err := r.bytes(maxSnapValue, "value")
	if err != nil {
		return rec, nil, err
	}
	// A stored record always has a value; nil means deleted to the tree.
	rec.Value = v
	if rec.Value == nil {
		rec.Value = []byte{}
	}
	return rec, key, nil
}
