package zkserver

import (
	"crypto/tls"
	"errors"
	"fmt"
	"slices"
	"time"

	"zkfs/tree"
)

// Errors of AdminCommand.
var (
	// ErrUnknownCommand reports an admin command that does not exist.
	ErrUnknownCommand = errors.New("wire: unknown admin command")
	// ErrNotWhitelisted reports a command whose four-letter word is not in
	// the whitelist (4lw.commands.whitelist).
	ErrNotWhitelisted = errors.New("is not executed because it is not in the whitelist")
)

// adminCommand names an admin command as ZooKeeper's AdminServer does,
// with the four-letter word that stands for it.
type adminCommand struct{ name, word string }

// adminCommands maps each admin command's name and aliases (the
// four-letter word is one) to the command.
var adminCommands = map[string]adminCommand{}

func init() {
	for _, c := range []adminCommand{
		{"ruok", "ruok"}, {"server_stats", "srvr"}, {"stats", "stat"},
		{"monitor", "mntr"}, {"configuration", "conf"}, {"connections", "cons"},
	} {
		adminCommands[c.name] = c
		adminCommands[c.word] = c
	}
}

// AdminCommandNames lists the canonical names of the admin commands.
func AdminCommandNames() []string {
	var out []string
	for _, c := range adminCommands {
		if !slices.Contains(out, c.name) {
			out = append(out, c.name)
		}
	}
	slices.Sort(out)
	return out
}

// Identity is the identity an admin request acts with, as ZooKeeper's
// AdminServer derives it: the caller's address (ip scheme) and, when
// digest credentials "user:password" come with the request, their digest
// id, and super when they match the super digest, as an auth packet on
// the client port would give.
func (s *Server) Identity(ip, digestCredentials string) tree.Identity {
	id := tree.Identity{IDs: []tree.ID{{Scheme: "ip", ID: ip}}}
	if digestCredentials == "" {
		return id
	}
	d := tree.DigestID(digestCredentials)
	if s.cfg.SuperDigest != "" && d == s.cfg.SuperDigest {
		id.Super = true
		id.IDs = append(id.IDs, tree.ID{Scheme: "super", ID: ""})
	}
	id.IDs = append(id.IDs, tree.ID{Scheme: "digest", ID: d})
	return id
}

// AdminCommand answers one of ZooKeeper's AdminServer commands (srvr,
// stat, mntr, conf, cons, ruok, by their four-letter or long names) with
// the figures of the matching four-letter word, in the shape the
// AdminServer's JSON has, "command" and "error" included, so that probes
// written for ZooKeeper read them. Figures zkfs does not keep are left out
// rather than made up. A command whose four-letter word the whitelist
// does not allow on the client port is refused here too, with
// ErrNotWhitelisted: one policy says what a stranger may learn.
func (s *Server) AdminCommand(name string) (map[string]any, error) {
	cmd, ok := adminCommands[name]
	if !ok {
		return nil, ErrUnknownCommand
	}
	if !s.words[cmd.word] {
		return nil, fmt.Errorf("%s %w", cmd.word, ErrNotWhitelisted)
	}
	canon := cmd.name
	out := map[string]any{"command": canon, "error": nil}
	switch canon {
	case "ruok":
	case "server_stats", "stats":
		minL, avg, maxL, _ := s.stats.latency.snapshot()
		n := dirSize(s.cfg.DataDir)
		out["version"] = s.version()
		out["read_only"] = s.readOnly()
		out["server_stats"] = map[string]any{
			"packets_sent":                 s.stats.sent.Load(),
			"packets_received":             s.stats.received.Load(),
			"data_dir_size":                n,
			"log_dir_size":                 dirSize(s.logDir()),
			"provider_null":                false,
			"server_state":                 s.mode(),
			"last_processed_zxid":          s.rep.LastZxid(),
			"outstanding_requests":         s.outstanding(),
			"avg_latency":                  javaDouble(avg),
			"max_latency":                  maxL.Milliseconds(),
			"min_latency":                  minL.Milliseconds(),
			"num_alive_client_connections": s.connCount(),
			"uptime":                       time.Since(s.started).Milliseconds(),
		}
		out["node_count"] = s.znodeCount()
		if canon == "stats" {
			plain, secure := s.adminConns(false)
			out["connections"], out["secure_connections"] = plain, secure
		}
	case "monitor":
		for _, f := range s.monitorFields() {
			out[f.key] = f.value
		}
	case "configuration":
		out["client_port"] = s.clientPort()
		out["data_dir"] = s.cfg.DataDir
		out["data_log_dir"] = s.logDir()
		out["tick_time"] = s.cfg.TickTime.Milliseconds()
		out["max_client_cnxns"] = s.cfg.MaxClientCnxns
		out["min_session_timeout"] = s.cfg.MinSessionTimeout.Milliseconds()
		out["max_session_timeout"] = s.cfg.MaxSessionTimeout.Milliseconds()
		out["server_id"] = s.cfg.ServerID
		out["client_port_listen_backlog"] = -1
	case "connections":
		plain, secure := s.adminConns(true)
		out["connections"], out["secure_connections"] = plain, secure
	}
	return out, nil
}

// adminConns describes the connections, plain and TLS apart, as cons
// (full) or stat list them.
func (s *Server) adminConns(full bool) (plain, secure []map[string]any) {
	plain, secure = []map[string]any{}, []map[string]any{}
	for _, c := range s.connList() {
		m := c.adminInfo(full)
		if _, ok := c.nc.(*tls.Conn); ok {
			secure = append(secure, m)
		} else {
			plain = append(plain, m)
		}
	}
	return plain, secure
}

// adminInfo is a connection's entry in the connections command: the
// figures of its cons line, under the AdminServer's names.
func (c *conn) adminInfo(full bool) map[string]any {
	st := &c.stats
	m := map[string]any{
		"remote_socket_address": c.nc.RemoteAddr().String(),
		"interest_ops":          c.interest(),
		"outstanding_requests":  len(c.slots),
		"packets_received":      st.received.Load(),
		"packets_sent":          st.sent.Load(),
	}
	if !full || !c.ready.Load() || c.closed.Load() {
		return m
	}
	l := st.last()
	m["session_id"] = c.session
	m["last_operation"] = l.op
	m["established"] = st.established.UnixMilli()
	m["session_timeout"] = c.timeout.Milliseconds()
	m["last_cxid"] = l.cxid
	m["last_zxid"] = l.zxid
	m["last_response_time"] = l.respMillis
	m["last_latency"] = l.latency.Milliseconds()
	m["min_latency"] = l.min.Milliseconds()
	m["avg_latency"] = l.avg.Milliseconds()
	m["max_latency"] = l.max.Milliseconds()
	return m
}
