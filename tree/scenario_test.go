package tree

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The scenario files under testdata/ are replayed against a Tree here and,
// outside this repository, against a real ZooKeeper 3.8 by a probe that
// speaks the same format; their expected results are what ZooKeeper did.
//
// Format: "> " starts a command; "| " lines right after it are a multi's
// operations; the other lines up to the next command are its expected
// output. Lines starting with "#" are comments, except "#~ watched: ..."
// which lists the watch notifications ZooKeeper delivered for the command
// (see projectWatches). Command number N (counting from 1; the implicit
// "session main" is 0) has zxid 1000+100*N, and "#N" in a stat names it.
//
// Commands (options before arguments; data may be a Go-quoted string):
//
//	session NAME | close NAME | addauth NAME digest USER:PASS
//	create [-e] [-s] [-c] [-t TTL] [-k dir] [-as NAME] [-acl ACL] PATH [DATA]
//	delete [-as NAME] PATH [VERSION]     set [-as NAME] PATH DATA [VERSION]
//	setacl [-as NAME] PATH ACL [VERSION] check [-as NAME] PATH VERSION
//	multi [-as NAME]                     wait MS
//
// After every write, and after "wait" moves the clock, whatever Reapable
// lists is reaped, as ZooKeeper's ContainerManager does on its timer.
//	stat|get|ls|getacl PATH
//	zkfs only: kind PATH | setkind [-as NAME] PATH dir|file | reap PATH |
//	count PATH | ttl PATH | ephemerals NAME | reapable
//
// ACL is "none" or comma-separated scheme:id:perms with perms from "cdrwa".
// The probe's server has superDigest super:secret, so "addauth X digest
// super:secret" makes X a super user; every session also has ip:127.0.0.1.

// rewriteEvents regenerates the "events:" lines, which are this package's
// own account (ZooKeeper's side of them is the "#~ watched" line, which is
// checked either way).
var rewriteEvents = flag.Bool("rewrite-events", false, "rewrite the events: lines of testdata/*.txt")

type scenarioCmd struct {
	line  string
	sub   []string
	want  []string
	index int
}

func parseScenario(t *testing.T, file string) (preamble []string, cmds []*scenarioCmd) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cur *scenarioCmd
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if cur == nil && !strings.HasPrefix(l, "> ") {
			preamble = append(preamble, l)
			continue
		}
		switch {
		case strings.HasPrefix(l, "> "):
			cur = &scenarioCmd{line: l[2:], index: len(cmds) + 1}
			cmds = append(cmds, cur)
		case cur == nil || strings.TrimSpace(l) == "":
		case strings.HasPrefix(l, "| ") && len(cur.want) == 0:
			cur.sub = append(cur.sub, l[2:])
		default:
			cur.want = append(cur.want, l)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return preamble, cmds
}

func TestScenarios(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no scenario files")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			runScenario(t, file)
		})
	}
}

const scenarioStart = 1_700_000_000_000

type scenario struct {
	t        *testing.T
	tree     *Tree
	ids      map[string]int64
	names    map[int64]string
	idents   map[string]Identity
	named    map[string]bool
	clock    int64
	timeOf   map[int64]int64 // zxid -> command time
	cur      int
	nextZxid int64
}

