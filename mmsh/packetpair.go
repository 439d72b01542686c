package mmsh

import (
	"crypto/rand"
	"encoding/binary"
	"net/http"
)

// Packet-pair sizes of 2.2.3.7: PacketLength of the three $P packets.
const (
	pairLength1 = 504
	pairLength3 = 1048
)

// AppendPacketPair appends the three $P packets of a packet-pair
// experiment (2.2.3.7, 4.3). headerBytes is the size of the HTTP response
// header before them: Reason is the smaller of it and 504, and the first
// packet's payload is shortened by as much, the third lengthened, so that
// the response header plus the first packet make one 512-byte probe.
// Payloads are random (highly entropic, so that no link compresses them).
func AppendPacketPair(dst []byte, headerBytes int) []byte {
	reason := uint32(min(max(headerBytes, 0), pairLength1))
	sizes := [3]struct{ length, payload int }{
		{pairLength1, pairLength1 - int(reason)},
		{pairLength1, pairLength1},
		{pairLength3, pairLength3 + int(reason)},
	}
	for _, s := range sizes {
		dst = append(dst, 0x24, TypePacketPair)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(s.length))
		dst = binary.LittleEndian.AppendUint32(dst, reason)
		n := len(dst)
		dst = append(dst, make([]byte, s.payload)...)
		_, _ = rand.Read(dst[n:])
	}
	return dst
}

// responseHeaderSize is the number of bytes net/http writes for a 200
// response header with hdr (status line, fields, blank line): the Reason
// of the first $P. hdr must hold Date and Content-Length already, so
// that net/http adds nothing.
func responseHeaderSize(r *http.Request, hdr http.Header) int {
	var n countWriter
	_ = hdr.Write(&n)
	status := len("HTTP/1.1 200 OK\r\n")
	if r.ProtoMajor == 1 && r.ProtoMinor == 0 {
		status = len("HTTP/1.0 200 OK\r\n")
	}
	return status + int(n) + 2
}

type countWriter int

func (c *countWriter) Write(b []byte) (int, error) { *c += countWriter(len(b)); return len(b), nil }
