package chaos

import "testing"

// TestCutOrPadded holds the mmap reader's rule to the contents a 30-minute
// run saw: a whole content through a mapping of another length passes,
// bytes of two versions or a wrong check value do not.
func TestCutOrPadded(t *testing.T) {
	for _, c := range []struct {
		file, b string
		want    bool
	}{
		{"rr4", "rr4 1221 2350", true},        // "rr4 1221 2350\n" through 13 bytes
		{"rr2", "rr2 5291 133\n\x00", true},   // a 13-byte content through 14
		{"rr2", "rr2 5291 13", true},          // cut inside the check value
		{"w3", "w3 12", true},                 // cut inside the counter
		{"w3", "w3 12\n\x00\x00", true},       // padded
		{"rr4", "rr4 1221 262\n", false},      // 1221's counter, 1222's check value
		{"rr4", "rr4 1221 2351", false},       // no content starts so
		{"rr2", "rr2 5291 1333\n\x00", false}, // padded, but not a whole content
		{"w3", "w3 12\n", false},              // whole length: parseMount's business
		{"w3", "w4 12", false},                // another file's
		{"w3", "w3 1 2", false},               // w files have two fields
		{"rr4", "rr4 12x1 23", false},
	} {
		if got := cutOrPadded(c.file, c.b); got != c.want {
			t.Errorf("cutOrPadded(%q, %q) = %v, want %v", c.file, c.b, got, c.want)
		}
	}
}
