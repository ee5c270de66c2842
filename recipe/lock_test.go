package recipe

import (
	"regexp"
	"testing"
)

func TestPredecessor(t *testing.T) {
	const (
		w1 = "aa__lock__0000000001"
		r2 = "bb__rlock__0000000002"
		r3 = "cc__rlock__0000000003"
		w4 = "dd__lock__0000000004"
		r5 = "ee__rlock__0000000005"
	)
	kids := []string{r5, "not-a-contender", w4, r3, w1, r2}
	tests := []struct {
		self, want string
	}{
		{w1, ""}, // first in line
		{r2, w1}, // a reader waits for the writer before it
		{r3, w1}, // ... not for the reader between
		{w4, r3}, // a writer waits for the last contender before it
		{r5, w4}, // a reader after a writer waits for it
	}
	for _, tt := range tests {
		got, found := Predecessor(kids, tt.self)
		if !found || got != tt.want {
			t.Errorf("Predecessor(%s) = %q, %v; want %q, true", tt.self, got, found, tt.want)
		}
	}
	if _, found := Predecessor(kids, "gone__lock__0000000009"); found {
		t.Error("a contender that is not a child was found")
	}
	if got, _ := Predecessor([]string{r2, r3}, r3); got != "" {
		t.Errorf("readers exclude each other: %q", got)
	}
}

func TestHolders(t *testing.T) {
	tests := []struct {
		kids []string
		want int
	}{
		{nil, 0},
		{[]string{"x__lock__0000000003", "y__rlock__0000000004"}, 1},
		{[]string{"x__rlock__0000000001", "y__rlock__0000000002", "z__lock__0000000003", "w__rlock__0000000004"}, 2},
	}
	for _, tt := range tests {
		if got := Holders(tt.kids); len(got) != tt.want {
			t.Errorf("Holders(%v) = %v, want %d holders", tt.kids, got, tt.want)
		}
	}
}

// TestPrefix checks the shape kazoo gives its own contenders: a UUID4 in
// hex, then the name.
func TestPrefix(t *testing.T) {
	if p := Prefix(false); !regexp.MustCompile(`^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}__lock__$`).MatchString(p) {
		t.Errorf("Prefix(false) = %q", p)
	}
	if p := Prefix(true); !regexp.MustCompile(`^[0-9a-f]{32}__rlock__$`).MatchString(p) {
		t.Errorf("Prefix(true) = %q", p)
	}
}
