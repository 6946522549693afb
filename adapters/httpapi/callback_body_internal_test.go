package httpapi

import (
	"bytes"
	"testing"
)

// TestHasControlByte against the plain loop: every byte value at every
// position of an 8-byte word and of the tail, next to every other value.
func TestHasControlByte(t *testing.T) {
	naive := func(b []byte) bool { return bytes.IndexFunc(b, func(r rune) bool { return r < 0x20 }) >= 0 }
	for n := 1; n <= 19; n++ {
		for pos := range n {
			for v := range 256 {
				for _, fill := range []byte{' ', 0x7f, 0x80, 0xff, '!'} {
					b := bytes.Repeat([]byte{fill}, n)
					b[pos] = byte(v)
					if got, want := hasControlByte(b), naive(b) || byte(v) < 0x20; got != want {
						t.Fatalf("%q: %v, want %v", b, got, want)
					}
				}
			}
		}
	}
}
