package fusefs

import "testing"

// TestWriteStateTransitions walks the handle lifecycles the mount must get
// right: which flushes commit, and where each leaves the handle.
func TestWriteStateTransitions(t *testing.T) {
	type step struct {
		op         string // "write", "trunc0" (open-time truncation), "trunc", "close", "fsync", "release"
		wantCommit bool   // for flushes
		want       writeState
	}
	tests := []struct {
		name  string
		start writeState
		steps []step
	}{
		{"echo x > f: the first close before the write is deferred", stateUnwritten, []step{
			{"close", false, stateDeferred},
			{"write", false, stateDeferred},
			{"close", true, stateDeferred},
		}},
		{"> f: truncated, closed twice, never written", stateUnwritten, []step{
			{"close", false, stateDeferred},
			{"close", true, stateDeferred},
		}},
		{"release of an unwritten handle commits and starts over", stateUnwritten, []step{
			{"release", true, stateUnwritten},
		}},
		{"open without O_TRUNC, written, closed", stateUntouched, []step{
			{"write", false, stateDirty},
			{"close", true, stateDirty},
		}},
		{"open, close: nothing to commit", stateUntouched, []step{
			{"close", false, stateUntouched},
			{"fsync", false, stateUntouched},
		}},
		{"the kernel's truncation after open(O_TRUNC) defers like O_TRUNC", stateUntouched, []step{
			{"trunc0", false, stateUnwritten},
			{"close", false, stateDeferred},
		}},
		{"ftruncate to a size is a write", stateUntouched, []step{
			{"trunc", false, stateDirty},
			{"close", true, stateDirty},
		}},
		{"after a commit, edits commit at the next flush", stateClean, []step{
			{"trunc0", false, stateDirty},
			{"close", true, stateDirty},
		}},
		{"a failed handle never commits", stateFailed, []step{
			{"write", false, stateFailed},
			{"close", false, stateFailed},
			{"release", false, stateFailed},
		}},
	}
	for _, tt := range tests {
		s := tt.start
		for i, st := range tt.steps {
			commit := false
			switch st.op {
			case "write", "trunc":
				if s != stateFailed {
					s = s.edited(false)
				}
			case "trunc0":
				s = s.edited(true)
			case "close":
				s, commit = s.flushing(false)
			case "fsync", "release":
				s, commit = s.flushing(true)
			}
			if commit != st.wantCommit || s != st.want {
				t.Errorf("%s: step %d (%s): got %v commit=%v, want %v commit=%v", tt.name, i, st.op, s, commit, st.want, st.wantCommit)
			}
			if commit {
				s = s.committed()
			}
		}
	}
}

func TestWriteStateCommitted(t *testing.T) {
	tests := []struct{ from, want writeState }{
		{stateUnwritten, stateUntouched},
		{stateDeferred, stateClean},
		{stateDirty, stateClean},
	}
	for _, tt := range tests {
		if got := tt.from.committed(); got != tt.want {
			t.Errorf("%v.committed() = %v, want %v", tt.from, got, tt.want)
		}
	}
}
