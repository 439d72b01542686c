package mmsproto

import (
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// MMS carries text as UTF-16LE ("Unicode" in 2.2.4), usually NUL-terminated.

// AppendUTF16 appends s as UTF-16LE without a terminator.
func AppendUTF16(dst []byte, s string) []byte {
	for _, r := range s {
		if r1, r2 := utf16.EncodeRune(r); r1 != utf8.RuneError {
			dst = le16(le16(dst, uint16(r1)), uint16(r2))
			continue
		}
		if r > 0xFFFF {
			r = utf8.RuneError
		}
		dst = le16(dst, uint16(r))
	}
	return dst
}

// AppendUTF16Z appends s as UTF-16LE followed by a NUL character (2 bytes).
func AppendUTF16Z(dst []byte, s string) []byte { return le16(AppendUTF16(dst, s), 0) }

// UTF16Len is the number of UTF-16 code units of s, without terminator.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r > 0xFFFF {
			n++
		}
	}
	return n
}

// DecodeUTF16 decodes UTF-16LE bytes; a trailing odd byte is ignored and
// invalid surrogates become U+FFFD. NUL characters are kept.
func DecodeUTF16(b []byte) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = uint16(b[2*i]) | uint16(b[2*i+1])<<8
	}
	return string(utf16.Decode(u))
}

// DecodeUTF16Z decodes UTF-16LE up to the first NUL character (or the end).
func DecodeUTF16Z(b []byte) string {
	for i := 0; i+1 < len(b); i += 2 {
		if b[i] == 0 && b[i+1] == 0 {
			return DecodeUTF16(b[:i])
		}
	}
	return DecodeUTF16(b)
}

// decodeUTF16Trim decodes a variable-length string field that runs to the end
// of a message: it drops the trailing NULs (the terminator and the 8-byte
// alignment padding of 2.2.4) but keeps inner NULs, which separate the
// optional parts of subscriberName (2.2.4.17).
func decodeUTF16Trim(b []byte) string {
	return strings.TrimRight(DecodeUTF16(b), "\x00")
}
