package chaos

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"
)

// register is one znode as the model sees it.
type register struct {
	val string
	ver int32
}

// groupState is the model's state: the registers of one group. An array,
// so that states compare with ==.
type groupState [keysPerGroup]register

// registerModel is the sequential specification of a group of znodes
// under getData, setData with and without an expected version, and multi
// with version checks. An operation whose outcome is unknown may take
// effect or not: it returns at the end of the history, where it can be
// linearized last and change nothing anyone saw.
var registerModel = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		by := map[int][]porcupine.Operation{}
		var order []int
		for _, op := range history {
			g := op.Input.(*regOp).Group
			if by[g] == nil {
				order = append(order, g)
			}
			by[g] = append(by[g], op)
		}
		var out [][]porcupine.Operation
		for _, g := range order {
			out = append(out, by[g])
		}
		return out
	},
	Init: func() any {
		var s groupState
		for k := range s {
			s[k] = register{val: initValue}
		}
		return s
	},
	Step: func(state, input, _ any) (bool, any) {
		s := state.(groupState)
		op := input.(*regOp)
		switch op.Kind {
		case "read":
			r := s[op.Key]
			return r.val == op.OutValue && r.ver == op.OutVersion, s
		case "set", "cas":
			cond := op.Kind == "set" || s[op.Key].ver == op.Version
			switch op.Outcome {
			case OK:
				if !cond || op.OutVersion != s[op.Key].ver+1 {
					return false, s
				}
				s[op.Key] = register{op.Value, op.OutVersion}
				return true, s
			case Fail:
				return !cond, s
			default:
				if cond {
					s[op.Key] = register{op.Value, s[op.Key].ver + 1}
				}
				return true, s
			}
		case "multi":
			cond := true
			for _, sub := range op.Subs {
				cond = cond && s[sub.Key].ver == sub.Version
			}
			switch op.Outcome {
			case OK:
				if !cond {
					return false, s
				}
				for i, sub := range op.Subs {
					if !sub.Check {
						if op.OutVersions[i] != s[sub.Key].ver+1 {
							return false, s
						}
						s[sub.Key] = register{sub.Value, op.OutVersions[i]}
					}
				}
				return true, s
			case Fail:
				return !cond, s
			default:
				if cond {
					for _, sub := range op.Subs {
						if !sub.Check {
							s[sub.Key] = register{sub.Value, s[sub.Key].ver + 1}
						}
					}
				}
				return true, s
			}
		}
		panic("chaos: unknown register operation " + op.Kind)
	},
	DescribeOperation: func(input, _ any) string {
		return describeReg(input.(*regOp))
	},
	DescribeState: func(state any) string {
		s := state.(groupState)
		var parts []string
		for k, r := range s {
			parts = append(parts, fmt.Sprintf("k%d=%s@%d", k, r.val, r.ver))
		}
		return strings.Join(parts, " ")
	},
}

func describeReg(op *regOp) string {
	var in string
	switch op.Kind {
	case "read":
		in = fmt.Sprintf("read(k%d) -> %s@%d", op.Key, op.OutValue, op.OutVersion)
	case "set":
		in = fmt.Sprintf("set(k%d, %s)", op.Key, op.Value)
	case "cas":
		in = fmt.Sprintf("cas(k%d, %s, v%d)", op.Key, op.Value, op.Version)
	case "multi":
		var subs []string
		for _, s := range op.Subs {
			if s.Check {
				subs = append(subs, fmt.Sprintf("check(k%d, v%d)", s.Key, s.Version))
			} else {
				subs = append(subs, fmt.Sprintf("set(k%d, %s, v%d)", s.Key, s.Value, s.Version))
			}
		}
		in = "multi(" + strings.Join(subs, ", ") + ")"
	}
	if op.Kind != "read" {
		in += " -> " + string(op.Outcome)
		if op.Outcome == OK && op.Kind != "multi" {
			in += fmt.Sprintf(" v%d", op.OutVersion)
		}
	}
	return fmt.Sprintf("c%d@r%d: %s", op.Client, op.Replica, in)
}

// observation is a version of a register that a definite operation saw
// or made, and when that operation returned.
type observation struct {
	ver    int32
	val    string
	ret    int64
	call   int64
	reader bool
}

