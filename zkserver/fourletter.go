package zkserver

import (
	"fmt"
	"io/fs"
	"net"
	"os"
	osuser "os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"zkfs/tree"
)

// fourLetterWords are the words ZooKeeper 3.8 recognises in place of a
// first length prefix. A connection whose first four bytes spell one is a
// four-letter-word query, never a session: as a length prefix each of them
// would be far above any packet limit.
var fourLetterWords = map[string]bool{
	"conf": true, "cons": true, "crst": true, "dump": true, "envi": true,
	"gtmk": true, "ruok": true, "stmk": true, "srst": true, "srvr": true,
	"stat": true, "wchc": true, "wchp": true, "wchs": true, "mntr": true,
	"isro": true, "dirs": true, "hash": true,
}

func isFourLetterWord(w string) bool { return fourLetterWords[w] }

// parseWhitelist reads 4lw.commands.whitelist: comma-separated words, "*"
// for every word.
func parseWhitelist(words []string) (map[string]bool, error) {
	out := make(map[string]bool)
	for _, w := range words {
		for _, f := range strings.Split(w, ",") {
			f = strings.TrimSpace(f)
			switch {
			case f == "":
			case f == "*":
				for k := range fourLetterWords {
					out[k] = true
				}
			case fourLetterWords[f]:
				out[f] = true
			default:
				return nil, fmt.Errorf("wire: unknown four-letter word %q in the whitelist", f)
			}
		}
	}
	return out, nil
}

