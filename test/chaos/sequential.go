package chaos

import (
	"fmt"
	"math/rand"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"
)

// seqParents is how many parents the sequential creates share.
const seqParents = 2

func seqParent(p int) string { return fmt.Sprintf("/chaos/seq/p%d", p) }

// seqOp is one create of a sequential node. Its data is unique, so the
// final listing tells which attempt made which node.
type seqOp struct {
	Client  int     `json:"client"`
	Replica int     `json:"replica"`
	Parent  int     `json:"parent"`
	Data    string  `json:"data"`
	Outcome Outcome `json:"outcome"`
	Name    string  `json:"name,omitempty"`
	Err     string  `json:"err,omitempty"`
	Call    int64   `json:"call"`
	Return  int64   `json:"return"`
}

// seqNumber returns the ten-digit counter ZooKeeper appends.
func seqNumber(name string) (int64, error) {
	if len(name) < 10 {
		return 0, fmt.Errorf("%q has no sequence number", name)
	}
	return strconv.ParseInt(name[len(name)-10:], 10, 64)
}

type seqClient struct {
	run *run
	id  int
	rng *rand.Rand
	n   int
}

func (sc *seqClient) loop(stop <-chan struct{}) {
	var zc *zkConn
	defer func() {
		if zc != nil {
			zc.Close()
		}
	}()
	for !stopped(stop) {
		if zc == nil {
			var err error
			if zc, err = dialZK(sc.run.clients, sc.id, sc.run.cluster.pick(sc.rng), regSessionTimeout, nil); err != nil {
				zc = nil
				sleep(stop, 300*time.Millisecond)
				continue
			}
		}
		sc.n++
		op := &seqOp{Client: sc.id, Replica: zc.replica, Parent: sc.rng.Intn(seqParents), Data: fmt.Sprintf("s%d-%d", sc.id, sc.n)}
		closed := within(regTimeout, zc, func() {
			op.Call = sc.run.rec.now()
			name, err := zc.Create(seqParent(op.Parent)+"/n-", []byte(op.Data), zk.FlagSequence, zk.WorldACL(zk.PermAll))
			op.Return = sc.run.rec.now()
			op.Outcome = outcomeOf(err)
			if err != nil {
				op.Err = err.Error()
			} else {
				op.Name = name
			}
		})
		sc.run.rec.addSeq(op)
		if closed || op.Outcome != OK || sc.rng.Intn(100) == 0 {
			zc.Close()
			zc = nil
		}
		sleep(stop, time.Duration(10+sc.rng.Intn(30))*time.Millisecond)
	}
}

// checkSequential checks the creates against each other and against the
// final listing of each parent (name to data): names are unique and
// increase with real time; every acknowledged node is there with its own
// data; no attempt made two nodes; no node comes from an attempt that
// certainly failed or from nowhere.
func checkSequential(rec *recorder, ops []*seqOp, final []map[string]string) {
	for p := 0; p < seqParents; p++ {
		var acked []*seqOp
		byData := map[string]*seqOp{}
		for _, op := range ops {
			if op.Parent != p {
				continue
			}
			byData[op.Data] = op
			if op.Outcome == OK {
				acked = append(acked, op)
			}
		}
		names := map[string]*seqOp{}
		for _, op := range acked {
			if prev, dup := names[op.Name]; dup {
				rec.anomaly("sequential-duplicate", "%s was returned to two creates: %s and %s", op.Name, prev.Data, op.Data)
			}
			names[op.Name] = op
			if !strings.HasPrefix(op.Name, seqParent(p)+"/n-") {
				rec.anomaly("sequential-name", "create under %s returned %q", seqParent(p), op.Name)
			}
		}
		// A create that returned before another was called has the lower
		// number: sweep the creates by call time, keeping the highest
		// number among those that had returned.
		byCall := append([]*seqOp(nil), acked...)
		sort.Slice(byCall, func(i, j int) bool { return byCall[i].Call < byCall[j].Call })
		byRet := append([]*seqOp(nil), acked...)
		sort.Slice(byRet, func(i, j int) bool { return byRet[i].Return < byRet[j].Return })
		var highest int64 = -1
		var highestOp *seqOp
		j := 0
		for _, op := range byCall {
			for ; j < len(byRet) && byRet[j].Return < op.Call; j++ {
				if n, err := seqNumber(byRet[j].Name); err == nil && n > highest {
					highest, highestOp = n, byRet[j]
				}
			}
			n, err := seqNumber(op.Name)
			if err != nil {
				rec.anomaly("sequential-name", "%v", err)
				continue
			}
			if n <= highest {
				rec.anomaly("sequential-order", "%s (%s, called at %.3fs) is not above %s (%s, returned at %.3fs before it was called)",
					op.Name, op.Data, secs(op.Call), highestOp.Name, highestOp.Data, secs(highestOp.Return))
			}
		}
		if final == nil {
			continue
		}
		listing := final[p]
		seenData := map[string]string{}
		for name, data := range listing {
			if other, dup := seenData[data]; dup {
				rec.anomaly("sequential-applied-twice", "one create (%s) made both %s and %s", data, other, name)
			}
			seenData[data] = name
			op, ok := byData[data]
			switch {
			case !ok:
				rec.anomaly("sequential-phantom", "%s/%s holds %q, which no client wrote", seqParent(p), name, data)
			case op.Outcome == Fail:
				rec.anomaly("sequential-phantom", "%s/%s comes from a create that failed with %s", seqParent(p), name, op.Err)
			case op.Outcome == OK && seqParent(p)+"/"+name != op.Name:
				rec.anomaly("sequential-mismatch", "%s's create returned %s but made %s/%s", data, op.Name, seqParent(p), name)
			}
		}
		for _, op := range acked {
			name := strings.TrimPrefix(op.Name, seqParent(p)+"/")
			if got, ok := listing[name]; !ok {
				rec.anomaly("lost-acknowledged-write", "acknowledged sequential node %s (%s) is missing after the full restart", op.Name, op.Data)
			} else if got != op.Data {
				rec.anomaly("sequential-mismatch", "%s holds %q, want %q", op.Name, got, op.Data)
			}
		}
	}
}

func secs(t int64) float64 { return float64(t) / 1e9 }
