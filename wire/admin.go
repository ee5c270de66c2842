package wire

import (
	"crypto/tls"
	"errors"
	"slices"
	"time"
)

// ErrUnknownCommand reports an admin command that does not exist.
var ErrUnknownCommand = errors.New("wire: unknown admin command")

// adminCommands maps each admin command's name and aliases to its
// canonical name, as ZooKeeper's AdminServer names them (the four-letter
// word is an alias of each).
var adminCommands = map[string]string{
	"ruok": "ruok",
	"srvr": "server_stats", "server_stats": "server_stats",
	"stat": "stats", "stats": "stats",
	"mntr": "monitor", "monitor": "monitor",
	"conf": "configuration", "configuration": "configuration",
	"cons": "connections", "connections": "connections",
}

// AdminCommandNames lists the canonical names of the admin commands.
func AdminCommandNames() []string {
	var out []string
	for _, c := range adminCommands {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// AdminCommand answers one of ZooKeeper's AdminServer commands (srvr,
// stat, mntr, conf, cons, ruok, by their four-letter or long names) with
// the figures of the matching four-letter word, in the shape the
// AdminServer's JSON has, "command" and "error" included, so that probes
// written for ZooKeeper read them. Figures zkfs does not keep are left out
// rather than made up.
func (s *Server) AdminCommand(name string) (map[string]any, error) {
	canon, ok := adminCommands[name]
	if !ok {
		return nil, ErrUnknownCommand
	}
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
			"log_dir_size":                 n,
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
		out["data_log_dir"] = s.cfg.DataDir
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
	st.mu.Lock()
	lop, lcxid, lzxid, lresp, llat := "NA", st.lastXid, st.lastZxid, st.lastResp, st.lastLat
	if st.hasLast {
		lop = opAbbrev(st.lastOp)
	}
	st.mu.Unlock()
	minL, avg, maxL, _ := st.latency.snapshot()
	var resp int64
	if !lresp.IsZero() {
		resp = lresp.UnixMilli()
	}
	m["session_id"] = c.session
	m["last_operation"] = lop
	m["established"] = st.established.UnixMilli()
	m["session_timeout"] = c.timeout.Milliseconds()
	m["last_cxid"] = lcxid
	m["last_zxid"] = lzxid
	m["last_response_time"] = resp
	m["last_latency"] = llat.Milliseconds()
	m["min_latency"] = minL.Milliseconds()
	m["avg_latency"] = avg.Milliseconds()
	m["max_latency"] = maxL.Milliseconds()
	return m
}
