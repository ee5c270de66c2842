package main

import (
	"errors"
	"fmt"
	"io"
	"net"
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
	MetricsHost       string
	// DynamicConfigFile holds the server.N lines (ZooKeeper 3.5+), and
	// is rewritten when the membership changes.
	DynamicConfigFile string
	// StandaloneDisabled is standaloneEnabled=false: a lone participant
	// still runs as an ensemble, which reconfig can grow.
	StandaloneDisabled bool
	// ReconfigDisabled is an explicit reconfigEnabled=false.
	ReconfigDisabled bool
	AdminPort        int
	AdminAddress     string
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

// readZooConfig reads a zoo.cfg file, the dynamic configuration file it
// names, and, for an ensemble, the myid file in its dataDir.
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
	if c.DynamicConfigFile != "" {
		if c.Servers, err = readDynamicConfig(c.DynamicConfigFile); err != nil {
			return nil, err
		}
	}
	if err := c.standalone(path); err != nil {
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
		for _, p := range c.Servers {
			if p.ID == c.MyID {
				c.clientPortFrom(p)
			}
		}
	}
	return c, nil
}

// standalone applies standaloneEnabled as ZooKeeper does: by default one
// participant and no observer is no ensemble at all but a standalone
// server (HBase writes such configurations); with standaloneEnabled=false
// it is an ensemble of one, which reconfig can grow.
func (c *zooConfig) standalone(path string) error {
	participants, observers := 0, 0
	for _, p := range c.Servers {
		if p.Observer {
			observers++
		} else {
			participants++
		}
	}
	switch {
	case participants == 0 && observers > 0:
		return fmt.Errorf("%s: observers without participants", path)
	case participants == 0 && c.StandaloneDisabled:
		return fmt.Errorf("%s: standaloneEnabled=false needs at least one participant server.N line", path)
	case participants == 1 && !c.StandaloneDisabled:
		if observers > 0 {
			return fmt.Errorf("%s: observers need a quorum: with one participant set standaloneEnabled=false", path)
		}
		c.clientPortFrom(c.Servers[0])
		c.Servers = nil
	}
	return nil
}

// clientPortFrom takes the client address of this server's server.N line
// when zoo.cfg has no clientPort, as ZooKeeper 3.5+ configurations keep
// it only there.
func (c *zooConfig) clientPortFrom(p replication.Peer) {
	if c.ClientPort != 0 || p.ClientAddr == "" {
		return
	}
	host, port, err := net.SplitHostPort(p.ClientAddr)
	if err != nil {
		return
	}
	c.ClientPort, _ = strconv.Atoi(port)
	if c.ClientPortAddress == "" && host != "0.0.0.0" {
		c.ClientPortAddress = host
	}
}

// readDynamicConfig reads a ZooKeeper 3.5+ dynamic configuration file:
// server.N lines only. Its version is in its name, never inside.
func readDynamicConfig(path string) ([]replication.Peer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dynamicConfigFile: %w", err)
	}
	defer f.Close()
	props, err := readProperties(f)
	if err != nil {
		return nil, named(err, path)
	}
	var servers []replication.Peer
	for _, p := range props {
		var err error
		switch {
		case p.key == "version":
			err = errors.New("a dynamic configuration file has no version inside; it is in the file's name")
		case strings.HasPrefix(p.key, "server."):
			servers, err = addServer(servers, p.key, p.value)
		case strings.HasPrefix(p.key, "group") || strings.HasPrefix(p.key, "weight"):
			err = errHierarchical
		default:
			err = fmt.Errorf("%s: only server.N lines belong in a dynamic configuration file", p.key)
		}
		if err != nil {
			return nil, &zooConfigError{path, p.line, err.Error()}
		}
	}
	if len(servers) == 0 {
		return nil, fmt.Errorf("%s: no server.N lines", path)
	}
	return servers, nil
}

var errHierarchical = errors.New("hierarchical quorums (group.N, weight.N) are not supported")

// addServer parses a server.N line and appends it, refusing a repeated id.
func addServer(servers []replication.Peer, key, value string) ([]replication.Peer, error) {
	p, err := replication.ParseServer(key, value)
	if err != nil {
		return nil, err
	}
	for _, q := range servers {
		if q.ID == p.ID {
			return nil, fmt.Errorf("server id %s is listed twice", p.ID)
		}
	}
	return append(servers, p), nil
}

// named gives a properties error the file's name.
func named(err error, file string) error {
	var ce *zooConfigError
	if errors.As(err, &ce) {
		ce.file = file
	}
	return err
}

// parseZooConfig parses zoo.cfg, a Java properties file.
func parseZooConfig(r io.Reader, name string) (*zooConfig, error) {
	c := &zooConfig{Extra: map[string]string{}}
	props, err := readProperties(r)
	if err != nil {
		return nil, named(err, name)
	}
	seen := map[string]bool{}
	firstServer := 0
	for _, p := range props {
		if seen[p.key] {
			return nil, &zooConfigError{name, p.line, fmt.Sprintf("%s is set twice", p.key)}
		}
		seen[p.key] = true
		if strings.HasPrefix(p.key, "server.") && firstServer == 0 {
			firstServer = p.line
		}
		if err := c.set(p.key, p.value); err != nil {
			return nil, &zooConfigError{name, p.line, fmt.Sprintf("%s: %v", p.key, err)}
		}
	}
	if c.DynamicConfigFile != "" && firstServer != 0 {
		return nil, &zooConfigError{name, firstServer, "server.N lines must be in the dynamic configuration file when dynamicConfigFile is set"}
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
	case key == "metricsProvider.httpHost":
		c.MetricsHost = value
	case key == "dynamicConfigFile":
		c.DynamicConfigFile = value
	case key == "standaloneEnabled":
		v, err := parseBool(value)
		c.StandaloneDisabled = !v
		return err
	case key == "reconfigEnabled":
		v, err := parseBool(value)
		c.ReconfigDisabled = !v
		return err
	case key == "admin.serverPort":
		if err := posInt(&c.AdminPort); err != nil || c.AdminPort > 65535 {
			return fmt.Errorf("want a port number, got %q", value)
		}
	case key == "admin.serverAddress":
		c.AdminAddress = value
	case key == "sslQuorum" || strings.HasPrefix(key, "ssl."):
		c.Extra[key] = value
	case strings.HasPrefix(key, "server."):
		var err error
		c.Servers, err = addServer(c.Servers, key, value)
		return err
	case strings.HasPrefix(key, "group.") || strings.HasPrefix(key, "weight."):
		return errHierarchical
	default:
		c.Ignored = append(c.Ignored, key)
	}
	return nil
}

// parseBool reads a boolean as ZooKeeper does: true or false, in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(s) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", s)
}
