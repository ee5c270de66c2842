package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Credentials given on the command line are visible to every local user:
// ps and /proc/PID/cmdline show every process's arguments. Each flag that
// carries a secret therefore has a file form (read once, with a warning when
// group or others may read the file) and the client commands also read
// the ZKFS_AUTH environment variable, which only the same user and root can
// see (/proc/PID/environ). A secret on the command line still works, with a
// warning that says where it shows.

// authEnv is the environment variable the client commands take credentials
// from: scheme:credentials, one per line.
const authEnv = "ZKFS_AUTH"

// readSecretFile reads a secret from path, with its trailing newlines
// dropped, and returns the warning to give if the file is open to group or
// others ("" if not). An empty file is an error: the caller asked for a
// credential and would silently act without one.
func readSecretFile(flag, path string) (secret, warning string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", flag, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", flag, err)
	}
	if fi.IsDir() {
		return "", "", fmt.Errorf("%s: %s is a directory", flag, path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", "", fmt.Errorf("%s: %w", flag, err)
	}
	secret = strings.TrimRight(string(b), "\r\n")
	if strings.TrimSpace(secret) == "" {
		return "", "", fmt.Errorf("%s: %s is empty", flag, path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		warning = fmt.Sprintf("%s: %s has mode %04o, so other local users may read the credential; chmod 600 it", flag, path, perm)
	}
	return secret, warning, nil
}

// argvWarning is the warning for a secret given on the command line.
func argvWarning(flag, instead string) string {
	return fmt.Sprintf("%s on the command line is visible to every local user (ps, /proc/PID/cmdline); use %s instead", flag, instead)
}

// secretLines splits a file's or ZKFS_AUTH's content into credentials, one
// per non-empty line.
func secretLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimRight(l, "\r"); strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}

// resolveServerSecrets replaces the file forms of the server's secret flags
// by their content, and warns about secrets given on the command line.
func resolveServerSecrets(warn func(string), changed func(string) bool, o *serverOptions) error {
	for _, s := range []struct {
		flag, fileFlag, file string
		value                *string
	}{
		{"--mount-auth", "--mount-auth-file", o.mount.authFile, &o.mount.auth},
		{"--super-digest", "--super-digest-file", o.superDigestFile, &o.superDigest},
	} {
		if s.file == "" {
			if changed(strings.TrimPrefix(s.flag, "--")) && *s.value != "" {
				warn(argvWarning(s.flag, s.fileFlag))
			}
			continue
		}
		if changed(strings.TrimPrefix(s.flag, "--")) {
			return fmt.Errorf("%s and %s are exclusive", s.flag, s.fileFlag)
		}
		v, w, err := readSecretFile(s.fileFlag, s.file)
		if err != nil {
			return err
		}
		if w != "" {
			warn(w)
		}
		*s.value = v
	}
	return nil
}

// oneCredential picks the single scheme:credentials a command sends that
// has no session to add several to (snapshot save's HTTP request): the
// flag's value, with a warning, or else the first line of the file, or
// else the first line of ZKFS_AUTH. "" means none.
func oneCredential(value, file string, warn func(string)) (string, error) {
	if value != "" {
		warn(argvWarning("--auth", "--auth-file or "+authEnv))
		return value, nil
	}
	if file != "" {
		s, w, err := readSecretFile("--auth-file", file)
		if err != nil {
			return "", err
		}
		if w != "" {
			warn(w)
		}
		return secretLines(s)[0], nil
	}
	if lines := secretLines(os.Getenv(authEnv)); len(lines) > 0 {
		return lines[0], nil
	}
	return "", nil
}
