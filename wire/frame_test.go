package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"testing"
	"testing/iotest"
)

func frame(n uint32, body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, n), body...)
}

func TestFrameReader(t *testing.T) {
	var stream []byte
	stream = append(stream, frame(3, []byte("abc"))...)
	stream = append(stream, frame(0, nil)...)
	stream = append(stream, frame(5, []byte("hello"))...)

	for _, r := range []struct {
		name string
		r    io.Reader
	}{
		{"whole", bytes.NewReader(stream)},
		{"byte by byte", iotest.OneByteReader(bytes.NewReader(stream))},
		{"data with EOF", iotest.DataErrReader(bytes.NewReader(stream))},
	} {
		t.Run(r.name, func(t *testing.T) {
			fr := NewFrameReader(r.r, 16)
			for _, want := range []string{"abc", "", "hello"} {
				got, err := fr.Next()
				if err != nil || string(got) != want {
					t.Fatalf("Next = %q, %v; want %q", got, err, want)
				}
			}
			if _, err := fr.Next(); err != io.EOF {
				t.Fatalf("Next at end = %v, want io.EOF", err)
			}
		})
	}
}

func TestFrameReaderErrors(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"partial length", []byte{0, 0}, 0, io.ErrUnexpectedEOF},
		{"truncated body", frame(10, []byte("abc")), 0, io.ErrUnexpectedEOF},
		{"negative length", frame(0xffffffff, nil), 0, ErrPacketLength},
		{"min int32 length", frame(0x80000000, nil), 0, ErrPacketLength},
		{"one over max", frame(17, make([]byte, 17)), 16, ErrPacketLength},
		{"over default max", frame(DefaultMaxPacket+1, nil), 0, ErrPacketLength},
		{"four-letter word", []byte("ruok"), 0, ErrPacketLength},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ReadFrame(bytes.NewReader(tt.in), tt.max)
			if !errors.Is(err, tt.want) {
				t.Errorf("ReadFrame = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFrameAtMax(t *testing.T) {
	body := bytes.Repeat([]byte{7}, 16)
	got, err := ReadFrame(bytes.NewReader(frame(16, body)), 16)
	if err != nil || !bytes.Equal(got, body) {
		t.Errorf("ReadFrame at the limit = %d bytes, %v", len(got), err)
	}
	big := bytes.Repeat([]byte{1}, DefaultMaxPacket)
	got, err = ReadFrame(bytes.NewReader(frame(DefaultMaxPacket, big)), 0)
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("ReadFrame at DefaultMaxPacket = %d bytes, %v", len(got), err)
	}
}

// TestFrameLyingLength checks that a peer announcing a large packet and
// sending little does not make the reader allocate the announced size.
func TestFrameLyingLength(t *testing.T) {
	in := frame(DefaultMaxPacket, []byte("tiny"))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 50
	for i := 0; i < rounds; i++ {
		if _, err := ReadFrame(bytes.NewReader(in), 0); err != io.ErrUnexpectedEOF {
			t.Fatalf("ReadFrame = %v", err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / rounds; per > 2*readChunk {
		t.Errorf("each truncated 1 MiB packet allocated %d bytes", per)
	}
}

func TestWriteFrame(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteFrame(&buf, []byte("xyz")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFrame(&buf, nil); err != nil {
		t.Fatal(err)
	}
	if want := append(frame(3, []byte("xyz")), frame(0, nil)...); !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteFrame wrote %x, want %x", buf.Bytes(), want)
	}
}

func TestAppendFrame(t *testing.T) {
	hdr := &ReplyHeader{Xid: 5, Zxid: 0x10, Err: 0}
	body := &SyncResponse{Path: "/a"}
	prefix := []byte("keep")
	got := AppendFrame(prefix, hdr, nil, body)
	if !bytes.HasPrefix(got, []byte("keep")) {
		t.Fatalf("AppendFrame lost dst: %q", got)
	}
	payload, err := ReadFrame(bytes.NewReader(got[4:]), 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := Marshal(nil, hdr, body); !bytes.Equal(payload, want) {
		t.Errorf("payload %x, want %x", payload, want)
	}
}
