package chaos

import (
	"fmt"
	"math/rand"
	"time"

	"github.com/go-zookeeper/zk"
)

// The registers are znodes that the porcupine model treats as one
// register each, value and version, in groups: a multi changes several
// registers of one group at once, so a group is the unit of the check.
// Clients use groupsPerEpoch groups at a time and move to fresh ones
// every epoch: a long run then keeps the contention of a short one on
// each register, while each group's history, and with it porcupine's
// search (its memory grows with the square of a group's length), stays
// as short as a two-minute run's.
const (
	groupsPerEpoch = 6
	epoch          = 2 * time.Minute
	keysPerGroup   = 3
	// regTimeout bounds one operation; past it the client gives up on its
	// connection and the operation's outcome is unknown.
	regTimeout = 8 * time.Second
	// regSessionTimeout is the register clients' session timeout.
	regSessionTimeout = 6 * time.Second
	initValue         = "init"
)

func regPath(g, k int) string { return fmt.Sprintf("/chaos/reg/g%d-k%d", g, k) }

// subOp is one operation of a multi: a version check, or a setData with
// an expected version.
type subOp struct {
	Check   bool   `json:"check,omitempty"`
	Key     int    `json:"key"`
	Value   string `json:"value,omitempty"`
	Version int32  `json:"version"`
}

// regOp is one operation on the registers, with what came of it.
type regOp struct {
	Client  int     `json:"client"`
	Replica int     `json:"replica"`
	Session int64   `json:"session"`
	Kind    string  `json:"kind"` // read (sync, then getData), get (no sync), set, cas, multi
	Group   int     `json:"group"`
	Key     int     `json:"key"`
	Value   string  `json:"value,omitempty"`
	Version int32   `json:"version"` // expected version of a cas
	Subs    []subOp `json:"subs,omitempty"`

	Outcome     Outcome `json:"outcome"`
	OutValue    string  `json:"outValue,omitempty"`
	OutVersion  int32   `json:"outVersion"`            // read: the version read; set, cas: the new version
	OutVersions []int32 `json:"outVersions,omitempty"` // multi: the new version of each sub, -1 for checks
	Err         string  `json:"err,omitempty"`
	Call        int64   `json:"call"`
	Return      int64   `json:"return"`
}

// registerClient runs register operations through one replica at a time
// until stop, reconnecting to a random replica after any doubt.
type registerClient struct {
	run   *run
	id    int
	rng   *rand.Rand
	n     int
	known map[[2]int]int32 // the newest version this client saw, by group and key
	// seen is the newest version seen per register on the current
	// connection: a session's view never goes back.
	seen map[[2]int]int32
}

func (rc *registerClient) loop(stop <-chan struct{}) {
	var zc *zkConn
	defer func() {
		if zc != nil {
			zc.Close()
		}
	}()
	for !stopped(stop) {
		if zc == nil {
			r := rc.run.cluster.pick(rc.rng)
			var err error
			zc, err = dialZK(rc.run.clients, rc.id, r, regSessionTimeout, nil)
			if err != nil {
				zc = nil
				sleep(stop, 300*time.Millisecond)
				continue
			}
			rc.seen = map[[2]int]int32{}
		}
		op := rc.next()
		op.Replica, op.Session = zc.replica, zc.SessionID()
		closed := within(regTimeout, zc, func() { rc.do(zc, op) })
		rc.check(op)
		if op.Kind == "read" || op.Kind == "get" {
			if op.Outcome == OK {
				rc.run.rec.addReg(op)
			} else {
				rc.run.rec.count(op.Kind, op.Outcome)
			}
		} else {
			rc.run.rec.addReg(op)
		}
		if closed || op.Outcome == Unknown || zc.isExpired() || rc.rng.Intn(300) == 0 {
			zc.Close()
			zc = nil
		}
		sleep(stop, time.Duration(5+rc.rng.Intn(20))*time.Millisecond)
	}
}

