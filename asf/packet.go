package asf

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrPacket is wrapped by every error about a malformed data packet.
var ErrPacket = errors.New("asf: malformed data packet")

// Packet is a parsed ASF data packet (5.2). Byte slices point into the
// packet given to Unmarshal; nothing is copied.
type Packet struct {
	// ErrorCorrectionFlags is the first byte when error correction data is
	// present (bit 7), else 0; ErrorCorrectionData are its data bytes.
	ErrorCorrectionFlags uint8
	ErrorCorrectionData  []byte
	LengthTypeFlags      uint8 // 5.2.2
	PropertyFlags        uint8 // 5.2.2
	// PacketLength is the Packet Length field, or the length of the bytes
	// given to Unmarshal when the field is absent.
	PacketLength     uint32
	Sequence         uint32
	PaddingLength    uint32
	SendTime         uint32 // ms
	Duration         uint16 // ms
	MultiplePayloads bool
	PayloadFlags     uint8 // multiple payloads only: count and Payload Length Type
	Payloads         []Payload

	layout parsingInfo
}

// Payload is one payload of a data packet (5.2.3).
type Payload struct {
	StreamNumber          uint8
	KeyFrame              bool
	MediaObjectNumber     uint32
	OffsetIntoMediaObject uint32 // 0 for compressed payloads
	MediaObjectSize       uint32 // from replicated data; 0 when unknown or compressed
	PresentationTime      uint32 // ms, from replicated data (or the offset field when compressed)
	ReplicatedData        []byte
	Data                  []byte
	// Compressed payloads (5.2.3.3): Data holds sub-payloads, each a whole
	// media object preceded by its one-byte length; see SubPayload.
	Compressed bool
	// PresentationTimeDelta is the time between consecutive sub-payloads of a
	// compressed payload, in ms.
	PresentationTimeDelta uint8
}

// SubPayload splits the first sub-payload off the Data of a compressed
// payload: call it repeatedly until rest is empty.
func SubPayload(data []byte) (sub, rest []byte, err error) {
	if len(data) == 0 {
		return nil, nil, fmt.Errorf("%w: empty sub-payload data", ErrPacket)
	}
	n := int(data[0])
	if n+1 > len(data) {
		return nil, nil, fmt.Errorf("%w: sub-payload of %d bytes, %d left", ErrPacket, n, len(data)-1)
	}
	return data[1 : 1+n : 1+n], data[1+n:], nil
}

// parsingInfo records where the rewritable fields of the payload parsing
// information sit, for StripPadding and RestorePadding.
type parsingInfo struct {
	ltfOff     int // Length Type Flags
	pktLenOff  int // Packet Length field, if pktLenType != 0
	pktLenType uint8
	padOff     int // Padding Length field (where it is or would be)
	padType    uint8
	payloadOff int // first byte after Send Time and Duration
	end        int // packet end: explicit Packet Length or len
	padding    int
	multiple   bool
}

// fieldSize maps a 2-bit length type to bytes (5.2.2): absent, BYTE, WORD, DWORD.
func fieldSize(t uint8) int { return [4]int{0, 1, 2, 4}[t&3] }

func readField(b []byte, off int, t uint8) uint32 {
	switch t & 3 {
	case 1:
		return uint32(b[off])
	case 2:
		return uint32(binary.LittleEndian.Uint16(b[off:]))
	case 3:
		return binary.LittleEndian.Uint32(b[off:])
	}
	return 0
}

func writeField(b []byte, off int, t uint8, v uint32) {
	switch t & 3 {
	case 1:
		b[off] = byte(v)
	case 2:
		binary.LittleEndian.PutUint16(b[off:], uint16(v))
	case 3:
		binary.LittleEndian.PutUint32(b[off:], v)
	}
}

