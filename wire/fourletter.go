package wire

import (
	"fmt"
	"strings"
	"time"

	"zkfs/tree"
)

// fourLetterWords are the words ZooKeeper 3.8 recognises in place of a
// first length prefix; the ones zkfs answers are in fourLetterHandlers.
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

// fourLetter answers a four-letter word and lets the connection close, as
// ZooKeeper does after writing the answer.
func (s *Server) fourLetter(c *conn, word string) {
	c.log.Debug("four-letter word", "word", word)
	var out string
	if !s.words[word] {
		out = word + " is not executed because it is not in the whitelist.\n"
	} else if h := fourLetterHandlers[word]; h != nil {
		out = h(s)
	} else {
		out = "Unknown command " + word + "\n"
	}
	c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	c.nc.Write([]byte(out))
}

var fourLetterHandlers map[string]func(*Server) string

func init() {
	fourLetterHandlers = map[string]func(*Server) string{
		"ruok": func(*Server) string { return "imok" },
		"isro": func(s *Server) string {
			if s.readOnly() {
				return "ro"
			}
			return "rw"
		},
		"srvr": (*Server).srvr,
	}
}

// srvr is the server summary.
func (s *Server) srvr() string {
	var b strings.Builder
	minL, avg, maxL, _ := s.stats.latency.snapshot()
	fmt.Fprintf(&b, "Zookeeper version: %s\n", s.version())
	fmt.Fprintf(&b, "Latency min/avg/max: %d/%s/%d\n", minL.Milliseconds(), avgMillis(avg), maxL.Milliseconds())
	fmt.Fprintf(&b, "Received: %d\n", s.stats.received.Load())
	fmt.Fprintf(&b, "Sent: %d\n", s.stats.sent.Load())
	fmt.Fprintf(&b, "Connections: %d\n", s.connCount())
	fmt.Fprintf(&b, "Outstanding: %d\n", s.outstanding())
	fmt.Fprintf(&b, "Zxid: 0x%x\n", s.rep.LastZxid())
	fmt.Fprintf(&b, "Mode: %s\n", s.mode())
	fmt.Fprintf(&b, "Node count: %d\n", s.nodeCount())
	return b.String()
}

func (s *Server) version() string {
	if s.cfg.Version != "" {
		return s.cfg.Version
	}
	return "zkfs"
}

func avgMillis(d time.Duration) string {
	return fmt.Sprintf("%.4f", float64(d)/float64(time.Millisecond))
}

func (s *Server) connCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) outstanding() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		n += len(c.slots)
	}
	return n
}

func (s *Server) nodeCount() int {
	var n int
	s.rep.Read(func(t *tree.Tree) { n = t.NodeCount() })
	return n
}