// next chooses the next operation.
func (rc *registerClient) next() *regOp {
	rc.n++
	g, k := rc.run.activeGroup(rc.rng), rc.rng.Intn(keysPerGroup)
	op := &regOp{Client: rc.id, Group: g, Key: k, Value: fmt.Sprintf("c%d-%d", rc.id, rc.n)}
	switch p := rc.rng.Intn(100); {
	case p < 35:
		op.Kind = "read"
	case p < 45:
		op.Kind = "get"
	case p < 75:
		op.Kind, op.Version = "cas", rc.known[[2]int{g, k}]
	case p < 80:
		op.Kind = "set"
	default:
		op.Kind = "multi"
		k2 := (k + 1 + rc.rng.Intn(keysPerGroup-1)) % keysPerGroup
		first := subOp{Key: k, Version: rc.known[[2]int{g, k}], Value: op.Value + "a"}
		if rc.rng.Intn(2) == 0 {
			first = subOp{Check: true, Key: k, Version: rc.known[[2]int{g, k}]}
		}
		op.Subs = []subOp{first, {Key: k2, Version: rc.known[[2]int{g, k2}], Value: op.Value + "b"}}
		op.Value = ""
	}
	return op
}

// do runs the operation and fills in its outcome.
func (rc *registerClient) do(zc *zkConn, op *regOp) {
	path := regPath(op.Group, op.Key)
	op.Call = rc.run.rec.now()
	defer func() { op.Return = rc.run.rec.now() }()
	var err error
	switch op.Kind {
	case "read", "get":
		if op.Kind == "read" {
			if _, err = zc.Sync(path); err != nil {
				break
			}
		}
		var data []byte
		var st *zk.Stat
		if data, st, err = zc.Get(path); err == nil {
			op.OutValue, op.OutVersion = string(data), st.Version
		}
		if err != nil {
			op.Outcome = Fail // a read that failed changed nothing
		} else {
			op.Outcome = OK
		}
	case "set", "cas":
		v := int32(-1)
		if op.Kind == "cas" {
			v = op.Version
		}
		var st *zk.Stat
		st, err = zc.Set(path, []byte(op.Value), v)
		op.Outcome = outcomeOf(err)
		if err == nil {
			op.OutVersion = st.Version
		}
	case "multi":
		var ops []any
		for _, s := range op.Subs {
			p := regPath(op.Group, s.Key)
			if s.Check {
				ops = append(ops, &zk.CheckVersionRequest{Path: p, Version: s.Version})
			} else {
				ops = append(ops, &zk.SetDataRequest{Path: p, Data: []byte(s.Value), Version: s.Version})
			}
		}
		var res []zk.MultiResponse
		res, err = zc.Multi(ops...)
		op.Outcome = outcomeOf(err)
		if err == nil {
			if len(res) != len(op.Subs) {
				op.Outcome = Unknown
				err = fmt.Errorf("multi answered %d results for %d operations", len(res), len(op.Subs))
				break
			}
			for i, s := range op.Subs {
				v := int32(-1)
				if !s.Check && res[i].Stat != nil {
					v = res[i].Stat.Version
				}
				op.OutVersions = append(op.OutVersions, v)
			}
		}
	}
	if err != nil {
		op.Err = err.Error()
	}
}

// check updates what the client knows and checks that its session's view
// never goes back: a later operation on the same connection sees at least
// the versions an earlier one saw or made.
func (rc *registerClient) check(op *regOp) {
	if op.Outcome != OK {
		return
	}
	saw := func(k int, v int32, what string) {
		key := [2]int{op.Group, k}
		if prev, ok := rc.seen[key]; ok && v < prev && what == "read" {
			rc.run.rec.anomaly("session-view-went-back",
				"client %d on replica %d (session %#x): %s of %s returned version %d after the session had seen version %d",
				rc.id, op.Replica, op.Session, op.Kind, regPath(op.Group, k), v, prev)
		}
		rc.seen[key] = max(rc.seen[key], v)
		rc.known[key] = max(rc.known[key], v)
	}
	switch op.Kind {
	case "read", "get":
		saw(op.Key, op.OutVersion, "read")
	case "set", "cas":
		saw(op.Key, op.OutVersion, "write")
	case "multi":
		for i, s := range op.Subs {
			if !s.Check {
				saw(s.Key, op.OutVersions[i], "write")
			}
		}
	}
}

// groupCount is the number of register groups of the whole run: one set
// of groupsPerEpoch per epoch of the run.
func groupCount(d time.Duration) int {
	return groupsPerEpoch * max(1, int((d+epoch-1)/epoch))
}

// activeGroup picks a group of the current epoch.
func (rn *run) activeGroup(rng *rand.Rand) int {
	e := min(int(time.Duration(rn.rec.now())/epoch), groupCount(rn.cfg.Duration)/groupsPerEpoch-1)
	return e*groupsPerEpoch + rng.Intn(groupsPerEpoch)
}
