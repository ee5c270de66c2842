package wire

import (
	"crypto/sha256"
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"zkfs/tree"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz from the capture")

// TestFuzzSeeds checks that the seed corpora hold every packet of the
// capture; with -update-seeds it rebuilds them:
//
//	go test ./wire -run TestFuzzSeeds -update-seeds
func TestFuzzSeeds(t *testing.T) {
	pkts := decodeCapture(t, loadCapture(t))
	seeds := map[string][][]any{}
	add := func(fuzz string, args ...any) { seeds[fuzz] = append(seeds[fuzz], args) }

	streams := map[string][]byte{}
	var order []string
	for _, p := range pkts {
		key := p.conn + map[bool]string{true: "c2s", false: "s2c"}[p.c2s]
		if _, ok := streams[key]; !ok {
			order = append(order, key)
		}
		streams[key] = append(binary.BigEndian.AppendUint32(streams[key], uint32(len(p.data))), p.data...)
		switch {
		case p.first && p.c2s:
			add("FuzzConnectRequest", p.data)
		case p.c2s:
			add("FuzzDecodeRequest", int32(p.req.Type), p.data[8:])
			if p.req.Type == OpMulti || p.req.Type == OpMultiRead {
				add("FuzzMulti", p.data[8:])
			}
		case !p.first && p.reply.Err == tree.CodeOK && (p.op == OpMulti || p.op == OpMultiRead):
			add("FuzzMulti", p.data[16:])
		}
	}
	for _, k := range order {
		// Whole connections, cut to the fuzzer's packet limit plus a bit so
		// that some seeds end inside a packet.
		s := streams[k]
		if len(s) > 2*fuzzMaxPacket {
			s = s[:2*fuzzMaxPacket]
		}
		add("FuzzReadFrame", s)
	}
	add("FuzzReadFrame", []byte("ruok"))
	add("FuzzReadFrame", []byte{0xff, 0xff, 0xff, 0xff})
	add("FuzzReadFrame", []byte{0, 0, 0x10, 0x01})
	add("FuzzDecodeRequest", int32(55), []byte{})
	for _, r := range records() {
		switch r.(type) {
		case *MultiRequest, *MultiReadRequest, *MultiResponse:
			add("FuzzMulti", Marshal(nil, r))
		}
	}

	for fuzz, list := range seeds {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if *updateSeeds {
			if err := os.RemoveAll(dir); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		files := map[string]bool{}
		for _, args := range list {
			body := corpusFile(args)
			name := fmt.Sprintf("seed-%x", sha256.Sum256([]byte(body)))[:21]
			if files[name] {
				continue
			}
			files[name] = true
			path := filepath.Join(dir, name)
			if *updateSeeds {
				if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if got, err := os.ReadFile(path); err != nil || string(got) != body {
				t.Errorf("%s is missing or stale (%v); run with -update-seeds", path, err)
			}
		}
		t.Logf("%s: %d seeds", fuzz, len(files))
	}
}

// corpusFile renders fuzz arguments in the "go test fuzz v1" format.
func corpusFile(args []any) string {
	var b strings.Builder
	b.WriteString("go test fuzz v1\n")
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			b.WriteString("[]byte(" + strconv.Quote(string(v)) + ")\n")
		case int32:
			b.WriteString("int32(" + strconv.Itoa(int(v)) + ")\n")
		default:
			panic(fmt.Sprintf("no corpus form for %T", a))
		}
	}
	return b.String()
}
