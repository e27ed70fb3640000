// Package swar finds bytes in short slices a word (8 bytes) at a time,
// without calls to assembly: members of an alias are a few dozen bytes
// long, and there a call to bytes.IndexByte for each costs more than the
// search itself.
package swar

import (
	"encoding/binary"
	"math/bits"
)

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	low7s = 0x7f7f7f7f7f7f7f7f
)

// firstZero returns a word whose lowest set bit is the high bit of the
// first zero byte of w (0 when there is none). Bits above it may be set
// too: only the lowest one is exact.
func firstZero(w uint64) uint64 { return (w - ones) &^ w & highs }

// zeros returns w with the high bit of each zero byte set, and every other
// bit clear: exact, so its highest bit marks the last zero byte.
func zeros(w uint64) uint64 { return ^(((w & low7s) + low7s) | w | low7s) }

// Index2 returns the index of the first x or y in b, or -1.
func Index2(b []byte, x, y byte) int {
	xs, ys := uint64(x)*ones, uint64(y)*ones
	i := 0
	for ; len(b)-i >= 8; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := firstZero(w^xs) | firstZero(w^ys); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if b[i] == x || b[i] == y {
			return i
		}
	}
	return -1
}

// Index3 returns the index of the first x, y or z in b, or -1.
func Index3(b []byte, x, y, z byte) int {
	xs, ys, zs := uint64(x)*ones, uint64(y)*ones, uint64(z)*ones
	i := 0
	for ; len(b)-i >= 8; i += 8 {
		w := binary.LittleEndian.Uint64(b[i:])
		if m := firstZero(w^xs) | firstZero(w^ys) | firstZero(w^zs); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == x || c == y || c == z {
			return i
		}
	}
	return -1
}

// LastIndex returns the index of the last c in b, or -1.
func LastIndex(b []byte, c byte) int {
	cs := uint64(c) * ones
	i := len(b)
	for ; i >= 8; i -= 8 {
		if m := zeros(binary.LittleEndian.Uint64(b[i-8:]) ^ cs); m != 0 {
			return i - 8 + (63-bits.LeadingZeros64(m))/8
		}
	}
	for i--; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
