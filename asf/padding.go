package asf

import (
	"fmt"
)

// StripPadding appends pkt to dst without its Padding Data and with Padding
// Length set to 0, as MS-MMSP 2.2.2 asks of a server before it puts an ASF
// data packet into a Data packet. The Padding Length field keeps its size,
// so that RestorePadding gives back the original bytes (Padding Data comes
// back as zeros: some Microsoft encoders left stale bytes there). An
// explicit Packet Length field (when not 0) is set to the new length. With
// multiOnly, packets that do not carry multiple payloads are appended
// unchanged. Packets without padding are appended unchanged.
func StripPadding(dst, pkt []byte, multiOnly bool) ([]byte, error) {
	var p Packet
	if err := p.parseInfo(pkt); err != nil {
		return dst, err
	}
	l := &p.layout
	if (multiOnly && !l.multiple) || (l.padding == 0 && l.end == len(pkt)) {
		return append(dst, pkt...), nil
	}
	n := l.end - l.padding
	start := len(dst)
	dst = append(dst, pkt[:n]...)
	out := dst[start:]
	writeField(out, l.padOff, l.padType, 0)
	if l.pktLenType != 0 && readField(pkt, l.pktLenOff, l.pktLenType) != 0 {
		if n > maxField(l.pktLenType) {
			return dst[:start], fmt.Errorf("%w: length %d does not fit the Packet Length field", ErrPacket, n)
		}
		writeField(out, l.pktLenOff, l.pktLenType, uint32(n))
	}
	return dst, nil
}

func maxField(t uint8) int { return [4]int{0, 0xff, 0xffff, 0xffffffff}[t&3] }

// RestorePadding appends pkt to dst, grown to packetSize with zero Padding
// Data, as a client does with packets whose padding a server removed. When
// the packet has no Padding Length field, one is added through the Length
// Type Flags (BYTE when the padding fits, else WORD or DWORD); a field too
// small for the new padding is widened the same way. An explicit Packet
// Length field (when not 0) is set to packetSize. The result parses to the
// same payloads as pkt.
func RestorePadding(dst, pkt []byte, packetSize int) ([]byte, error) {
	var p Packet
	if err := p.parseInfo(pkt); err != nil {
		return dst, err
	}
	l := &p.layout
	n := l.end
	if n > packetSize {
		return dst, fmt.Errorf("%w: packet of %d bytes exceeds packet size %d", ErrPacket, n, packetSize)
	}
	if n == packetSize {
		return append(dst, pkt[:n]...), nil
	}
	extra := packetSize - n
	oldW := fieldSize(l.padType)
	newType := l.padType
	pad := l.padding + extra
	if pad > maxField(newType) {
		// Widen: the added field bytes come out of the padding.
		for t := max(newType, 1); t <= 3; t++ {
			grow := fieldSize(t) - oldW
			if pad-grow >= 0 && pad-grow <= maxField(t) {
				newType, pad = t, pad-grow
				break
			}
		}
		if pad > maxField(newType) || pad < 0 {
			return dst, fmt.Errorf("%w: cannot express padding of %d bytes", ErrPacket, pad)
		}
	}
	explicitLen := l.pktLenType != 0 && readField(pkt, l.pktLenOff, l.pktLenType) != 0
	if explicitLen && packetSize > maxField(l.pktLenType) {
		return dst, fmt.Errorf("%w: packet size %d does not fit the Packet Length field", ErrPacket, packetSize)
	}
	start := len(dst)
	dst = append(dst, pkt[:l.padOff]...)
	for range fieldSize(newType) {
		dst = append(dst, 0)
	}
	dst = append(dst, pkt[l.padOff+oldW:n-l.padding]...)
	for range pad {
		dst = append(dst, 0)
	}
	out := dst[start:]
	out[l.ltfOff] = out[l.ltfOff]&^0x18 | newType<<3
	writeField(out, l.padOff, newType, uint32(pad))
	if explicitLen {
		writeField(out, l.pktLenOff, l.pktLenType, uint32(packetSize))
	}
	if len(out) != packetSize {
		return dst[:start], fmt.Errorf("%w: restored %d bytes, want %d", ErrPacket, len(out), packetSize)
	}
	return dst, nil
}

// HasKeyFrame reports whether a payload of stream starts a key-frame media
// object (Key Frame bit set and offset 0, or a compressed payload with the
// bit). Stream 0 matches every stream. Audio payloads often lack the Key
// Frame bit although every audio object is a random access point: use
// Header.HasKeyFrame to decide by stream type.
func HasKeyFrame(pkt []byte, stream uint8) (bool, error) {
	var p Packet
	r, err := p.payloadReader(pkt)
	if err != nil {
		return false, err
	}
	var pl Payload
	for {
		ok, err := r.next(&pl)
		if err != nil || !ok {
			return false, err
		}
		if (stream == 0 || pl.StreamNumber == stream) && pl.KeyFrame && (pl.Compressed || pl.OffsetIntoMediaObject == 0) {
			return true, nil
		}
	}
}

// HasKeyFrame reports whether pkt is a good place for a viewer to join:
// when h has video streams, a payload of a video stream starts a key-frame
// object; in audio-only content, any payload starts a media object.
func (h *Header) HasKeyFrame(pkt []byte) (bool, error) {
	var p Packet
	r, err := p.payloadReader(pkt)
	if err != nil {
		return false, err
	}
	video := false
	for _, s := range h.Streams {
		video = video || s.IsVideo()
	}
	var pl Payload
	for {
		ok, err := r.next(&pl)
		if err != nil || !ok {
			return false, err
		}
		if !pl.Compressed && pl.OffsetIntoMediaObject != 0 {
			continue
		}
		if !video {
			return true, nil
		}
		if s := h.Stream(uint16(pl.StreamNumber)); s != nil && s.IsVideo() && pl.KeyFrame {
			return true, nil
		}
	}
}
