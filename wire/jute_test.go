package wire

import (
	"bytes"
	"errors"
	"reflect"
	"runtime"
	"testing"
)

func TestPrimitivesRoundTrip(t *testing.T) {
	e := NewEncoder(nil)
	e.Int(-7)
	e.Long(1 << 40)
	e.Bool(true)
	e.Bool(false)
	e.Buffer(nil)
	e.Buffer([]byte{})
	e.Buffer([]byte("data"))
	e.String("")
	e.String("/ünïcode")
	e.Strings(nil)
	e.Strings([]string{"a", "", "bc"})

	want := []byte{
		0xff, 0xff, 0xff, 0xf9,
		0, 0, 1, 0, 0, 0, 0, 0,
		1,
		0,
		0xff, 0xff, 0xff, 0xff,
		0, 0, 0, 0,
		0, 0, 0, 4, 'd', 'a', 't', 'a',
		0, 0, 0, 0,
	}
	if got := e.Bytes()[:len(want)]; !bytes.Equal(got, want) {
		t.Fatalf("encoding:\n got %x\nwant %x", got, want)
	}

	d := NewDecoder(e.Bytes())
	if got := d.Int(); got != -7 {
		t.Errorf("Int = %d", got)
	}
	if got := d.Long(); got != 1<<40 {
		t.Errorf("Long = %d", got)
	}
	if got := d.Bool(); !got {
		t.Errorf("Bool = %v", got)
	}
	if got := d.Bool(); got {
		t.Errorf("Bool = %v", got)
	}
	if got := d.Buffer(); got != nil {
		t.Errorf("null Buffer = %#v, want nil", got)
	}
	if got := d.Buffer(); got == nil || len(got) != 0 {
		t.Errorf("empty Buffer = %#v, want non-nil empty", got)
	}
	if got := d.Buffer(); string(got) != "data" {
		t.Errorf("Buffer = %q", got)
	}
	if got := d.String(); got != "" {
		t.Errorf("String = %q", got)
	}
	if got := d.String(); got != "/ünïcode" {
		t.Errorf("String = %q", got)
	}
	if got := d.Strings(); got != nil {
		t.Errorf("Strings = %#v", got)
	}
	if got := d.Strings(); !reflect.DeepEqual(got, []string{"a", "", "bc"}) {
		t.Errorf("Strings = %#v", got)
	}
	if d.Err() != nil || d.Remaining() != 0 {
		t.Errorf("Err = %v, Remaining = %d", d.Err(), d.Remaining())
	}
}

func TestBoolAcceptsAnyNonZero(t *testing.T) {
	if !NewDecoder([]byte{2}).Bool() {
		t.Error("byte 2 decoded as false; Java's readBoolean reads it as true")
	}
}

func TestNullStringIsEmpty(t *testing.T) {
	d := NewDecoder([]byte{0xff, 0xff, 0xff, 0xff})
	if got := d.String(); got != "" || d.Err() != nil {
		t.Errorf("String = %q, %v", got, d.Err())
	}
}

func TestBufferIsCopied(t *testing.T) {
	in := []byte{0, 0, 0, 2, 'a', 'b'}
	b := NewDecoder(in).Buffer()
	in[4] = 'x'
	if string(b) != "ab" {
		t.Errorf("Buffer aliases its input: %q", b)
	}
}