func runScenario(t *testing.T, file string) {
	s := &scenario{
		t: t, tree: New(Config{}),
		ids: map[string]int64{}, names: map[int64]string{}, idents: map[string]Identity{},
		named: map[string]bool{}, clock: scenarioStart, timeOf: map[int64]int64{},
	}
	s.openSession("main", 0)
	preamble, cmds := parseScenario(t, file)
	rewritten := append([]string(nil), preamble...)
	for _, c := range cmds {
		s.cur = c.index
		s.clock++
		s.nextZxid = 1000 + 100*int64(c.index)
		got, watched := s.run(c)
		if *rewriteEvents {
			rewritten = append(rewritten, "> "+c.line)
			for _, l := range c.sub {
				rewritten = append(rewritten, "| "+l)
			}
			var comments []string
			for _, l := range c.want {
				switch {
				case strings.HasPrefix(l, "events:"):
				case strings.HasPrefix(l, "#"):
					comments = append(comments, l)
				default:
					rewritten = append(rewritten, l)
				}
			}
			for _, l := range got {
				if strings.HasPrefix(l, "events:") {
					rewritten = append(rewritten, l)
				}
			}
			rewritten = append(rewritten, comments...)
		}
		var want []string
		var wantWatched []string
		hasWatched := false
		for _, l := range c.want {
			switch {
			case strings.HasPrefix(l, "#~ watched:"):
				hasWatched = true
				wantWatched = splitList(strings.TrimPrefix(l, "#~ watched:"))
			case strings.HasPrefix(l, "#"):
			default:
				want = append(want, l)
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:%d > %s\ngot:\n%s\nwant:\n%s", filepath.Base(file), c.index, c.line, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		if hasWatched && strings.Join(watched, ", ") != strings.Join(wantWatched, ", ") {
			t.Errorf("%s:%d > %s\nwatch notifications: got %q, ZooKeeper delivered %q", filepath.Base(file), c.index, c.line, watched, wantWatched)
		}
	}
	if *rewriteEvents {
		if err := os.WriteFile(file, []byte(strings.Join(rewritten, "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.Trim(p, " "); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func (s *scenario) openSession(name string, zxid int64) error {
	id := int64(0x100000000000) + int64(len(s.ids)+1)
	r, _ := s.tree.Apply(Header{Zxid: zxid, Time: s.clock}, CreateSession{ID: id, Timeout: 30000, Password: []byte(name)})
	if r.Err != nil {
		return r.Err
	}
	s.ids[name] = id
	s.names[id] = name
	s.idents[name] = Identity{IDs: []ID{{Scheme: "ip", ID: "127.0.0.1"}}}
	return nil
}

func (s *scenario) header(as string) Header {
	zxid := s.nextZxid
	s.nextZxid++
	s.timeOf[zxid] = s.clock
	return Header{Zxid: zxid, Time: s.clock, Session: s.ids[as], Identity: s.idents[as]}
}

func (s *scenario) ref(zxid int64) string {
	if zxid == 0 {
		return "0"
	}
	return "#" + strconv.FormatInt((zxid-1000)/100, 10)
}

func (s *scenario) owner(o int64) string {
	if o == 0 {
		return "0"
	}
	if n, ok := s.names[o]; ok {
		return n
	}
	return fmt.Sprintf("%#x", o)
}

func (s *scenario) stat(st Stat) string {
	// Times are not printed (ZooKeeper's are wall-clock); they must be the
	// time of the command that set the matching zxid.
	if st.Czxid != 0 && st.Ctime != s.timeOf[st.Czxid] {
		s.t.Errorf("command %d: ctime %d, but czxid %d was applied at %d", s.cur, st.Ctime, st.Czxid, s.timeOf[st.Czxid])
	}
	if st.Mzxid != 0 && st.Mtime != s.timeOf[st.Mzxid] {
		s.t.Errorf("command %d: mtime %d, but mzxid %d was applied at %d", s.cur, st.Mtime, st.Mzxid, s.timeOf[st.Mzxid])
	}
	return fmt.Sprintf("czxid=%s mzxid=%s pzxid=%s version=%d cversion=%d aversion=%d owner=%s dataLength=%d numChildren=%d",
		s.ref(st.Czxid), s.ref(st.Mzxid), s.ref(st.Pzxid), st.Version, st.Cversion, st.Aversion, s.owner(st.EphemeralOwner), st.DataLength, st.NumChildren)
}

var errNames = []struct {
	err  error
	name string
}{
	{ErrNoNode, "NoNode"}, {ErrNodeExists, "NodeExists"}, {ErrNotEmpty, "NotEmpty"},
	{ErrBadVersion, "BadVersion"}, {ErrNoChildrenForEphemerals, "NoChildrenForEphemerals"},
	{ErrBadArguments, "BadArguments"}, {ErrInvalidACL, "InvalidACL"}, {ErrNoAuth, "NoAuth"},
	{ErrSessionExpired, "SessionExpired"}, {ErrRuntimeInconsistency, "RuntimeInconsistency"},
	{ErrUnimplemented, "Unimplemented"},
}

func errName(err error) string {
	for _, e := range errNames {
		if errors.Is(err, e.err) {
			return e.name
		}
	}
	return "?" + err.Error()
}

func result(r Result, okText string) string {
	if r.Err != nil {
		return "err " + errName(r.Err)
	}
	return okText
}

// formatPerms is FormatPerms with "-" for no permission, so that a
// scenario's expected output has no empty fields.
func formatPerms(v int32) string {
	if v == 0 {
		return "-"
	}
	return FormatPerms(v)
}

// parseACLText reads a scenario's ACL: zkCli.sh's syntax with "-" for no
// permission, or "none".
func parseACLText(s string) []ACL {
	if s == "none" {
		return []ACL{}
	}
	entries := strings.Split(s, ",")
	for i, e := range entries {
		if strings.HasSuffix(e, ":-") {
			entries[i] = e[:len(e)-1]
		}
	}
	acl, err := ParseACL(strings.Join(entries, ","))
	if err != nil {
		panic("scenario: " + err.Error())
	}
	return acl
}

type scenarioOpts struct {
	e, s, c bool
	ttl     int64
	hasTTL  bool
	kind    Kind
	as      string
	acl     []ACL
	args    []string
}

func parseOpts(toks []string) scenarioOpts {
	o := scenarioOpts{as: "main", acl: OpenACL}
	for i := 0; i < len(toks); i++ {
		switch toks[i] {
		case "-e":
			o.e = true
		case "-s":
			o.s = true
		case "-c":
			o.c = true
		case "-t":
			i++
			o.hasTTL = true
			o.ttl, _ = strconv.ParseInt(toks[i], 10, 64)
		case "-k":
			i++
			if toks[i] == "dir" {
				o.kind = KindDir
			}
		case "-as":
			i++
			o.as = toks[i]
		case "-acl":
			i++
			o.acl = parseACLText(toks[i])
		default:
			a := toks[i]
			if strings.HasPrefix(a, `"`) {
				u, err := strconv.Unquote(a)
				if err != nil {
					panic(err)
				}
				a = u
			}
			o.args = append(o.args, a)
		}
	}
	return o
}

// scenarioFields splits on spaces, keeping "quoted strings" whole.
func scenarioFields(s string) []string {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' {
					i++
				}
			}
			out = append(out, s[:i+1])
			s = s[i+1:]
			continue
		}
		i := strings.IndexByte(s, ' ')
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out
}

func optVersion(args []string, i int) int32 {
	if len(args) > i {
		v, err := strconv.Atoi(args[i])
		if err != nil {
			panic(err)
		}
		return int32(v)
	}
	return -1
}

func (o scenarioOpts) op(verb string) Op {
	switch verb {
	case "create":
		c := Create{Path: o.args[0], ACL: o.acl, Kind: o.kind}
		if len(o.args) > 1 {
			c.Data = []byte(o.args[1])
		}
		switch {
		case o.c:
			c.Mode = ModeContainer
		case o.hasTTL && o.s:
			c.Mode, c.TTL = ModePersistentSequentialWithTTL, o.ttl
		case o.hasTTL:
			c.Mode, c.TTL = ModePersistentWithTTL, o.ttl
		case o.e && o.s:
			c.Mode = ModeEphemeralSequential
		case o.e:
			c.Mode = ModeEphemeral
		case o.s:
			c.Mode = ModePersistentSequential
		}
		return c
	case "delete":
		return Delete{Path: o.args[0], Version: optVersion(o.args, 1)}
	case "set":
		return SetData{Path: o.args[0], Data: []byte(o.args[1]), Version: optVersion(o.args, 2)}
	case "setacl":
		return SetACL{Path: o.args[0], ACL: parseACLText(o.args[1]), Version: optVersion(o.args, 2)}
	case "check":
		return Check{Path: o.args[0], Version: optVersion(o.args, 1)}
	case "setkind":
		k := KindFile
		if o.args[1] == "dir" {
			k = KindDir
		}
		return SetKind{Path: o.args[0], Kind: k}
	case "reap":
		return Reap{Path: o.args[0]}
	}
	panic("unknown operation " + verb)
}

func (s *scenario) formatEvents(evs []Event) string {
	parts := make([]string, len(evs))
	for i, e := range evs {
		parts[i] = e.Type.String() + " " + e.Path
		if e.Zxid < s.nextZxid-100 || e.Zxid >= s.nextZxid {
			s.t.Errorf("command %d: event %v has zxid %d", s.cur, e, e.Zxid)
		}
	}
	return "events: " + strings.Join(parts, ", ")
}

// projectWatches reduces a command's events to the notifications that a
// ZooKeeper client would have received had it set, just before the command,
// an exists watch on every existing or ever-named path and a child watch on
// every existing node: watches are one-shot, a delete fires both kinds of
// watch at once, a client gets one notification per (type, path), and the
// probe's watcher (no credentials, ip 127.0.0.1) only hears about nodes it
// may READ, as ZooKeeper 3.8.4+ filters them.
func projectWatches(evs []Event, existed, named map[string]bool) []string {
	watcher := Identity{IDs: []ID{{Scheme: "ip", ID: "127.0.0.1"}}}
	dataFired, childFired := map[string]bool{}, map[string]bool{}
	seen := map[string]bool{}
	for _, e := range evs {
		hasData := (existed[e.Path] || named[e.Path]) && !dataFired[e.Path]
		hasChild := existed[e.Path] && !childFired[e.Path]
		fire := false
		switch e.Type {
		case EventNodeCreated, EventNodeDataChanged:
			fire = hasData
			dataFired[e.Path] = true
		case EventNodeChildrenChanged:
			fire = hasChild
			childFired[e.Path] = true
		case EventNodeDeleted:
			fire = hasData || hasChild
			dataFired[e.Path], childFired[e.Path] = true, true
		}
		if fire && permitted(e.ACL, PermRead, watcher) {
			seen[e.Type.String()+" "+e.Path] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func isScenarioWrite(verb string) bool {
	switch verb {
	case "create", "delete", "set", "setacl", "check", "multi", "session", "close", "wait":
		return true
	}
	return false
}

func (s *scenario) run(c *scenarioCmd) (out, watched []string) {
	toks := scenarioFields(c.line)
	verb := toks[0]
	o := parseOpts(toks[1:])
	for _, a := range o.args {
		if strings.HasPrefix(a, "/") {
			s.named[a] = true
		}
	}
	for _, l := range c.sub {
		for _, a := range parseOpts(scenarioFields(l)[1:]).args {
			if strings.HasPrefix(a, "/") {
				s.named[a] = true
			}
		}
	}
	existed := map[string]bool{}
	for p := range s.tree.nodes {
		existed[p] = true
	}
	var events []Event
	defer func() {
		if isScenarioWrite(verb) {
			watched = projectWatches(events, existed, s.named)
		}
	}()
	apply := func(op Op) Result {
		r, evs := s.tree.Apply(s.header(o.as), op)
		events = append(events, evs...)
		return r
	}
	withEvents := func(lines ...string) []string {
		// What the replication layer's timer does, and ZooKeeper's
		// ContainerManager with a short interval: reap whatever is due.
		// A reaped node may leave its container parent reapable in turn.
		for due := s.tree.Reapable(s.clock); len(due) > 0; due = s.tree.Reapable(s.clock) {
			for _, p := range due {
				if r := apply(Reap{Path: p}); r.Err != nil {
					s.t.Fatalf("command %d: reap %s: %v", s.cur, p, r.Err)
				}
			}
		}
		if len(events) > 0 {
			lines = append(lines, s.formatEvents(events))
		}
		return lines
	}
	switch verb {
	case "session":
		h := s.header(o.as)
		if err := s.openSession(o.args[0], h.Zxid); err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{"ok"}, nil
	case "close":
		r := apply(CloseSession{ID: s.ids[o.args[0]]})
		return withEvents(result(r, "ok")), nil
	case "addauth":
		user, pass, _ := strings.Cut(o.args[2], ":")
		id := s.idents[o.args[0]]
		if user == "super" && pass == "secret" {
			id.Super = true
		}
		sum := sha1.Sum([]byte(o.args[2]))
		id.IDs = append(id.IDs, ID{Scheme: "digest", ID: user + ":" + base64.StdEncoding.EncodeToString(sum[:])})
		s.idents[o.args[0]] = id
		return []string{"ok"}, nil
	case "wait":
		ms, _ := strconv.ParseInt(o.args[0], 10, 64)
		s.clock += ms
		return withEvents(), nil
	case "create":
		r := apply(o.op(verb))
		return withEvents(result(r, "ok "+r.Path)), nil
	case "delete", "set", "setacl", "check", "setkind", "reap":
		r := apply(o.op(verb))
		return withEvents(result(r, "ok")), nil
	case "multi":
		ops := make([]Op, len(c.sub))
		for i, l := range c.sub {
			f := scenarioFields(l)
			ops[i] = parseOpts(f[1:]).op(f[0])
		}
		r := apply(Multi{Ops: ops})
		lines := []string{result(r, "ok")}
		for _, sr := range r.Multi {
			text := "ok"
			if sr.Path != "" {
				text = "ok " + sr.Path
			}
			lines = append(lines, "| "+result(sr, text))
		}
		return withEvents(lines...), nil
	case "stat":
		st, err := s.tree.Stat(o.args[0])
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{s.stat(st)}, nil
	case "get":
		d, _, err := s.tree.Get(o.args[0])
		if err == nil {
			err = s.tree.CheckPerm(o.args[0], PermRead, s.idents[o.as])
		}
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{strconv.Quote(string(d))}, nil
	case "ls":
		kids, _, err := s.tree.Children(o.args[0])
		if err == nil {
			err = s.tree.CheckPerm(o.args[0], PermRead, s.idents[o.as])
		}
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{"[" + strings.Join(kids, ", ") + "]"}, nil
	case "getacl":
		acl, _, err := s.tree.GetACLAs(o.args[0], s.idents[o.as])
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		parts := make([]string, len(acl))
		for i, a := range acl {
			parts[i] = a.ID.Scheme + ":" + a.ID.ID + ":" + formatPerms(a.Perms)
		}
		return []string{strings.Join(parts, ", ")}, nil
	case "kind":
		k, err := s.tree.Kind(o.args[0])
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{map[Kind]string{KindFile: "file", KindDir: "dir"}[k]}, nil
	case "count":
		n, err := s.tree.AllChildrenNumber(o.args[0])
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{strconv.Itoa(n)}, nil
	case "ttl":
		ttl, err := s.tree.TTL(o.args[0])
		if err != nil {
			return []string{"err " + errName(err)}, nil
		}
		return []string{strconv.FormatInt(ttl, 10)}, nil
	case "ephemerals":
		return []string{"[" + strings.Join(s.tree.Ephemerals(s.ids[o.args[0]]), ", ") + "]"}, nil
	case "reapable":
		return []string{"[" + strings.Join(s.tree.Reapable(s.clock), ", ") + "]"}, nil
	}
	s.t.Fatalf("command %d: unknown command %q", c.index, c.line)
	return nil, nil
}
