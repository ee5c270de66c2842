package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"zkfs/replication"
)

// zooConfig is what zkfs takes from a ZooKeeper zoo.cfg. Zero values mean
// the key was absent; the server applies ZooKeeper's defaults.
type zooConfig struct {
	TickTime          time.Duration
	InitLimit         int
	SyncLimit         int
	DataDir           string
	DataLogDir        string
	ClientPort        int
	ClientPortAddress string
	MaxClientCnxns    int
	HasMaxClientCnxns bool
	MinSessionTimeout time.Duration
	MaxSessionTimeout time.Duration
	FourLetterWords   string
	SnapCount         uint64
	SnapRetainCount   int
	PurgeInterval     int
	Servers           []replication.Peer
	SecureClientPort  int
	MetricsPort       int
	// Extra holds the TLS keys (ssl.*, sslQuorum) by name.
	Extra map[string]string
	// MyID is read from the myid file in DataDir when Servers is set.
	MyID string
	// Ignored lists the keys zkfs does not use, for the log.
	Ignored []string
}

// zooConfigError names the file and line of a bad value, so that an
// operator can find it.
type zooConfigError struct {
	file string
	line int
	msg  string
}

func (e *zooConfigError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.file, e.line, e.msg)
}

// readZooConfig reads a zoo.cfg file and, for an ensemble, the myid file in
// its dataDir.
func readZooConfig(path string) (*zooConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c, err := parseZooConfig(f, path)
	if err != nil {
		return nil, err
	}
	if len(c.Servers) > 0 {
		if c.DataDir == "" {
			return nil, fmt.Errorf("%s: dataDir is required, it holds the myid file", path)
		}
		b, err := os.ReadFile(filepath.Join(c.DataDir, "myid"))
		if err != nil {
			return nil, fmt.Errorf("%s: an ensemble member needs a myid file: %w", path, err)
		}
		c.MyID = strings.TrimSpace(string(b))
		if n, err := strconv.Atoi(c.MyID); err != nil || n <= 0 {
			return nil, fmt.Errorf("%s: myid must hold a positive number, not %q", filepath.Join(c.DataDir, "myid"), c.MyID)
		}
		c.MyID = strings.TrimLeft(c.MyID, "0")
		found := false
		for _, p := range c.Servers {
			found = found || p.ID == c.MyID
		}
		if !found {
			return nil, fmt.Errorf("%s: myid %s is not among the server.N lines", path, c.MyID)
		}
	}
	return c, nil
}

// parseZooConfig parses ZooKeeper's Java-properties-style configuration.
func parseZooConfig(r io.Reader, name string) (*zooConfig, error) {
	c := &zooConfig{Extra: map[string]string{}}
	sc := bufio.NewScanner(r)
	seen := map[string]bool{}
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		key, value, ok := strings.Cut(line, "=")
		if !ok {
			return nil, &zooConfigError{name, n, fmt.Sprintf("%q is not key=value", line)}
		}
		key, value = strings.TrimSpace(key), strings.TrimSpace(value)
		if seen[key] {
			return nil, &zooConfigError{name, n, fmt.Sprintf("%s is set twice", key)}
		}
		seen[key] = true
		if err := c.set(key, value); err != nil {
			return nil, &zooConfigError{name, n, fmt.Sprintf("%s: %v", key, err)}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *zooConfig) set(key, value string) error {
	posInt := func(dst *int) error {
		v, err := strconv.Atoi(value)
		if err != nil || v <= 0 {
			return fmt.Errorf("want a positive number, got %q", value)
		}
		*dst = v
		return nil
	}
	nonNegInt := func(dst *int) error {
		v, err := strconv.Atoi(value)
		if err != nil || v < 0 {
			return fmt.Errorf("want a number >= 0, got %q", value)
		}
		*dst = v
		return nil
	}
	millis := func(dst *time.Duration) error {
		var v int
		if err := posInt(&v); err != nil {
			return err
		}
		*dst = time.Duration(v) * time.Millisecond
		return nil
	}
	switch {
	case key == "tickTime":
		return millis(&c.TickTime)
	case key == "initLimit":
		return posInt(&c.InitLimit)
	case key == "syncLimit":
		return posInt(&c.SyncLimit)
	case key == "dataDir":
		c.DataDir = value
	case key == "dataLogDir":
		c.DataLogDir = value
	case key == "clientPort":
		if err := posInt(&c.ClientPort); err != nil || c.ClientPort > 65535 {
			return fmt.Errorf("want a port number, got %q", value)
		}
	case key == "clientPortAddress":
		c.ClientPortAddress = value
	case key == "maxClientCnxns":
		c.HasMaxClientCnxns = true
		return nonNegInt(&c.MaxClientCnxns)
	case key == "minSessionTimeout":
		return millis(&c.MinSessionTimeout)
	case key == "maxSessionTimeout":
		return millis(&c.MaxSessionTimeout)
	case key == "4lw.commands.whitelist":
		c.FourLetterWords = value
	case key == "snapCount":
		var v int
		if err := posInt(&v); err != nil {
			return err
		}
		c.SnapCount = uint64(v)
	case key == "autopurge.snapRetainCount":
		if err := posInt(&c.SnapRetainCount); err != nil {
			return err
		}
		if c.SnapRetainCount < 3 {
			c.SnapRetainCount = 3 // ZooKeeper's minimum
		}
	case key == "autopurge.purgeInterval":
		return nonNegInt(&c.PurgeInterval)
	case key == "secureClientPort":
		if err := posInt(&c.SecureClientPort); err != nil || c.SecureClientPort > 65535 {
			return fmt.Errorf("want a port number, got %q", value)
		}
	case key == "metricsProvider.httpPort":
		if err := posInt(&c.MetricsPort); err != nil || c.MetricsPort > 65535 {
			return fmt.Errorf("want a port number, got %q", value)
		}
	case key == "sslQuorum" || strings.HasPrefix(key, "ssl."):
		c.Extra[key] = value
	case strings.HasPrefix(key, "server."):
		p, err := replication.ParseServer(key, value)
		if err != nil {
			return err
		}
		for _, q := range c.Servers {
			if q.ID == p.ID {
				return fmt.Errorf("server id %s is listed twice", p.ID)
			}
		}
		c.Servers = append(c.Servers, p)
	default:
		c.Ignored = append(c.Ignored, key)
	}
	return nil
}