// TestMalformed feeds the decoder inputs whose lengths lie, are negative or
// are truncated, and checks each fails with ErrMalformed and zero values.
func TestMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(d *Decoder) any
	}{
		{"empty int", nil, func(d *Decoder) any { return d.Int() }},
		{"short int", []byte{0, 0, 1}, func(d *Decoder) any { return d.Int() }},
		{"short long", []byte{0, 0, 0, 0, 0, 0, 1}, func(d *Decoder) any { return d.Long() }},
		{"empty bool", nil, func(d *Decoder) any { return d.Bool() }},
		{"buffer longer than input", []byte{0, 0, 0, 5, 'a', 'b'}, func(d *Decoder) any { return d.Buffer() }},
		{"buffer length -2", []byte{0xff, 0xff, 0xff, 0xfe}, func(d *Decoder) any { return d.Buffer() }},
		{"buffer length min int32", []byte{0x80, 0, 0, 0}, func(d *Decoder) any { return d.Buffer() }},
		{"buffer length max int32", []byte{0x7f, 0xff, 0xff, 0xff, 1, 2, 3}, func(d *Decoder) any { return d.Buffer() }},
		{"string longer than input", []byte{0, 0, 0, 3, '/', 'a'}, func(d *Decoder) any { return d.String() }},
		{"string length -5", []byte{0xff, 0xff, 0xff, 0xfb}, func(d *Decoder) any { return d.String() }},
		{"short string length", []byte{0, 0}, func(d *Decoder) any { return d.String() }},
		{"vector count larger than input", []byte{0, 0, 0, 2, 0, 0, 0, 0}, func(d *Decoder) any { return d.Strings() }},
		{"vector count max int32", []byte{0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0}, func(d *Decoder) any { return d.Strings() }},
		{"vector count -3", []byte{0xff, 0xff, 0xff, 0xfd}, func(d *Decoder) any { return d.Strings() }},
		{"vector element truncated", []byte{0, 0, 0, 1, 0, 0, 0, 9, 'x'}, func(d *Decoder) any { return d.Strings() }},
		{"acl count lies", []byte{0, 0, 0, 2, 0, 0, 0, 31, 0, 0, 0, 0, 0, 0, 0, 0}, func(d *Decoder) any { return d.ACLs() }},
		{"stat truncated", make([]byte, statSize-1), func(d *Decoder) any { return d.Stat() }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(tt.in)
			got := tt.read(d)
			if !errors.Is(d.Err(), ErrMalformed) {
				t.Fatalf("Err = %v, want ErrMalformed", d.Err())
			}
			if v := reflect.ValueOf(got); v.IsValid() && !v.IsZero() {
				t.Errorf("value = %#v, want the zero value", got)
			}
			// The error sticks and later reads yield zeroes.
			if d.Int() != 0 || d.String() != "" || d.Err() == nil {
				t.Error("decoder kept reading after an error")
			}
		})
	}
}

// TestLyingLengthsDoNotAllocate checks that a length field claiming far more
// than the packet holds costs no allocation of that size.
func TestLyingLengthsDoNotAllocate(t *testing.T) {
	claims := [][]byte{
		{0x7f, 0xff, 0xff, 0xff},                         // buffer
		{0x10, 0, 0, 0, 0, 0, 0, 0},                      // vector of strings
		{0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, // vector of ACLs
	}
	reads := []func(*Decoder){
		func(d *Decoder) { d.Buffer() },
		func(d *Decoder) { d.Strings() },
		func(d *Decoder) { d.ACLs() },
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := 0; i < 100; i++ {
		for j, c := range claims {
			d := NewDecoder(c)
			reads[j](d)
			if d.Err() == nil {
				t.Fatalf("claim %d decoded without error", j)
			}
		}
	}
	runtime.ReadMemStats(&after)
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("300 lying lengths allocated %d bytes", grew)
	}
}

func TestFailWrapsMalformed(t *testing.T) {
	d := NewDecoder([]byte{1, 2, 3})
	sentinel := errors.New("not allowed")
	d.Fail(sentinel)
	if !errors.Is(d.Err(), ErrMalformed) || !errors.Is(d.Err(), sentinel) {
		t.Errorf("Err = %v, want both ErrMalformed and the cause", d.Err())
	}
	if d.Remaining() != 0 {
		t.Errorf("Remaining = %d after Fail", d.Remaining())
	}
	d.Fail(errors.New("second"))
	if !errors.Is(d.Err(), sentinel) {
		t.Errorf("a later Fail replaced the first error: %v", d.Err())
	}
}

func TestVectorsOfRecords(t *testing.T) {
	acls := []ACL{
		{Perms: 31, ID: ID{Scheme: "world", ID: "anyone"}},
		{Perms: 1, ID: ID{Scheme: "ip", ID: "10.0.0.0/8"}},
	}
	e := NewEncoder(nil)
	e.ACLs(acls)
	d := NewDecoder(e.Bytes())
	if got := d.ACLs(); !reflect.DeepEqual(got, acls) || d.Err() != nil {
		t.Errorf("ACLs = %#v, %v", got, d.Err())
	}
}