// parseInfo reads the error correction data and the payload parsing
// information (5.2.1, 5.2.2) into p and returns the layout.
func (p *Packet) parseInfo(b []byte) error {
	var l parsingInfo
	off := 0
	if len(b) < 1 {
		return fmt.Errorf("%w: empty", ErrPacket)
	}
	p.ErrorCorrectionFlags, p.ErrorCorrectionData = 0, nil
	if b[0]&0x80 != 0 {
		// Error Correction Flags: bits 0-3 data length, bits 5-6 length type (must be 00).
		ec := b[0]
		n := int(ec & 0x0f)
		if ec&0x60 != 0 {
			return fmt.Errorf("%w: error correction length type %d", ErrPacket, ec>>5&3)
		}
		if 1+n > len(b) {
			return fmt.Errorf("%w: error correction data of %d bytes in %d", ErrPacket, n, len(b))
		}
		p.ErrorCorrectionFlags = ec
		p.ErrorCorrectionData = b[1 : 1+n : 1+n]
		off = 1 + n
	}
	if off+2 > len(b) {
		return fmt.Errorf("%w: no payload parsing information", ErrPacket)
	}
	l.ltfOff = off
	ltf, pf := b[off], b[off+1]
	p.LengthTypeFlags, p.PropertyFlags = ltf, pf
	off += 2
	l.multiple = ltf&1 != 0
	seqType := ltf >> 1 & 3
	l.padType = ltf >> 3 & 3
	l.pktLenType = ltf >> 5 & 3
	need := fieldSize(l.pktLenType) + fieldSize(seqType) + fieldSize(l.padType) + 6
	if off+need > len(b) {
		return fmt.Errorf("%w: payload parsing information needs %d bytes, %d left", ErrPacket, need, len(b)-off)
	}
	l.pktLenOff = off
	pktLen := readField(b, off, l.pktLenType)
	off += fieldSize(l.pktLenType)
	p.Sequence = readField(b, off, seqType)
	off += fieldSize(seqType)
	l.padOff = off
	p.PaddingLength = readField(b, off, l.padType)
	off += fieldSize(l.padType)
	p.SendTime = binary.LittleEndian.Uint32(b[off:])
	p.Duration = binary.LittleEndian.Uint16(b[off+4:])
	off += 6
	l.payloadOff = off
	l.end = len(b)
	if l.pktLenType != 0 && pktLen != 0 {
		// Bytes beyond an explicit Packet Length are padding (5.2.2).
		if pktLen > uint32(len(b)) {
			return fmt.Errorf("%w: Packet Length %d exceeds the %d bytes given", ErrPacket, pktLen, len(b))
		}
		if int(pktLen) < off {
			return fmt.Errorf("%w: Packet Length %d shorter than its header", ErrPacket, pktLen)
		}
		l.end = int(pktLen)
	}
	p.PacketLength = uint32(l.end)
	if p.PaddingLength > uint32(l.end-off) {
		return fmt.Errorf("%w: Padding Length %d exceeds the %d bytes left", ErrPacket, p.PaddingLength, l.end-off)
	}
	l.padding = int(p.PaddingLength)
	p.MultiplePayloads = l.multiple
	p.layout = l
	return nil
}

// Unmarshal parses one data packet. b is the whole packet: full size as
// stored in a file, or shorter when its padding was removed (MS-MMSP 2.2.2).
// p.Payloads is reused, so parsing allocates nothing once it has grown.
// On error p holds what was parsed so far.
func (p *Packet) Unmarshal(b []byte) error {
	p.Payloads = p.Payloads[:0]
	r, err := p.payloadReader(b)
	if err != nil {
		return err
	}
	for {
		var pl Payload
		ok, err := r.next(&pl)
		if err != nil || !ok {
			return err
		}
		p.Payloads = append(p.Payloads, pl)
	}
}

// payloadReader walks the payloads of a packet without storing them.
type payloadReader struct {
	data                  []byte // the packet up to its padding
	off                   int
	left                  int // payloads still to read
	index                 int
	repT, offT, monT, plT uint8 // plT 0xff: single payload
}

// payloadReader parses the packet's header fields into p and returns a
// reader for its payloads.
func (p *Packet) payloadReader(b []byte) (payloadReader, error) {
	if err := p.parseInfo(b); err != nil {
		return payloadReader{}, err
	}
	l := &p.layout
	r := payloadReader{data: b[:l.end-l.padding], off: l.payloadOff, left: 1, plT: 0xff,
		repT: p.PropertyFlags & 3, offT: p.PropertyFlags >> 2 & 3, monT: p.PropertyFlags >> 4 & 3}
	p.PayloadFlags = 0
	if !l.multiple {
		return r, nil
	}
	if r.off >= len(r.data) {
		return r, fmt.Errorf("%w: no payload flags", ErrPacket)
	}
	p.PayloadFlags = r.data[r.off]
	r.off++
	r.left = int(p.PayloadFlags & 0x3f)
	r.plT = p.PayloadFlags >> 6
	// A count of 0 leaves a packet without payloads (filler), as FFmpeg
	// reads it too.
	if r.left > 0 && r.plT == 0 {
		return r, fmt.Errorf("%w: payload length type 0 with multiple payloads", ErrPacket)
	}
	return r, nil
}

