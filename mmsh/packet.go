package mmsh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Packet types: the PacketID byte of the Framing Header (MS-WMSP 2.2.3).
const (
	TypeStreamChange byte = 'C' // $C, 2.2.3.2
	TypeData         byte = 'D' // $D, 2.2.3.3
	TypeEnd          byte = 'E' // $E, 2.2.3.4
	TypeHeader       byte = 'H' // $H, 2.2.3.5
	TypeMetadata     byte = 'M' // $M, 2.2.3.6
	TypePacketPair   byte = 'P' // $P, 2.2.3.7
	TypeTest         byte = 'T' // $T, 2.2.3.8
)

// HRESULTs with a meaning in $E (2.2.3.4) and $C (2.2.3.2).
const (
	EndOK          uint32 = 0x00000000 // S_OK: streaming finished
	EndNextEntry   uint32 = 0x00000001 // S_FALSE: this playlist entry finished, $C follows
	EndReceding    uint32 = 0x000D2F09 // NS_S_EOS_RECEDING: rewound to the beginning
	ChangeReversed uint32 = 0x400D14BE // $C: switching to the previous entry
)

// AFFlags of $H and $M packets (2.2.3.1.2).
const (
	AFFirst uint8 = 0x04 // first MMS data packet of a split object
	AFLast  uint8 = 0x08 // last MMS data packet of a split object
)

const (
	framingHeaderSize = 4
	dataHeaderSize    = 8 // LocationId, Incarnation, AFFlags, PacketSize
	// MaxPacketLength is the largest PacketLength (16 bits).
	MaxPacketLength = 0xffff
	// MaxPayload is the largest Payload of one MMS data packet: the
	// PacketSize field counts the 8-byte header too (2.2.3.1.2).
	MaxPayload = MaxPacketLength - dataHeaderSize
)

// ErrFraming is wrapped by every error about malformed MS-WMSP framing.
var ErrFraming = errors.New("mmsh: malformed framing")

// Packet is one MS-WMSP packet (2.2.3): the Framing Header plus, for $D, $H
// and $M, the MMS data packet header; Payload points into the buffer the
// packet was read from.
type Packet struct {
	B    bool // the next packet follows without a pacing delay
	Type byte // TypeXxx
	// Reason is the HRESULT of $C and $E, and the header byte count of $P.
	Reason uint32
	// MMS data packet fields ($D, $H, $M).
	LocationID  uint32
	Incarnation uint8
	AFFlags     uint8
	Payload     []byte // $D, $H, $M data; $P random bytes
}

// hasData reports whether packets of type t carry an MMS data packet.
func hasData(t byte) bool { return t == TypeData || t == TypeHeader || t == TypeMetadata }

// hasReason reports whether packets of type t carry the Reason field.
func hasReason(t byte) bool { return t == TypeStreamChange || t == TypeEnd || t == TypePacketPair }

// AppendPacket appends the wire form of p to dst. The B bit is written
// only when p.B is set (FFmpeg's client does not accept 0xA4, so servers
// here leave it clear).
func AppendPacket(dst []byte, p *Packet) ([]byte, error) {
	var n int
	switch {
	case hasData(p.Type):
		n = dataHeaderSize + len(p.Payload)
	case p.Type == TypePacketPair:
		// PacketLength of $P does not count its bytes (2.2.3.7); servers
		// here never send packet pairs.
		return dst, fmt.Errorf("%w: $P packets are not written", ErrFraming)
	case hasReason(p.Type):
		n = 4
	case p.Type == TypeTest:
		n = 0
	default:
		return dst, fmt.Errorf("%w: unknown packet type 0x%02x", ErrFraming, p.Type)
	}
	if n > MaxPacketLength {
		return dst, fmt.Errorf("%w: $%c packet of %d bytes exceeds %d", ErrFraming, p.Type, n, MaxPacketLength)
	}
	frame := byte(0x24)
	if p.B {
		frame = 0xA4
	}
	dst = append(dst, frame, p.Type)
	dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
	switch {
	case hasData(p.Type):
		dst = binary.LittleEndian.AppendUint32(dst, p.LocationID)
		dst = append(dst, p.Incarnation, p.AFFlags)
		dst = binary.LittleEndian.AppendUint16(dst, uint16(n))
		dst = append(dst, p.Payload...)
	case hasReason(p.Type):
		dst = binary.LittleEndian.AppendUint32(dst, p.Reason)
		dst = append(dst, p.Payload...)
	}
	return dst, nil
}