// fourLetter answers a four-letter word; the connection then closes, as
// ZooKeeper closes it after writing the answer.
func (s *Server) fourLetter(c *conn, word string) {
	c.log.Debug("four-letter word", "word", word)
	var out string
	if !s.words[word] {
		out = word + " is not executed because it is not in the whitelist.\n"
	} else if h := fourLetterHandlers[word]; h != nil {
		out = h(s, c)
	} else {
		out = "Unknown command " + word + "\n"
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.nc.Write([]byte(out))
}

var fourLetterHandlers map[string]func(*Server, *conn) string

func init() {
	fourLetterHandlers = map[string]func(*Server, *conn) string{
		"ruok": func(*Server, *conn) string { return "imok" },
		"isro": func(s *Server, _ *conn) string {
			if s.readOnly() {
				return "ro"
			}
			return "rw"
		},
		"srvr": func(s *Server, _ *conn) string { return s.srvr(false) },
		"stat": func(s *Server, _ *conn) string { return s.srvr(true) },
		"cons": func(s *Server, _ *conn) string { return s.cons() },
		"crst": func(s *Server, _ *conn) string {
			for _, c := range s.connList() {
				c.stats.latency.reset()
			}
			return "Connection stats reset.\n"
		},
		"srst": func(s *Server, _ *conn) string {
			s.stats.latency.reset()
			s.stats.received.Store(0)
			s.stats.sent.Store(0)
			return "Server stats reset.\n"
		},
		"conf": func(s *Server, _ *conn) string { return s.conf() },
		"envi": func(s *Server, _ *conn) string { return s.envi() },
		"dirs": func(s *Server, _ *conn) string {
			return fmt.Sprintf("datadir_size: %d\nlogdir_size: %d\n", dirSize(s.cfg.DataDir), dirSize(s.logDir()))
		},
		"wchs": func(s *Server, _ *conn) string {
			w := s.watches.summary()
			return fmt.Sprintf("%d connections watching %d paths\nTotal watches:%d\n", w.conns, w.paths, w.watches)
		},
		"wchc": func(s *Server, _ *conn) string { return s.watches.dump(false) },
		"wchp": func(s *Server, _ *conn) string { return s.watches.dump(true) },
		"mntr": func(s *Server, _ *conn) string { return s.mntr() },
		"dump": func(s *Server, _ *conn) string { return s.dump() },
	}
}

// version is the version the words report. Tools parse the ZooKeeper
// version out of srvr, so it leads with the protocol zkfs speaks.
func (s *Server) version() string {
	v := s.cfg.Version
	if v == "" {
		v = "dev"
	}
	return "3.8.0-zkfs-" + v
}

// srvr is the server summary; stat adds the client list after the version.
func (s *Server) srvr(clients bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Zookeeper version: %s\n", s.version())
	if clients {
		b.WriteString("Clients:\n")
		for _, c := range s.connList() {
			b.WriteString(c.brief())
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
	minL, avg, maxL, _ := s.stats.latency.snapshot()
	fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", minL.Milliseconds(), javaMillis(avg), maxL.Milliseconds())
	fmt.Fprintf(&b, "Received: %d\n", s.stats.received.Load())
	fmt.Fprintf(&b, "Sent: %d\n", s.stats.sent.Load())
	fmt.Fprintf(&b, "Connections: %d\n", s.connCount())
	fmt.Fprintf(&b, "Outstanding: %d\n", s.outstanding())
	fmt.Fprintf(&b, "Zxid: 0x%x\n", s.rep.LastZxid())
	fmt.Fprintf(&b, "Mode: %s\n", s.mode())
	fmt.Fprintf(&b, "Node count: %d\n", s.znodeCount())
	return b.String()
}

// cons lists every connection with its statistics.
func (s *Server) cons() string {
	var b strings.Builder
	for _, c := range s.connList() {
		b.WriteString(c.detail())
		b.WriteString("\n")
	}
	b.WriteString("\n")
	return b.String()
}

// brief is a connection's line in stat.
func (c *conn) brief() string {
	return fmt.Sprintf(" /%s[%d](queued=%d,recved=%d,sent=%d)", c.nc.RemoteAddr(), c.interest(), len(c.slots), c.stats.received.Load(), c.stats.sent.Load())
}

// detail is a connection's line in cons; sessionless connections (the one
// asking, for one) get the brief form, as in ZooKeeper.
func (c *conn) detail() string {
	if !c.ready.Load() || c.closed.Load() {
		return c.brief()
	}
	st := &c.stats
	l := st.last()
	return fmt.Sprintf(" /%s[%d](queued=%d,recved=%d,sent=%d,sid=0x%x,lop=%s,est=%d,to=%d,lcxid=0x%x,lzxid=0x%x,lresp=%d,llat=%d,minlat=%d,avglat=%d,maxlat=%d)",
		c.nc.RemoteAddr(), c.interest(), len(c.slots), st.received.Load(), st.sent.Load(),
		uint64(c.session), l.op, st.established.UnixMilli(), c.timeout.Milliseconds(),
		uint32(l.cxid), uint64(l.zxid), l.respMillis, l.latency.Milliseconds(), l.min.Milliseconds(), l.avg.Milliseconds(), l.max.Milliseconds())
}

// interest mirrors the selector interest ZooKeeper prints: 1 while the
// connection reads requests, 0 while it is throttled or answering a word.
func (c *conn) interest() int {
	if !c.ready.Load() || len(c.slots) >= cap(c.slots) {
		return 0
	}
	return 1
}

// conf reports the configuration in zoo.cfg's names.
func (s *Server) conf() string {
	var b strings.Builder
	fmt.Fprintf(&b, "clientPort=%d\n", s.clientPort())
	b.WriteString("secureClientPort=-1\n")
	fmt.Fprintf(&b, "dataDir=%s\n", s.cfg.DataDir)
	fmt.Fprintf(&b, "dataDirSize=%d\n", dirSize(s.cfg.DataDir))
	fmt.Fprintf(&b, "dataLogDir=%s\n", s.logDir())
	fmt.Fprintf(&b, "dataLogSize=%d\n", dirSize(s.logDir()))
	fmt.Fprintf(&b, "tickTime=%d\n", s.cfg.TickTime.Milliseconds())
	fmt.Fprintf(&b, "maxClientCnxns=%d\n", s.cfg.MaxClientCnxns)
	fmt.Fprintf(&b, "minSessionTimeout=%d\n", s.cfg.MinSessionTimeout.Milliseconds())
	fmt.Fprintf(&b, "maxSessionTimeout=%d\n", s.cfg.MaxSessionTimeout.Milliseconds())
	b.WriteString("clientPortListenBacklog=-1\n")
	fmt.Fprintf(&b, "serverId=%d\n", s.cfg.ServerID)
	return b.String()
}

// envi reports the environment; Go's facts stand where Java's would.
func (s *Server) envi() string {
	var b strings.Builder
	b.WriteString("Environment:\n")
	host, _ := os.Hostname()
	wd, _ := os.Getwd()
	home, _ := os.UserHomeDir()
	user := strconv.Itoa(os.Getuid())
	if u, err := osuser.Current(); err == nil {
		user = u.Username
	}
	var uts syscall.Utsname
	osVersion := ""
	if syscall.Uname(&uts) == nil {
		osVersion = utsString(uts.Release[:])
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	kv := [][2]string{
		{"zookeeper.version", s.version()},
		{"host.name", host},
		{"go.version", runtime.Version()},
		{"os.name", osName()},
		{"os.arch", runtime.GOARCH},
		{"os.version", osVersion},
		{"user.name", user},
		{"user.home", home},
		{"user.dir", wd},
		{"os.memory.free", fmt.Sprintf("%dMB", (ms.HeapSys-ms.HeapInuse)>>20)},
		{"os.memory.max", fmt.Sprintf("%dMB", ms.Sys>>20)},
		{"os.memory.total", fmt.Sprintf("%dMB", ms.HeapSys>>20)},
	}
	for _, p := range kv {
		fmt.Fprintf(&b, "%s=%s\n", p[0], p[1])
	}
	return b.String()
}

func osName() string {
	if runtime.GOOS == "linux" {
		return "Linux"
	}
	return runtime.GOOS
}

func utsString(b []int8) string {
	var sb strings.Builder
	for _, c := range b {
		if c == 0 {
			break
		}
		sb.WriteByte(byte(c))
	}
	return sb.String()
}

// mntr reports the metrics that monitoring scripts read, in ZooKeeper's
// names, tab-separated.
func (s *Server) mntr() string {
	var b strings.Builder
	for _, f := range s.monitorFields() {
		fmt.Fprintf(&b, "zk_%s\t%v\n", f.key, f.value)
	}
	return b.String()
}

// monitorField is one figure of mntr, named as ZooKeeper's monitor
// command names it (the four-letter word adds "zk_").
type monitorField struct {
	key   string
	value any
}

// monitorFields are mntr's figures, shared by the four-letter word and
// the admin command.
func (s *Server) monitorFields() []monitorField {
	minL, avg, maxL, _ := s.stats.latency.snapshot()
	var sessions, ephemerals int
	s.rep.Read(func(t *tree.Tree) {
		ss := t.Sessions()
		sessions = len(ss)
		for _, x := range ss {
			ephemerals += len(t.Ephemerals(x.ID))
		}
	})
	open, maxFD := fileDescriptors()
	syncs, writes := s.rep.LogStats()
	return []monitorField{
		{"version", s.version()},
		{"server_state", s.mode()},
		{"ephemerals_count", ephemerals},
		{"num_alive_connections", s.connCount()},
		{"avg_latency", javaDouble(avg)},
		{"outstanding_requests", s.outstanding()},
		{"znode_count", s.znodeCount()},
		{"global_sessions", sessions},
		{"packets_sent", s.stats.sent.Load()},
		{"packets_received", s.stats.received.Load()},
		{"watch_count", s.watches.total()},
		{"min_latency", minL.Milliseconds()},
		{"max_file_descriptor_count", maxFD},
		{"open_file_descriptor_count", open},
		{"local_sessions", 0},
		{"uptime", time.Since(s.started).Milliseconds()},
		{"max_latency", maxL.Milliseconds()},
		// zkfs's own: the Raft log's synced appends and the writes
		// they carried (writes per fsync).
		{"log_syncs", syncs},
		{"log_writes", writes},
	}
}

// dump lists the sessions and their ephemeral nodes.
func (s *Server) dump() string {
	var b strings.Builder
	var sessions []tree.Session
	eph := make(map[int64][]string)
	s.rep.Read(func(t *tree.Tree) {
		sessions = t.Sessions()
		for _, x := range sessions {
			if e := t.Ephemerals(x.ID); len(e) > 0 {
				eph[x.ID] = e
			}
		}
	})
	fmt.Fprintf(&b, "SessionTracker dump:\nGlobal Sessions(%d):\n", len(sessions))
	for _, x := range sessions {
		fmt.Fprintf(&b, "0x%x\t%dms\n", uint64(x.ID), x.Timeout)
	}
	fmt.Fprintf(&b, "ephemeral nodes dump:\nSessions with Ephemerals (%d):\n", len(eph))
	for _, x := range sessions {
		paths := eph[x.ID]
		if len(paths) == 0 {
			continue
		}
		fmt.Fprintf(&b, "0x%x:\n", uint64(x.ID))
		for _, p := range paths {
			fmt.Fprintf(&b, "\t%s\n", p)
		}
	}
	b.WriteString("Connections dump:\n")
	return b.String()
}

// javaMillis formats an average latency as ZooKeeper does: milliseconds
// rounded to four decimals, printed as a Java double ("0.0", "1.2802").
func javaMillis(d time.Duration) string { return javaDouble(d).String() }

// javaDouble is an average latency in milliseconds, rounded to four
// decimals as ZooKeeper rounds it: a Java double in text, a number in
// JSON.
type javaDouble time.Duration

func (d javaDouble) ms() float64 {
	ms := float64(d) / float64(time.Millisecond)
	return float64(int64(ms*10000+0.5)) / 10000
}

func (d javaDouble) String() string {
	out := strconv.FormatFloat(d.ms(), 'f', -1, 64)
	if !strings.Contains(out, ".") {
		out += ".0"
	}
	return out
}

// MarshalJSON writes the number as Jackson writes a double.
func (d javaDouble) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

func (s *Server) connList() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].stats.established.Before(out[j].stats.established) })
	return out
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) outstanding() int {
	n := 0
	for _, c := range s.connList() {
		n += len(c.slots)
	}
	return n
}

// znodeCount is ZooKeeper's znode_count, which counts the root twice.
func (s *Server) znodeCount() int {
	var n int
	s.rep.Read(func(t *tree.Tree) { n = t.NodeCount() })
	return n + 1
}

// clientPort is the lowest port the server listens on, for conf.
func (s *Server) clientPort() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	port := 0
	for l := range s.listeners {
		if a, ok := l.Addr().(*net.TCPAddr); ok && (port == 0 || a.Port < port) {
			port = a.Port
		}
	}
	return port
}

// dirSize is the total size of the regular files under dir.
func dirSize(dir string) int64 {
	var n int64
	if dir == "" {
		return 0
	}
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}

// fileDescriptors returns the open descriptors and the limit, as the
// Unix-only mntr lines report them.
func fileDescriptors() (open, limit int64) {
	if ents, err := os.ReadDir("/proc/self/fd"); err == nil {
		open = int64(len(ents))
	}
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		limit = int64(rl.Cur)
	}
	return open, limit
}
