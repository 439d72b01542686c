package mmsproto

import (
	"encoding/binary"
	"fmt"
	"math"
)

// dec reads little-endian fields (2.2: all integers are little-endian) from a
// byte slice. The first failure sticks; callers check d.err once at the end.
type dec struct {
	b   []byte
	off int
	err error
	msg string // name of the structure, for errors
}

func (d *dec) need(n int) bool {
	if d.err != nil {
		return false
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = errShort(d.msg, d.off+n, len(d.b))
		return false
	}
	return true
}

func (d *dec) u8() uint8 {
	if !d.need(1) {
		return 0
	}
	v := d.b[d.off]
	d.off++
	return v
}

func (d *dec) u16() uint16 {
	if !d.need(2) {
		return 0
	}
	v := binary.LittleEndian.Uint16(d.b[d.off:])
	d.off += 2
	return v
}

func (d *dec) u32() uint32 {
	if !d.need(4) {
		return 0
	}
	v := binary.LittleEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *dec) u64() uint64 {
	if !d.need(8) {
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func (d *dec) f64() float64 { return math.Float64frombits(d.u64()) }

func (d *dec) bytes(n int) []byte {
	if !d.need(n) {
		return nil
	}
	v := d.b[d.off : d.off+n : d.off+n]
	d.off += n
	return v
}

func (d *dec) skip(n int) { d.bytes(n) }

func (d *dec) rest() []byte {
	if d.err != nil {
		return nil
	}
	v := d.b[d.off:len(d.b):len(d.b)]
	d.off = len(d.b)
	return v
}

// count reads a 32-bit element count and checks that count*size bytes remain,
// so a lying count never causes a large allocation.
func (d *dec) count(size int, field string) int {
	n := d.u32()
	if d.err != nil {
		return 0
	}
	if uint64(n)*uint64(size) > uint64(len(d.b)-d.off) {
		d.err = fmt.Errorf("%w: %s %s=%d needs %d bytes, %d remain", ErrBadLength, d.msg, field, n,
			uint64(n)*uint64(size), len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }
func lef64(b []byte, v float64) []byte {
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
}
func zeros(b []byte, n int) []byte {
	for range n {
		b = append(b, 0)
	}
	return b
}
