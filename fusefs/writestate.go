package fusefs

import "syscall"

// writeState is where a writable handle's buffered content stands between
// its open and its release. A handle starts untouched, or unwritten when
// its open truncated or is creating the file (openContent, createPending);
// every later change goes through one of the transitions below (edited,
// flushing, committed, fail), under the handle's lock.
//
// The states exist for one reason beyond "is there something to commit":
// the shell's `echo x > f` opens the file with O_TRUNC (or creates it),
// dup2s the descriptor and closes the first one before writing, so the
// first flush of a handle that nothing was written through yet must not
// commit the empty intermediate version. That flush is deferred once; the
// next flush, an fsync, the release, or another open of the file (settle)
// commits it.
//
//	untouched --open(O_TRUNC), create, ftruncate(0) at open--> unwritten
//	untouched, unwritten, clean --write, ftruncate--> dirty
//	unwritten --first flush from close--> deferred
//	unwritten --fsync, release--> commit --> untouched
//	deferred, dirty --flush, fsync, release--> commit --> clean
//	any --a write, ftruncate or commit fails--> failed (final)
type writeState uint8

const (
	// stateUntouched: nothing buffered, and nothing was ever written or
	// deferred through the handle. A reader is always here.
	stateUntouched writeState = iota
	// stateUnwritten: the open truncated or is creating the file, and
	// nothing was written yet: the first flush from close is deferred.
	stateUnwritten
	// stateDeferred: a flush came before any write and left the commit
	// to the next flush or the release. Opens of the file wait for it a
	// moment (File.settle). Writes keep the handle here.
	stateDeferred
	// stateDirty: buffered edits that the next flush commits.
	stateDirty
	// stateClean: everything buffered was committed, and the handle is
	// past its first flush or was written: later edits commit at once.
	stateClean
	// stateFailed: a write, ftruncate or commit failed (handle.err). From
	// then on nothing of the handle's edits is committed, at close or
	// fsync, and every later write, ftruncate, fsync and close reports
	// the error again: a program told that its write failed (cp of a
	// file over the size limit) must not have the part it wrote before
	// the failure published at its close.
	stateFailed
)

var writeStateNames = [...]string{"untouched", "unwritten", "deferred", "dirty", "clean", "failed"}

func (s writeState) String() string {
	if int(s) < len(writeStateNames) {
		return writeStateNames[s]
	}
	return "writeState(?)"
}

// edited is the transition of a write or ftruncate that was buffered.
// openTrunc marks the truncation to zero that the kernel sends right after
// an open(O_TRUNC) when it lacks atomic O_TRUNC: it counts as the open's
// truncation, not as a write.
func (s writeState) edited(openTrunc bool) writeState {
	switch s {
	case stateUntouched, stateUnwritten:
		if openTrunc {
			return stateUnwritten
		}
		return stateDirty
	case stateClean:
		return stateDirty
	}
	return s // deferred stays deferred, dirty dirty
}

// flushing is the transition of a flush: it reports whether the flush
// commits, and the state the handle is in meanwhile. final is set for
// fsync, the release and the other callers that must not be deferred.
func (s writeState) flushing(final bool) (writeState, bool) {
	switch s {
	case stateUnwritten:
		if !final {
			return stateDeferred, false
		}
		return s, true
	case stateDeferred, stateDirty:
		return s, true
	}
	return s, false // untouched, clean: nothing to commit; failed: never
}

// committed is the transition of a successful commit. A handle committed
// before its first flush from close (an fsync or a release of an unwritten
// handle) is back to untouched: its next open-time truncation defers
// again, as a fresh handle's would.
func (s writeState) committed() writeState {
	if s == stateUnwritten {
		return stateUntouched
	}
	return stateClean
}

// fail moves the handle to stateFailed with the first error reported on
// it, and returns that error. Called with h.mu held.
func (h *handle) fail(errno syscall.Errno) syscall.Errno {
	if h.state != stateFailed {
		h.state = stateFailed
		h.err = errno
		h.size.Store(-1)
	}
	return h.err
}

// poisoned reports whether the handle failed.
func (h *handle) poisoned() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.state == stateFailed
}
