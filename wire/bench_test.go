package wire

import "testing"

func BenchmarkParseGetData(b *testing.B) {
	pkt := Marshal(nil, &RequestHeader{Xid: 1, Type: OpGetData}, &GetDataRequest{Path: "/service/config/leader", Watch: true})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequest(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendGetDataReply(b *testing.B) {
	h := &ReplyHeader{Xid: 1, Zxid: 42}
	body := &GetDataResponse{Data: make([]byte, 1024), Stat: sampleStat}
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendFrame(buf[:0], h, body)
	}
}

func BenchmarkParseMulti(b *testing.B) {
	var req MultiRequest
	for range 16 {
		req.Ops = append(req.Ops, MultiOp{Op: OpSetData, Req: &SetDataRequest{Path: "/a/b/c", Data: make([]byte, 64), Version: -1}})
	}
	pkt := Marshal(nil, &RequestHeader{Xid: 1, Type: OpMulti}, &req)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParseRequest(pkt); err != nil {
			b.Fatal(err)
		}
	}
}
