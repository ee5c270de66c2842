package tree

import (
	"errors"
	"fmt"
	"testing"
)

// TestErrorNumbers checks the one table of the tree's errors: every number
// from 1 to MaxErrorNumber names exactly one error, which it gives back,
// wrapped or not; refinements keep their own numbers but carry the code of
// what they refine; ErrorOf gives the unrefined error.
func TestErrorNumbers(t *testing.T) {
	seen := map[error]uint8{}
	for n := uint8(1); n <= MaxErrorNumber; n++ {
		err := ErrorOfNumber(n)
		if err == nil {
			t.Errorf("number %d names no error", n)
			continue
		}
		if m, dup := seen[err]; dup {
			t.Errorf("%v numbered %d and %d", err, m, n)
		}
		seen[err] = n
		if got, ok := ErrorNumber(fmt.Errorf("context: %w", err)); !ok || got != n {
			t.Errorf("ErrorNumber(wrapped %v) = %d, %v; want %d", err, got, ok, n)
		}
		code, ok := Code(err)
		if !ok {
			t.Errorf("%v has no code", err)
		}
		if base := ErrorOf(code); base == nil || !errors.Is(err, base) {
			t.Errorf("ErrorOf(Code(%v)) = %v, which it does not refine", err, base)
		}
	}
	if len(seen) != len(errorTable) {
		t.Errorf("%d errors numbered, the table has %d", len(seen), len(errorTable))
	}
	if ErrorOfNumber(0) != nil || ErrorOfNumber(MaxErrorNumber+1) != nil {
		t.Errorf("numbers outside 1..%d name errors", MaxErrorNumber)
	}
	tests := []struct {
		err  error
		code int32
	}{
		{ErrDataTooLarge, CodeBadArguments},
		{ErrInvalidPath, CodeBadArguments},
		{ErrNoNode, CodeNoNode},
	}
	for _, tt := range tests {
		if got, _ := Code(tt.err); got != tt.code {
			t.Errorf("Code(%v) = %d, want %d", tt.err, got, tt.code)
		}
	}
	if ErrorOf(CodeBadArguments) != ErrBadArguments {
		t.Errorf("ErrorOf(BadArguments) = %v", ErrorOf(CodeBadArguments))
	}
	if _, ok := ErrorNumber(errors.New("other")); ok {
		t.Errorf("an error of no package numbered")
	}
}
