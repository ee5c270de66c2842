package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSecretSources checks where a credential comes from and what is
// warned about: the command line (visible in ps), a file open to others,
// a private file, ZKFS_AUTH.
func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	private := filepath.Join(dir, "private")
	os.WriteFile(private, []byte("digest:u:from-file\ndigest:v:second\n"), 0o600)
	open := filepath.Join(dir, "open")
	os.WriteFile(open, []byte("digest:u:open\n"), 0o644)
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, []byte("\n"), 0o600)
	tests := []struct {
		name, value, file, env string
		want, warning, err     string
	}{
		{"flag", "digest:u:flag", "", "digest:u:env", "digest:u:flag", "visible to every local user", ""},
		{"private file", "", private, "digest:u:env", "digest:u:from-file", "", ""},
		{"open file", "", open, "", "digest:u:open", "has mode 0644", ""},
		{"empty file", "", empty, "", "", "", "is empty"},
		{"missing file", "", filepath.Join(dir, "nope"), "", "", "", "no such file"},
		{"environment", "", "", "digest:u:env\n", "digest:u:env", "", ""},
		{"none", "", "", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Setenv(authEnv, tt.env)
		var warnings []string
		got, err := oneCredential(tt.value, tt.file, func(w string) { warnings = append(warnings, w) })
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%s: error %v, want one with %q", tt.name, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("%s: %q, %v; want %q", tt.name, got, err, tt.want)
		}
		w := strings.Join(warnings, "\n")
		if (tt.warning == "") != (w == "") || !strings.Contains(w, tt.warning) {
			t.Errorf("%s: warnings %q, want %q", tt.name, w, tt.warning)
		}
		if tt.want != "" && strings.Contains(w, tt.want) {
			t.Errorf("%s: a warning repeats the secret: %q", tt.name, w)
		}
	}
}
