package tree

import (
	"encoding/binary"
	"errors"
	"reflect"
	"testing"
)

func TestDecoder(t *testing.T) {
	b := []byte{7, 1}
	b = binary.AppendVarint(b, -5)
	b = binary.AppendUvarint(b, 300)
	b = binary.AppendUvarint(b, 2)
	b = append(b, "hi"...)
	b = append(b, 0, 1)               // nullable: nil, then empty
	b = binary.AppendUvarint(b, 0)    // bytes: none
	b = binary.AppendVarint(b, 1<<31) // out of int32
	bad := errors.New("bad thing")
	d := NewDecoder(b, bad)
	if got := d.Byte(); got != 7 {
		t.Errorf("Byte = %d", got)
	}
	if !d.Bool() {
		t.Error("Bool = false")
	}
	if got := d.Varint(); got != -5 {
		t.Errorf("Varint = %d", got)
	}
	if got := d.Uvarint(); got != 300 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := d.Str(); got != "hi" {
		t.Errorf("Str = %q", got)
	}
	if got := d.Nullable(); got != nil {
		t.Errorf("Nullable = %v, want nil", got)
	}
	if got := d.Nullable(); got == nil || len(got) != 0 {
		t.Errorf("Nullable = %v, want empty", got)
	}
	if got := d.Bytes(); got != nil {
		t.Errorf("Bytes = %v, want nil", got)
	}
	if d.Err() != nil {
		t.Fatalf("Err = %v before any failure", d.Err())
	}
	if got := d.Int32(); got != 0 || !errors.Is(d.Err(), bad) {
		t.Errorf("Int32 of 1<<31 = %d, err %v; want 0 and an error wrapping bad", got, d.Err())
	}
	first := d.Err()
	d.Fail("later")
	if d.Err() != first || d.Byte() != 0 {
		t.Errorf("the first failure does not stick: %v", d.Err())
	}

	// A count larger than the bytes left fails before anything is allocated.
	c := NewDecoder(binary.AppendUvarint(nil, 1000), nil)
	if n := c.Count(1); n != 0 || c.Err() == nil {
		t.Errorf("Count = %d, %v; want a failure", n, c.Err())
	}
	// Take aliases the input with its capacity cut.
	in := []byte{1, 2, 3}
	tk := NewDecoder(in, nil)
	if got := tk.Take(2); !reflect.DeepEqual(got, []byte{1, 2}) || cap(got) != 2 || &got[0] != &in[0] {
		t.Errorf("Take = %v (cap %d)", got, cap(got))
	}
	if got := tk.Take(2); got != nil || tk.Err() == nil {
		t.Errorf("Take past the end = %v, %v", got, tk.Err())
	}
}
