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
	sr := &snapReader{br: bufio.NewReaderSize(r, 64<<10), crc: crc32.New(castagnoli)}
	var hdr [len(snapMagic) + 4 + 8]byte
	if err := sr.full(hdr[:]); err != nil {
		return nil, nil, 0, err
	}
	if string(hdr[:len(snapMagic)]) != snapMagic {
		return nil, nil, 0, fmt.Errorf("%w: not a zkfs snapshot", ErrBadSnapshot)
	}
	if v := binary.BigEndian.Uint32(hdr[8:]); v != snapVersion {
		return nil, nil, 0, fmt.Errorf("%w: snapshot format version %d, this build understands only %d",
			ErrBadSnapshot, v, snapVersion)
	}
	applied := binary.BigEndian.Uint64(hdr[12:])

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

	var loader *tree.Loader
	var count uint64
	var prevKey []byte
	for {
		tag, err := sr.byte()
		if err != nil {
			return nil, nil, 0, err
		}
		if tag == snapEnd {
			break
		}
		rec, key, err := sr.record(tag)
		if err != nil {
			return nil, nil, 0, err
		}
		if prevKey != nil && bytes.Compare(prevKey, key) >= 0 {
			return nil, nil, 0, fmt.Errorf("%w: record %d out of order", ErrBadSnapshot, count)
		}
		prevKey = key
		if loader == nil {
			loader = tree.NewLoader(cfg)
		}
		if err := loader.Add(rec); err != nil {
			return nil, nil, 0, fmt.Errorf("%w: record %d: %v", ErrBadSnapshot, count, err)
		}
		// Pebble panics on a batch reaching 4 GiB; fail cleanly well before.
		if b.Len()+len(key)+len(rec.Value)+32 > maxRestoreBatch {
			return nil, nil, 0, fmt.Errorf("%w: more than %d MiB of records", ErrSnapshotTooLarge, maxRestoreBatch>>20)
		}
		if err := b.Set(key, rec.Value, nil); err != nil {
			return nil, nil, 0, err
		}
		count++
	}
	n, err := sr.uint64()
	if err != nil {
		return nil, nil, 0, err
	}
	if n != count {
		return nil, nil, 0, fmt.Errorf("%w: trailer counts %d records, stream has %d", ErrBadSnapshot, n, count)
	}
	want := sr.crc.Sum32()
	var sum [4]byte
	if _, err := io.ReadFull(sr.br, sum[:]); err != nil {
		return nil, nil, 0, snapErr(err)
	}
	if got := binary.BigEndian.Uint32(sum[:]); got != want {
		return nil, nil, 0, fmt.Errorf("%w: checksum %08x, computed %08x", ErrBadSnapshot, got, want)
	}
	if _, err := sr.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the trailer")
		}
		return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}

	var t *tree.Tree
	if count == 0 {
		// An empty store's snapshot: nothing was ever applied. Store the
		// fresh tree, as LoadTree would.
		if applied != 0 {
			return nil, nil, 0, fmt.Errorf("%w: applied index %d but no records", ErrBadSnapshot, applied)
		}
		t = tree.New(cfg)
		if err := addTreeRecords(b, t); err != nil {
			return nil, nil, 0, err
		}
	} else if t, err = loader.Finish(int64(applied)); err != nil {
		return nil, nil, 0, fmt.Errorf("%w: %v", ErrBadSnapshot, err)
	}
	if err := b.Set(metaAppliedKey, appliedValue(applied), nil); err != nil {
		return nil, nil, 0, err
	}
	return b, t, applied, nil
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