// next reads the next payload into pl; false at the end.
func (r *payloadReader) next(pl *Payload) (bool, error) {
	if r.left == 0 {
		return false, nil
	}
	var err error
	*pl, r.off, err = parsePayload(r.data, r.off, r.repT, r.offT, r.monT, r.plT)
	if err != nil {
		if r.plT != 0xff {
			err = fmt.Errorf("payload %d: %w", r.index, err)
		}
		r.left = 0
		return false, err
	}
	r.left--
	r.index++
	return true, nil
}

// parsePayload parses one payload at off; plType 0xff means a single
// payload whose data runs to the end of data. It returns the offset after it.
func parsePayload(data []byte, off int, repType, offType, monType, plType uint8) (Payload, int, error) {
	var pl Payload
	need := 1 + fieldSize(monType) + fieldSize(offType) + fieldSize(repType)
	if off+need > len(data) {
		return pl, 0, fmt.Errorf("%w: payload header needs %d bytes, %d left", ErrPacket, need, len(data)-off)
	}
	sn := data[off]
	pl.StreamNumber = sn & 0x7f
	pl.KeyFrame = sn&0x80 != 0
	off++
	pl.MediaObjectNumber = readField(data, off, monType)
	off += fieldSize(monType)
	offsetField := readField(data, off, offType)
	off += fieldSize(offType)
	repLen := readField(data, off, repType)
	off += fieldSize(repType)
	if repLen > uint32(len(data)-off) {
		return pl, 0, fmt.Errorf("%w: replicated data of %d bytes, %d left", ErrPacket, repLen, len(data)-off)
	}
	pl.ReplicatedData = data[off : off+int(repLen) : off+int(repLen)]
	off += int(repLen)
	switch {
	case repLen == 1:
		pl.Compressed = true
		pl.PresentationTime = offsetField
		pl.PresentationTimeDelta = pl.ReplicatedData[0]
	case repLen >= 8:
		pl.OffsetIntoMediaObject = offsetField
		pl.MediaObjectSize = binary.LittleEndian.Uint32(pl.ReplicatedData)
		pl.PresentationTime = binary.LittleEndian.Uint32(pl.ReplicatedData[4:])
	case repLen == 0:
		pl.OffsetIntoMediaObject = offsetField
	default:
		return pl, 0, fmt.Errorf("%w: replicated data length %d", ErrPacket, repLen)
	}
	var n int
	if plType == 0xff {
		n = len(data) - off
	} else {
		if off+fieldSize(plType) > len(data) {
			return pl, 0, fmt.Errorf("%w: no payload length", ErrPacket)
		}
		n = int(readField(data, off, plType))
		off += fieldSize(plType)
		if n > len(data)-off {
			return pl, 0, fmt.Errorf("%w: payload of %d bytes, %d left", ErrPacket, n, len(data)-off)
		}
	}
	pl.Data = data[off : off+n : off+n]
	if !pl.Compressed && pl.MediaObjectSize != 0 &&
		(pl.OffsetIntoMediaObject > pl.MediaObjectSize || uint32(n) > pl.MediaObjectSize-pl.OffsetIntoMediaObject) {
		return pl, 0, fmt.Errorf("%w: fragment %d+%d beyond media object size %d",
			ErrPacket, pl.OffsetIntoMediaObject, n, pl.MediaObjectSize)
	}
	return pl, off + n, nil
}

