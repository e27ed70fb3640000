package swar

import (
	"bytes"
	"testing"
)

// FuzzSWAR checks every search against package bytes.
func FuzzSWAR(f *testing.F) {
	for _, s := range []string{"", "a", "user0000013@venus,x", "abcdefg@", "12345678\n@,", "é@\x80\xff,\t \"", "a@b@c", "0123456789abcdef@", "\x00\x01\x7f\x80\xfe\xff@,"} {
		f.Add([]byte(s), byte('@'), byte(','), byte('\n'))
	}
	f.Fuzz(func(t *testing.T, b []byte, x, y, z byte) {
		if got, want := Index2(b, x, y), bytes.IndexAny(b, string([]rune{rune(x), rune(y)})); x < 0x80 && y < 0x80 && got != want {
			t.Errorf("Index2(%q, %q, %q) = %d, want %d", b, x, y, got, want)
		}
		if got, want := Index3(b, x, y, z), index3(b, x, y, z); got != want {
			t.Errorf("Index3(%q, %q, %q, %q) = %d, want %d", b, x, y, z, got, want)
		}
		if got, want := Index2(b, x, y), index3(b, x, y, y); got != want {
			t.Errorf("Index2(%q, %q, %q) = %d, want %d", b, x, y, got, want)
		}
		if got, want := LastIndex(b, x), bytes.LastIndexByte(b, x); got != want {
			t.Errorf("LastIndex(%q, %q) = %d, want %d", b, x, got, want)
		}
	})
}

// index3 is Index3 the slow way.
func index3(b []byte, x, y, z byte) int {
	for i, c := range b {
		if c == x || c == y || c == z {
			return i
		}
	}
	return -1
}

func TestCases(t *testing.T) {
	b := []byte("user0000026@partner.example.org,user0000039\n")
	if got := Index3(b, ',', '\n', '@'); got != 11 {
		t.Errorf("Index3 = %d, want 11", got)
	}
	if got := Index2(b, ',', '\n'); got != 31 {
		t.Errorf("Index2 = %d, want 31", got)
	}
	if got := LastIndex(b, 'u'); got != 32 {
		t.Errorf("LastIndex = %d, want 32", got)
	}
	if got := LastIndex(b, '#'); got != -1 {
		t.Errorf("LastIndex(absent) = %d, want -1", got)
	}
}
