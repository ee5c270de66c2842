package tree

import (
	"errors"
	"testing"
)

func TestSplitJoin(t *testing.T) {
	tests := []struct{ path, parent, name string }{
		{"/", "/", ""},
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/@data", "/a/b", "@data"},
	}
	for _, tt := range tests {
		parent, name := Split(tt.path)
		if parent != tt.parent || name != tt.name {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", tt.path, parent, name, tt.parent, tt.name)
		}
		if got := Parent(tt.path); got != tt.parent {
			t.Errorf("Parent(%q) = %q, want %q", tt.path, got, tt.parent)
		}
		if tt.path == "/" {
			continue
		}
		if got := Join(parent, name); got != tt.path {
			t.Errorf("Join(%q, %q) = %q, want %q", parent, name, got, tt.path)
		}
	}
}

// TestPathError checks the reasons and the UTF-16 positions that the command
// line prints as zkCli.sh does.
func TestPathError(t *testing.T) {
	tests := []struct {
		path   string
		reason string
		index  int
	}{
		{"", "Path length must be > 0", -1},
		{"a", "Path must start with / character", -1},
		{"/a/", "Path must not end with / character", -1},
		{"/a//b", "empty node name specified", 3},
		{"/a/../b", "relative paths not allowed", 4},
		{"/é😀", "invalid character", 2},
		{"/abc\xff", "invalid character", 4},
	}
	for _, tt := range tests {
		var pe *PathError
		err := ValidatePath(tt.path)
		if !errors.As(err, &pe) || !errors.Is(err, ErrInvalidPath) {
			t.Errorf("ValidatePath(%q) = %v, want a *PathError matching ErrInvalidPath", tt.path, err)
			continue
		}
		if pe.Reason != tt.reason || pe.Index != tt.index {
			t.Errorf("ValidatePath(%q): reason %q @%d, want %q @%d", tt.path, pe.Reason, pe.Index, tt.reason, tt.index)
		}
	}
}
