package chaos

import (
	"fmt"
	"math/rand"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

const (
	ephParent = "/chaos/eph"
	// ephSessionTimeout is short, so that pauses and client partitions
	// outlast it and sessions expire during the run.
	ephSessionTimeout = 3 * time.Second
	// longSessionTimeout is ZooKeeper's default maximum (20 ticks), long
	// enough for a session to ride a restart of the whole ensemble.
	longSessionTimeout = 20 * time.Second
)

// ephSession is one session of an ephemeral client and the ephemeral
// nodes it made.
type ephSession struct {
	Client  int           `json:"client"`
	Replica int           `json:"replica"`
	Session int64         `json:"session"`
	Timeout time.Duration `json:"timeout"`
	Long    bool          `json:"long,omitempty"`
	Start   int64         `json:"start"`
	End     int64         `json:"end"`
	// EndKind says how the session ended: closed by the client (or
	// abandoned, left to expire), expired as the client learned, or
	// alive at the end of the run.
	EndKind string   `json:"endKind"`
	Acked   []string `json:"acked"`
	Unknown []string `json:"unknown,omitempty"`

	zc *zkConn
}

func ephName(client int, session int64, i int) string {
	return fmt.Sprintf("%s/c%d-%x-%d", ephParent, client, session, i)
}

// ephClient opens sessions, makes ephemeral nodes in them and checks,
// while the session lives, that they are there; then it closes the
// session or lets it expire.
type ephClient struct {
	run  *run
	id   int
	rng  *rand.Rand
	long bool
}

// loop runs sessions until stop. A long client's last session stays open
// and is returned, for the checks after the full restart.
func (ec *ephClient) loop(stop <-chan struct{}) *ephSession {
	for !stopped(stop) {
		s := ec.session(stop)
		if s == nil {
			sleep(stop, 300*time.Millisecond)
			continue
		}
		if s.EndKind == "alive" {
			return s
		}
		ec.run.rec.addSession(s)
	}
	return nil
}

func (ec *ephClient) session(stop <-chan struct{}) *ephSession {
	timeout := ephSessionTimeout
	if ec.long {
		timeout = longSessionTimeout
	}
	r := ec.run.cluster.pick(ec.rng)
	zc, err := dialZK(ec.run.clients, ec.id, r, timeout, nil)
	if err != nil {
		return nil
	}
	s := &ephSession{Client: ec.id, Replica: r.id, Session: zc.SessionID(), Timeout: timeout, Long: ec.long, Start: ec.run.rec.now(), zc: zc}
	dead := false
	for i := 0; i < 1+ec.rng.Intn(3) && !dead; i++ {
		name := ephName(ec.id, s.Session, i)
		var err error
		dead = within(regTimeout, zc, func() {
			_, err = zc.Create(name, []byte(fmt.Sprintf("%x", s.Session)), zk.FlagEphemeral, zk.WorldACL(zk.PermAll))
		})
		if zc.SessionID() != s.Session {
			err = fmt.Errorf("the session changed under the create")
		}
		switch outcomeOf(err) {
		case OK:
			s.Acked = append(s.Acked, name)
		case Unknown:
			s.Unknown = append(s.Unknown, name)
			dead = true
		}
		ec.run.rec.count("create-ephemeral", outcomeOf(err))
	}
	lifetime := time.Duration(3+ec.rng.Intn(12)) * time.Second
	end := time.Now().Add(lifetime)
	for !dead && (ec.long || time.Now().Before(end)) {
		if sleep(stop, time.Duration(300+ec.rng.Intn(400))*time.Millisecond) {
			if ec.long {
				s.EndKind = "alive" // kept open for the final checks
				return s
			}
			break
		}
		if zc.isExpired() {
			break
		}
		dead = ec.checkOwn(s)
	}
	if zc.isExpired() {
		s.EndKind = "expired"
	} else {
		s.EndKind = "closed"
	}
	zc.Close()
	s.End = ec.run.rec.now()
	return s
}

// checkOwn reads one of the session's own ephemeral nodes after a sync,
// in the same session: while the session answers, its node must be there
// and be its own. It reports whether the connection was given up.
func (ec *ephClient) checkOwn(s *ephSession) bool {
	if len(s.Acked) == 0 {
		return false
	}
	zc := s.zc
	name := s.Acked[ec.rng.Intn(len(s.Acked))]
	var (
		exists bool
		st     *zk.Stat
		err    error
	)
	before := zc.SessionID()
	dead := within(regTimeout, zc, func() {
		if _, err = zc.Sync(name); err == nil {
			exists, st, err = zc.Exists(name)
		}
	})
	after := zc.SessionID()
	if err != nil || dead || before != s.Session || after != s.Session || zc.isExpired() {
		return dead
	}
	ec.run.rec.count("ephemeral-check", OK)
	switch {
	case !exists:
		ec.run.rec.anomaly("ephemeral-vanished", "session %#x of client %d (replica %d) still answers but its ephemeral %s is gone",
			s.Session, ec.id, s.Replica, name)
	case st.EphemeralOwner != s.Session:
		ec.run.rec.anomaly("ephemeral-owner", "%s is owned by %#x, want %#x", name, st.EphemeralOwner, s.Session)
	}
	return false
}

// checkEphemerals compares the final listing of the ephemeral parent
// with the sessions: a node remains if and only if its session is still
// alive.
func checkEphemerals(rec *recorder, sessions []*ephSession, listing map[string]int64) {
	owner := map[string]*ephSession{}
	for _, s := range sessions {
		for _, n := range append(append([]string(nil), s.Acked...), s.Unknown...) {
			owner[strings.TrimPrefix(n, ephParent+"/")] = s
		}
	}
	for name, own := range listing {
		s, ok := owner[name]
		switch {
		case !ok:
			rec.anomaly("ephemeral-phantom", "%s/%s (owner %#x) was not made by any client", ephParent, name, own)
		case s.EndKind != "alive":
			rec.anomaly("ephemeral-outlived-session", "%s/%s remains although its session %#x was %s at %.3fs",
				ephParent, name, s.Session, s.EndKind, secs(s.End))
		case own != s.Session:
			rec.anomaly("ephemeral-owner", "%s/%s is owned by %#x, want %#x", ephParent, name, own, s.Session)
		}
	}
	for _, s := range sessions {
		if s.EndKind != "alive" {
			continue
		}
		for _, n := range s.Acked {
			if _, ok := listing[strings.TrimPrefix(n, ephParent+"/")]; !ok {
				rec.anomaly("ephemeral-vanished", "%s is gone although its session %#x is alive", n, s.Session)
			}
		}
	}
}
