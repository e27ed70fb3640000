package nidump

import (
	"bytes"
	"testing"
)

// FuzzCommaOrQuote checks the word-at-a-time search against package bytes.
func FuzzCommaOrQuote(f *testing.F) {
	for _, s := range []string{"", ",", "user0000013@venus,x", "abcdefgh\"", "\x80\xff,\"", "12345678901234567,"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := commaOrQuote(b), bytes.IndexAny(b, ",\""); got != want {
			t.Errorf("commaOrQuote(%q) = %d, want %d", b, got, want)
		}
	})
}
