package wire

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"
)

// The seed corpora under testdata/fuzz hold real packets from
// testdata/capture-zk-3.8.0.txt; TestWriteFuzzSeeds regenerates them.

// fuzzMaxPacket is small so that the fuzzer reaches the too-large path.
const fuzzMaxPacket = 4096

func FuzzReadFrame(f *testing.F) {
	f.Fuzz(func(t *testing.T, stream []byte) {
		fr := NewFrameReader(bytes.NewReader(stream), fuzzMaxPacket)
		off := 0
		for {
			p, err := fr.Next()
			if err != nil {
				switch {
				case err == io.EOF:
					if off != len(stream) {
						t.Fatalf("io.EOF with %d bytes unread", len(stream)-off)
					}
				case err == io.ErrUnexpectedEOF, errors.Is(err, ErrPacketLength):
				default:
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if len(p) > fuzzMaxPacket {
				t.Fatalf("packet of %d bytes passed a limit of %d", len(p), fuzzMaxPacket)
			}
			var buf bytes.Buffer
			if err := WriteFrame(&buf, p); err != nil {
				t.Fatal(err)
			}
			end := off + 4 + len(p)
			if !bytes.Equal(buf.Bytes(), stream[off:end]) {
				t.Fatalf("re-framed packet differs from the stream at %d", off)
			}
			off = end
		}
	})
}

// roundTrip re-encodes a decoded record and decodes it again into a fresh
// record of the same type, which must come out equal.
func roundTrip(t *testing.T, r Record) {
	t.Helper()
	b := Marshal(nil, r)
	again := newLike(r)
	if err := again.Decode(NewDecoder(b)); err != nil {
		t.Fatalf("re-encoded %T does not decode: %v\n%x", r, err, b)
	}
	if !reflect.DeepEqual(again, r) {
		t.Fatalf("%T round trip:\n got %+v\nwant %+v", r, again, r)
	}
}

func checkDecodeErr(t *testing.T, err error, allowed ...error) {
	t.Helper()
	for _, a := range allowed {
		if errors.Is(err, a) {
			return
		}
	}
	t.Fatalf("unexpected error %v", err)
}

func FuzzConnectRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ConnectRequest
		if err := r.Decode(NewDecoder(data)); err != nil {
			checkDecodeErr(t, err, ErrMalformed)
			return
		}
		if len(r.Passwd) > len(data) {
			t.Fatalf("password of %d bytes from a %d-byte packet", len(r.Passwd), len(data))
		}
		roundTrip(t, &r)
		// The server replies in the same dialect.
		resp := ConnectResponse{TimeOut: r.TimeOut, SessionID: r.SessionID, Passwd: r.Passwd, OmitReadOnly: r.OmitReadOnly}
		roundTrip(t, &resp)
	})
}

func FuzzDecodeRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, op int32, body []byte) {
		r, err := DecodeRequest(OpCode(op), body)
		if err != nil {
			checkDecodeErr(t, err, ErrUnknownOpcode, ErrMalformed)
			if r != nil {
				t.Fatalf("request %#v returned with error %v", r, err)
			}
			return
		}
		again, err := DecodeRequest(OpCode(op), Marshal(nil, r))
		if err != nil {
			t.Fatalf("re-encoded %T does not decode: %v", r, err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("%T round trip:\n got %+v\nwant %+v", r, again, r)
		}
	})
}

func FuzzMulti(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, r := range []Record{new(MultiRequest), new(MultiReadRequest), new(MultiResponse)} {
			if err := r.Decode(NewDecoder(data)); err != nil {
				checkDecodeErr(t, err, ErrMalformed)
				if !reflect.ValueOf(r).Elem().IsZero() {
					t.Fatalf("%T kept partial results after %v: %+v", r, err, r)
				}
				continue
			}
			roundTrip(t, r)
		}
	})
}
