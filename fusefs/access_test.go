package fusefs

import (
	"testing"

	"zkfs/tree"
)

func TestModeBits(t *testing.T) {
	const all, none = 0, tree.PermAll
	only := func(p int32) int32 { return tree.PermAll &^ p }
	tests := []struct {
		name                   string
		owner, stranger        int32 // denied bits
		asDir, writable, other bool
		want                   uint32
	}{
		{"open file, private mount", all, all, false, true, false, 0o644},
		{"open dir, private mount", all, all, true, true, false, 0o755},
		{"open file, allow-other", all, all, false, true, true, 0o666},
		{"open dir, allow-other", all, all, true, true, true, 0o777},
		{"owner only", all, none, false, true, true, 0o600},
		{"owner only dir", all, none, true, true, true, 0o711},
		{"nobody", none, none, false, true, true, 0},
		{"world read", all, only(tree.PermRead), false, true, true, 0o644},
		{"watch is never writable", all, all, false, false, true, 0o444},
		{"write-only owner", only(tree.PermWrite), none, false, true, false, 0o200},
		// A stranger needs both CREATE and DELETE for w on a directory;
		// the owner either.
		{"create only", only(tree.PermCreate), only(tree.PermCreate), true, true, true, 0o311},
		{"create and delete", only(tree.PermCreate | tree.PermDelete), only(tree.PermCreate | tree.PermDelete), true, true, true, 0o333},
	}
	for _, tt := range tests {
		if got := modeBits(tt.owner, tt.stranger, tt.asDir, tt.writable, tt.other); got != tt.want {
			t.Errorf("%s: %04o, want %04o", tt.name, got, tt.want)
		}
	}
}