// Append encodes p after dst and returns the extended slice. Field sizes
// come from LengthTypeFlags (sequence, padding and packet length types),
// PropertyFlags (replicated data, offset and object number types; the
// stream number is always a BYTE) and, with MultiplePayloads, the payload
// length type of PayloadFlags; the payload count is len(Payloads).
// ErrorCorrectionData is written when ErrorCorrectionFlags has bit 7.
// Replicated data is written as given; when it is nil, 8 bytes with
// MediaObjectSize and PresentationTime are written (or, for a compressed
// payload, the PresentationTimeDelta byte). With packetSize > 0 the packet
// is padded with zeros to packetSize and Padding Length is set to match;
// otherwise PaddingLength zero bytes are added. An explicit Packet Length
// field gets the final length.
func (p *Packet) Append(dst []byte, packetSize int) ([]byte, error) {
	start := len(dst)
	ltf := p.LengthTypeFlags &^ 1
	if p.MultiplePayloads {
		ltf |= 1
	}
	if p.ErrorCorrectionFlags&0x80 != 0 {
		ltf |= 0x80
		dst = append(dst, p.ErrorCorrectionFlags&0xf0|uint8(len(p.ErrorCorrectionData))&0x0f)
		dst = append(dst, p.ErrorCorrectionData...)
	} else {
		ltf &^= 0x80
	}
	seqType, padType, lenType := ltf>>1&3, ltf>>3&3, ltf>>5&3
	pf := p.PropertyFlags&^0xc0 | 0x40
	repType, offType, monType := pf&3, pf>>2&3, pf>>4&3
	dst = append(dst, ltf, pf)
	lenOff := len(dst)
	dst = appendField(dst, lenType, 0)
	dst = appendField(dst, seqType, p.Sequence)
	padOff := len(dst)
	dst = appendField(dst, padType, 0)
	dst = putU32(dst, p.SendTime)
	dst = putU16(dst, p.Duration)
	if !p.MultiplePayloads && len(p.Payloads) != 1 {
		return dst[:start], fmt.Errorf("%w: single-payload packet with %d payloads", ErrPacket, len(p.Payloads))
	}
	plType := p.PayloadFlags >> 6
	if p.MultiplePayloads {
		if len(p.Payloads) == 0 || len(p.Payloads) > 63 || plType == 0 {
			return dst[:start], fmt.Errorf("%w: %d payloads with length type %d", ErrPacket, len(p.Payloads), plType)
		}
		dst = append(dst, plType<<6|uint8(len(p.Payloads)))
	}
	for i := range p.Payloads {
		pl := &p.Payloads[i]
		sn := pl.StreamNumber & 0x7f
		if pl.KeyFrame {
			sn |= 0x80
		}
		dst = append(dst, sn)
		dst = appendField(dst, monType, pl.MediaObjectNumber)
		rep := pl.ReplicatedData
		if pl.Compressed {
			dst = appendField(dst, offType, pl.PresentationTime)
			if rep == nil {
				rep = []byte{pl.PresentationTimeDelta}
			}
		} else {
			dst = appendField(dst, offType, pl.OffsetIntoMediaObject)
		}
		if rep == nil && !pl.Compressed {
			dst = appendField(dst, repType, 8)
			dst = putU32(dst, pl.MediaObjectSize)
			dst = putU32(dst, pl.PresentationTime)
		} else {
			if len(rep) > maxField(repType) {
				return dst[:start], fmt.Errorf("%w: replicated data of %d bytes does not fit its length type", ErrPacket, len(rep))
			}
			dst = appendField(dst, repType, uint32(len(rep)))
			dst = append(dst, rep...)
		}
		if p.MultiplePayloads {
			if len(pl.Data) > maxField(plType) {
				return dst[:start], fmt.Errorf("%w: payload of %d bytes does not fit its length type", ErrPacket, len(pl.Data))
			}
			dst = appendField(dst, plType, uint32(len(pl.Data)))
		}
		dst = append(dst, pl.Data...)
	}
	pad := int(p.PaddingLength)
	if packetSize > 0 {
		pad = packetSize - (len(dst) - start)
		if pad < 0 {
			return dst[:start], fmt.Errorf("%w: %d bytes exceed packet size %d", ErrPacket, len(dst)-start, packetSize)
		}
	}
	if pad > maxField(padType) {
		return dst[:start], fmt.Errorf("%w: padding of %d bytes does not fit its length type", ErrPacket, pad)
	}
	for range pad {
		dst = append(dst, 0)
	}
	out := dst[start:]
	writeField(out, padOff-start, padType, uint32(pad))
	if lenType != 0 {
		if len(out) > maxField(lenType) {
			return dst[:start], fmt.Errorf("%w: packet of %d bytes does not fit its Packet Length field", ErrPacket, len(out))
		}
		writeField(out, lenOff-start, lenType, uint32(len(out)))
	}
	return dst, nil
}

func appendField(b []byte, t uint8, v uint32) []byte {
	switch t & 3 {
	case 1:
		return append(b, byte(v))
	case 2:
		return putU16(b, uint16(v))
	case 3:
		return putU32(b, v)
	}
	return b
}
