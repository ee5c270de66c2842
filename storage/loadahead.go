package storage

import (
	"errors"

	"zkfs/tree"
)

// recordBatch is a run of records read ahead of the loader: their values
// are copied end to end into buf, ends[i] being where record i's ends.
type recordBatch struct {
	recs []tree.Record
	ends []int
	buf  []byte
	err  error
}

// Read-ahead sizes: a few batches in flight, each large enough that the
// hand-over costs nothing next to its records.
const (
	aheadBatchBytes = 256 << 10
	aheadBatches    = 4
)

var errLoadStopped = errors.New("storage: load stopped")

// scanRecordsAhead is scanRecords with the reading of Pebble and the
// decoding of keys in a goroutine of their own, so that on a machine of
// two cores it overlaps with fn (building the tree), which still sees the
// records one at a time and in order. The Value passed to fn is only valid
// during the call. It returns once the goroutine is done with r.
func scanRecordsAhead(r iterable, fn func(tree.Record) error) error {
	full := make(chan *recordBatch, aheadBatches)
	free := make(chan *recordBatch, aheadBatches+2)
	for i := 0; i < aheadBatches+2; i++ {
		free <- &recordBatch{}
	}
	stop := make(chan struct{})
	go func() {
		defer close(full)
		b := <-free
		send := func() bool {
			select {
			case full <- b:
			case <-stop:
				return false
			}
			select {
			case b = <-free:
			case <-stop:
				return false
			}
			return true
		}
		err := scanRecords(r, func(rec tree.Record) error {
			if len(b.recs) > 0 && len(b.buf)+len(rec.Value) > aheadBatchBytes {
				if !send() {
					return errLoadStopped
				}
			}
			if b.buf == nil {
				b.buf = make([]byte, 0, max(aheadBatchBytes, len(rec.Value)))
			}
			b.buf = append(b.buf, rec.Value...)
			rec.Value = nil
			b.recs = append(b.recs, rec)
			b.ends = append(b.ends, len(b.buf))
			return nil
		})
		if errors.Is(err, errLoadStopped) {
			return
		}
		b.err = err
		select {
		case full <- b:
		case <-stop:
		}
	}()
	var err error
	for b := range full {
		if err != nil {
			continue // draining until the goroutine is done
		}
		start := 0
		for i, rec := range b.recs {
			rec.Value = b.buf[start:b.ends[i]:b.ends[i]]
			start = b.ends[i]
			if err = fn(rec); err != nil {
				break
			}
		}
		if err == nil {
			err = b.err
		}
		if err != nil {
			close(stop)
			continue
		}
		clear(b.recs) // the paths now belong to the tree
		b.recs, b.ends, b.buf = b.recs[:0], b.ends[:0], b.buf[:0]
		free <- b
	}
	return err
}