// parseFraming reads the 4-byte Framing Header and returns PacketLength.
func (p *Packet) parseFraming(h []byte) (int, error) {
	if h[0]&0x7f != 0x24 {
		return 0, fmt.Errorf("%w: frame byte 0x%02x is not '$'", ErrFraming, h[0])
	}
	*p = Packet{B: h[0]&0x80 != 0, Type: h[1]}
	n := int(binary.LittleEndian.Uint16(h[2:]))
	switch {
	case hasData(p.Type):
		if n < dataHeaderSize {
			return 0, fmt.Errorf("%w: $%c PacketLength %d below %d", ErrFraming, p.Type, n, dataHeaderSize)
		}
	case p.Type == TypePacketPair:
		if n != 504 && n != 1048 {
			return 0, fmt.Errorf("%w: $P PacketLength %d, want 504 or 1048", ErrFraming, n)
		}
	case hasReason(p.Type):
		if n != 4 {
			return 0, fmt.Errorf("%w: $%c PacketLength %d, want 4", ErrFraming, p.Type, n)
		}
	case p.Type == TypeTest:
		if n != 0 {
			return 0, fmt.Errorf("%w: $T PacketLength %d, want 0", ErrFraming, n)
		}
	default:
		return 0, fmt.Errorf("%w: unknown packet type 0x%02x", ErrFraming, p.Type)
	}
	return n, nil
}

// parseBody parses the PacketLength bytes after the Framing Header.
func (p *Packet) parseBody(b []byte) error {
	switch {
	case hasData(p.Type):
		p.LocationID = binary.LittleEndian.Uint32(b)
		p.Incarnation, p.AFFlags = b[4], b[5]
		size := int(binary.LittleEndian.Uint16(b[6:]))
		// PacketSize MUST be the MMS packet's size; some servers count
		// it differently, so only a size beyond the frame is an error.
		if size > len(b) {
			return fmt.Errorf("%w: $%c PacketSize %d exceeds PacketLength %d", ErrFraming, p.Type, size, len(b))
		}
		p.Payload = b[dataHeaderSize:]
	case hasReason(p.Type):
		p.Reason = binary.LittleEndian.Uint32(b)
		p.Payload = b[4:]
	}
	return nil
}

// Reader reads MS-WMSP packets from a response body. It never allocates
// beyond one buffer of the largest possible packet.
type Reader struct {
	r   io.Reader
	buf []byte
	// $P packets: how many were read and the Reason of the first, which
	// sizes the third (2.2.3.7).
	pairs      int
	pairReason int
}

// NewReader returns a Reader of r.
func NewReader(r io.Reader) *Reader {
	return &Reader{r: r, buf: make([]byte, framingHeaderSize+MaxPacketLength)}
}

// Next reads the next packet. The packet's Payload is valid until the
// next call. A clean end between packets gives io.EOF; an end inside one
// io.ErrUnexpectedEOF.
func (r *Reader) Next(p *Packet) error {
	if _, err := io.ReadFull(r.r, r.buf[:framingHeaderSize]); err != nil {
		return err
	}
	n, err := p.parseFraming(r.buf[:framingHeaderSize])
	if err != nil {
		return err
	}
	if p.Type == TypePacketPair {
		if n, err = r.pairLength(); err != nil {
			return err
		}
		return p.parseBody(r.buf[framingHeaderSize : framingHeaderSize+n])
	}
	body := r.buf[framingHeaderSize : framingHeaderSize+n]
	if err := readFull(r.r, body); err != nil {
		return err
	}
	return p.parseBody(body)
}

// readFull is io.ReadFull where any end is unexpected.
func readFull(r io.Reader, b []byte) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// pairLength reads the Reason of a $P packet and returns the number of
// bytes after the Framing Header: PacketLength does not count them
// (2.2.3.7).
func (r *Reader) pairLength() (int, error) {
	rb := r.buf[framingHeaderSize : framingHeaderSize+4]
	if err := readFull(r.r, rb); err != nil {
		return 0, err
	}
	reason := binary.LittleEndian.Uint32(rb)
	if reason > 504 {
		return 0, fmt.Errorf("%w: $P Reason %d above 504", ErrFraming, reason)
	}
	r.pairs++
	var payload int
	switch r.pairs {
	case 1:
		r.pairReason = int(reason)
		payload = 504 - int(reason)
	case 2:
		payload = 504
	case 3:
		payload = 1048 + r.pairReason
	default:
		return 0, fmt.Errorf("%w: more than three $P packets", ErrFraming)
	}
	// The Reason is read already: the caller reads the rest after it.
	if err := readFull(r.r, r.buf[framingHeaderSize+4:framingHeaderSize+4+payload]); err != nil {
		return 0, err
	}
	return 4 + payload, nil
}

// AppendHeaderPackets appends an ASF header (Header Object plus the 50-byte
// Data Object header) as $H packets: one when it fits, else pieces of at
// most MaxPayload bytes with LocationId 0, 1, ... and AFFlags 0x04 on the
// first and 0x08 on the last (2.2.3.1.2, 2.2.3.5).
func AppendHeaderPackets(dst []byte, typ byte, hdr []byte, incarnation uint8) []byte {
	loc := uint32(0)
	for first := true; first || len(hdr) > 0; first = false {
		n := min(len(hdr), MaxPayload)
		p := Packet{Type: typ, LocationID: loc, Incarnation: incarnation, Payload: hdr[:n]}
		if first {
			p.AFFlags |= AFFirst
		}
		if n == len(hdr) {
			p.AFFlags |= AFLast
		}
		dst, _ = AppendPacket(dst, &p) // n <= MaxPayload: cannot fail
		hdr = hdr[n:]
		loc++
	}
	return dst
}
