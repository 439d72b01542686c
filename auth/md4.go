package auth

import (
	"encoding/binary"
	"math/bits"
)

// md4 is MD4 (RFC 1320), which NTOWFv2 needs (MS-NLMP 3.3.2) and the
// standard library lacks. Only the one-shot form is needed.
func md4(msg []byte) [16]byte {
	a, b, c, d := uint32(0x67452301), uint32(0xefcdab89), uint32(0x98badcfe), uint32(0x10325476)
	// Padding (RFC 1320 3.1, 3.2): a 1 bit, zeros to 56 mod 64, then the
	// bit length as 64-bit little-endian.
	n := len(msg)
	padded := make([]byte, (n+8)/64*64+64)
	copy(padded, msg)
	padded[n] = 0x80
	binary.LittleEndian.PutUint64(padded[len(padded)-8:], uint64(n)*8)

	var x [16]uint32
	for blk := 0; blk < len(padded); blk += 64 {
		for i := range x {
			x[i] = binary.LittleEndian.Uint32(padded[blk+4*i:])
		}
		aa, bb, cc, dd := a, b, c, d
		// Round 1: F(x,y,z) = xy v not(x)z.
		f := func(a, b, c, d, k uint32, s int) uint32 {
			return bits.RotateLeft32(a+(b&c|^b&d)+x[k], s)
		}
		for _, k := range [4]uint32{0, 4, 8, 12} {
			a = f(a, b, c, d, k, 3)
			d = f(d, a, b, c, k+1, 7)
			c = f(c, d, a, b, k+2, 11)
			b = f(b, c, d, a, k+3, 19)
		}
		// Round 2: G(x,y,z) = xy v xz v yz, constant 0x5A827999.
		g := func(a, b, c, d, k uint32, s int) uint32 {
			return bits.RotateLeft32(a+(b&c|b&d|c&d)+x[k]+0x5A827999, s)
		}
		for _, k := range [4]uint32{0, 1, 2, 3} {
			a = g(a, b, c, d, k, 3)
			d = g(d, a, b, c, k+4, 5)
			c = g(c, d, a, b, k+8, 9)
			b = g(b, c, d, a, k+12, 13)
		}
		// Round 3: H(x,y,z) = x xor y xor z, constant 0x6ED9EBA1.
		h := func(a, b, c, d, k uint32, s int) uint32 {
			return bits.RotateLeft32(a+(b^c^d)+x[k]+0x6ED9EBA1, s)
		}
		for _, k := range [4]uint32{0, 2, 1, 3} {
			a = h(a, b, c, d, k, 3)
			d = h(d, a, b, c, k+8, 9)
			c = h(c, d, a, b, k+4, 11)
			b = h(b, c, d, a, k+12, 15)
		}
		a, b, c, d = a+aa, b+bb, c+cc, d+dd
	}
	var out [16]byte
	binary.LittleEndian.PutUint32(out[0:], a)
	binary.LittleEndian.PutUint32(out[4:], b)
	binary.LittleEndian.PutUint32(out[8:], c)
	binary.LittleEndian.PutUint32(out[12:], d)
	return out
}