// prepareLinearizability turns the register history into porcupine's
// operations. It resolves unknown outcomes where the rest of the history
// decides them, which keeps the search small without changing the
// verdict: each register's versions are a total order of its writes, and
// every write's value is unique, so
//   - a conditional write expecting version v whose register was seen at
//     version v+1 with another value failed, and one that was seen with its
//     own value took effect before whoever saw it returned;
//   - a conditional write expecting v, called after some operation had
//     already returned a version above v, cannot succeed;
//   - an unconditional write whose value was seen took effect before the
//     first operation that saw it, or any later version, returned.
//
// Writes that certainly failed for another reason than their condition
// are dropped, since they changed nothing.
func prepareLinearizability(ops []*regOp) []porcupine.Operation {
	obs := map[[2]int][]observation{}
	add := func(g, k int, o observation) {
		obs[[2]int{g, k}] = append(obs[[2]int{g, k}], o)
	}
	var end int64
	for _, op := range ops {
		end = max(end, op.Return)
		if op.Outcome != OK {
			continue
		}
		switch op.Kind {
		case "read":
			add(op.Group, op.Key, observation{op.OutVersion, op.OutValue, op.Return, op.Call, true})
		case "set", "cas":
			add(op.Group, op.Key, observation{op.OutVersion, op.Value, op.Return, op.Call, false})
		case "multi":
			for i, s := range op.Subs {
				if !s.Check {
					add(op.Group, s.Key, observation{op.OutVersions[i], s.Value, op.Return, op.Call, false})
				}
			}
		}
	}
	groupsSeen := map[int]bool{}
	for _, op := range ops {
		groupsSeen[op.Group] = true
	}
	for g := range groupsSeen {
		for k := 0; k < keysPerGroup; k++ {
			add(g, k, observation{0, initValue, 0, 0, true})
		}
	}
	// at finds what was seen at version v; firstAtLeast is the earliest
	// return of an operation that saw version v or later; seenBefore the
	// highest version seen by an operation that returned before t.
	at := func(g, k int, v int32) (string, bool) {
		for _, o := range obs[[2]int{g, k}] {
			if o.ver == v {
				return o.val, true
			}
		}
		return "", false
	}
	firstAtLeast := func(g, k int, v int32) int64 {
		best := int64(math.MaxInt64)
		for _, o := range obs[[2]int{g, k}] {
			if o.ver >= v && o.ret < best {
				best = o.ret
			}
		}
		return best
	}
	seenBefore := func(g, k int, t int64) int32 {
		best := int32(-1)
		for _, o := range obs[[2]int{g, k}] {
			if o.ret < t && o.ver > best {
				best = o.ver
			}
		}
		return best
	}
	never := end + int64(time.Hour)

	var out []porcupine.Operation
	for _, op := range ops {
		if op.Kind == "get" {
			continue // not after a sync: sequentially consistent only
		}
		if op.Kind == "read" && op.Outcome != OK {
			continue
		}
		pop := porcupine.Operation{ClientId: op.Client + 1, Input: op, Output: op, Call: op.Call, Return: op.Return}
		if op.Outcome != Unknown {
			out = append(out, pop)
			continue
		}
		ret := never
		drop := false
		switch op.Kind {
		case "cas":
			if seenBefore(op.Group, op.Key, op.Call) > op.Version {
				drop = true
			} else if v, ok := at(op.Group, op.Key, op.Version+1); ok {
				if v == op.Value {
					ret = firstAtLeast(op.Group, op.Key, op.Version+1)
				} else {
					drop = true
				}
			}
		case "set":
			for _, o := range obs[[2]int{op.Group, op.Key}] {
				if o.val == op.Value {
					ret = min(ret, firstAtLeast(op.Group, op.Key, o.ver))
				}
			}
		case "multi":
			applied := false
			for _, s := range op.Subs {
				if seenBefore(op.Group, s.Key, op.Call) > s.Version {
					drop = true
				}
				if s.Check {
					continue
				}
				if v, ok := at(op.Group, s.Key, s.Version+1); ok {
					if v == s.Value {
						applied = true
						ret = min(ret, firstAtLeast(op.Group, s.Key, s.Version+1))
					} else {
						drop = true
					}
				}
			}
			if applied && drop {
				// The history contradicts itself; let the checker say so.
				drop = false
			}
		}
		if drop {
			continue
		}
		pop.Return = max(ret, op.Call)
		out = append(out, pop)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Call < out[j].Call })
	return out
}

// checkLinearizability checks the register history with porcupine and
// writes a visualization next to the history when it fails.
func checkLinearizability(rec *recorder, ops []*regOp, timeout time.Duration, vizPath string) (porcupine.CheckResult, int) {
	hist := prepareLinearizability(ops)
	res, info := porcupine.CheckOperationsVerbose(registerModel, hist, timeout)
	switch res {
	case porcupine.Illegal:
		if err := porcupine.VisualizePath(registerModel, info, vizPath); err == nil {
			rec.anomaly("not-linearizable", "the register history is not linearizable; see %s", vizPath)
		} else {
			rec.anomaly("not-linearizable", "the register history is not linearizable (visualization failed: %v)", err)
		}
	case porcupine.Unknown:
		rec.anomaly("linearizability-undecided", "porcupine did not decide within %v on %d operations", timeout, len(hist))
	}
	return res, len(hist)
}
