package mmsserver

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// This file edits ASF data packets in place or into a new buffer: the server
// drops payloads of unselected streams (3.2.5.11.1), removes Padding Data
// (MS-MMSP 2.2.2) and shifts timestamps when it loops a file as a broadcast.
// Parsing follows the ASF specification, section 5.2 (payload parsing
// information, single and multiple payloads, compressed payloads). It keeps
// byte offsets of the fields it may rewrite, which a general ASF reader does
// not need.

var errBadPacket = errors.New("mmsserver: malformed ASF data packet")

// lenField is a variable-size field of the payload parsing information
// (ASF 5.2.2): its offset in the packet and its size (0, 1, 2 or 4 bytes).
type lenField struct {
	off, size int
}

func (f lenField) get(b []byte) uint32 {
	switch f.size {
	case 1:
		return uint32(b[f.off])
	case 2:
		return uint32(binary.LittleEndian.Uint16(b[f.off:]))
	case 4:
		return binary.LittleEndian.Uint32(b[f.off:])
	}
	return 0
}

// put writes v; it reports false when v does not fit the field.
func (f lenField) put(b []byte, v uint32) bool {
	switch f.size {
	case 0:
		return v == 0
	case 1:
		if v > 0xFF {
			return false
		}
		b[f.off] = byte(v)
	case 2:
		if v > 0xFFFF {
			return false
		}
		binary.LittleEndian.PutUint16(b[f.off:], uint16(v))
	case 4:
		binary.LittleEndian.PutUint32(b[f.off:], v)
	}
	return true
}

func typeSize(t byte) int {
	switch t & 3 {
	case 1:
		return 1
	case 2:
		return 2
	case 3:
		return 4
	}
	return 0
}

// payloadInfo locates one payload of a packet.
type payloadInfo struct {
	start, end int // the whole payload, headers included
	stream     uint8
	keyFrame   bool
	offset     uint32 // offset into media object (presentation time when compressed)
	presTime   lenField
	compressed bool
}

// packetInfo is the parsed layout of one ASF data packet.
type packetInfo struct {
	multi        bool
	packetLen    lenField
	paddingLen   lenField
	sendTimeOff  int
	payloadFlags int // offset of the Payload Flags byte (multiple payloads), else -1
	lengthType   byte
	first        int // offset of the first payload
	dataEnd      int // offset where Padding Data starts
	padding      int
	payloads     []payloadInfo
	keepFlags    []bool
}

func (p *packetInfo) sendTime(b []byte) uint32 { return binary.LittleEndian.Uint32(b[p.sendTimeOff:]) }

// parsePacket parses b, a data packet as stored in the file or as received
// with its Padding Data removed. It reuses p.payloads.
func parsePacket(b []byte, p *packetInfo) error {
	p.payloads = p.payloads[:0]
	p.payloadFlags = -1
	off := 0
	if len(b) < 1 {
		return errBadPacket
	}
	if b[0]&0x80 != 0 { // Error Correction Flags (ASF 5.2.1)
		if b[0]&0x60 != 0 {
			return fmt.Errorf("%w: error correction length type %d", errBadPacket, (b[0]>>5)&3)
		}
		off = 1 + int(b[0]&0x0F)
	}
	if len(b) < off+2 {
		return errBadPacket
	}
	flags, prop := b[off], b[off+1]
	off += 2
	p.multi = flags&1 != 0
	seqSize := typeSize(flags >> 1)
	p.paddingLen = lenField{size: typeSize(flags >> 3)}
	p.packetLen = lenField{size: typeSize(flags >> 5)}
	repSize, offSize, monSize := typeSize(prop), typeSize(prop>>2), typeSize(prop>>4)
	if prop>>6 != 1 { // Stream Number Length Type MUST be 01
		return fmt.Errorf("%w: stream number length type %d", errBadPacket, prop>>6)
	}
	p.packetLen.off = off
	off += p.packetLen.size
	off += seqSize
	p.paddingLen.off = off
	off += p.paddingLen.size
	p.sendTimeOff = off
	off += 6 // Send Time, Duration
	if len(b) < off {
		return errBadPacket
	}
	p.padding = int(p.paddingLen.get(b))
	end := len(b)
	if p.packetLen.size > 0 {
		if n := int(p.packetLen.get(b)); n > 0 && n <= len(b) {
			end = n
		}
	}
	if p.padding > end-off {
		return fmt.Errorf("%w: padding %d beyond packet", errBadPacket, p.padding)
	}
	p.dataEnd = end - p.padding
	count := 1
	if p.multi {
		if off >= p.dataEnd {
			return errBadPacket
		}
		p.payloadFlags = off
		count = int(b[off] & 0x3F)
		p.lengthType = b[off] >> 6
		off++
		if count == 0 {
			return fmt.Errorf("%w: no payloads", errBadPacket)
		}
	}
	p.first = off
	for i := 0; i < count; i++ {
		var pl payloadInfo
		pl.start = off
		hdr := 1 + monSize + offSize + repSize
		if off+hdr > p.dataEnd {
			return fmt.Errorf("%w: payload %d header", errBadPacket, i)
		}
		pl.stream = b[off] & 0x7F
		pl.keyFrame = b[off]&0x80 != 0
		off += 1 + monSize
		offField := lenField{off: off, size: offSize}
		pl.offset = offField.get(b)
		off += offSize
		rep := int(lenField{off: off, size: repSize}.get(b))
		off += repSize
		if off+rep > p.dataEnd {
			return fmt.Errorf("%w: replicated data", errBadPacket)
		}
		switch {
		case rep == 1: // compressed payload: the offset field is the presentation time
			pl.compressed = true
			pl.presTime = offField
		case rep >= 8:
			pl.presTime = lenField{off: off + 4, size: 4}
		}
		off += rep // for a compressed payload, the Presentation Time Delta
		var dataLen int
		if p.multi {
			lf := lenField{off: off, size: typeSize(p.lengthType)}
			if lf.size == 0 || off+lf.size > p.dataEnd {
				return fmt.Errorf("%w: payload length", errBadPacket)
			}
			dataLen = int(lf.get(b))
			off += lf.size
		} else {
			dataLen = p.dataEnd - off
		}
		if dataLen < 0 || off+dataLen > p.dataEnd {
			return fmt.Errorf("%w: payload %d length %d", errBadPacket, i, dataLen)
		}
		off += dataLen
		pl.end = off
		p.payloads = append(p.payloads, pl)
	}
	return nil
}

// keyFrameStart reports whether a payload of a video stream (or, when video
// is empty, of any stream) starts a key-frame media object.
func (p *packetInfo) keyFrameStart(video map[uint8]bool) bool {
	for _, pl := range p.payloads {
		if !pl.keyFrame || (pl.offset != 0 && !pl.compressed) {
			continue
		}
		if len(video) == 0 || video[pl.stream] {
			return true
		}
	}
	return false
}

// shiftTimes adds d milliseconds to the packet's Send Time and to the
// presentation time of every payload, in place.
func (p *packetInfo) shiftTimes(b []byte, d uint32) {
	binary.LittleEndian.PutUint32(b[p.sendTimeOff:], p.sendTime(b)+d)
	for _, pl := range p.payloads {
		if pl.presTime.size == 4 {
			pl.presTime.put(b, pl.presTime.get(b)+d)
		} else if pl.presTime.size > 0 {
			// A compressed payload with a short offset field cannot hold a
			// larger time; leave it, it is rare and only affects looping.
			pl.presTime.put(b, pl.presTime.get(b)+d)
		}
	}
}

// rewrite appends to dst the packet b keeping only the payloads for which
// keep returns true (it is called once per payload, in order), and with its
// Padding Data removed when strip is true. It returns dst unchanged and
// false when no payload is kept. A single-payload packet is kept or dropped
// whole. When payloads are dropped from a multiple-payload packet and strip
// is false, the freed bytes become padding if the Padding Length field can
// express them, else they are removed (explicit payload lengths make that
// safe, 2.2.2). A Packet Length field, when present, keeps the full size:
// clients pad packets back to it.
func (p *packetInfo) rewrite(dst, b []byte, keep func(pl *payloadInfo) bool, strip bool) ([]byte, bool) {
	kept := 0
	p.keepFlags = p.keepFlags[:0]
	for i := range p.payloads {
		k := keep == nil || keep(&p.payloads[i])
		p.keepFlags = append(p.keepFlags, k)
		if k {
			kept++
		}
	}
	if kept == 0 {
		return dst, false
	}
	start := len(dst)
	if kept == len(p.payloads) {
		if !strip || p.padding == 0 {
			return append(dst, b...), true
		}
		dst = append(dst, b[:p.dataEnd]...)
		p.paddingLen.put(dst[start:], 0)
		return dst, true
	}
	// multiple payloads, some dropped
	dst = append(dst, b[:p.first]...)
	for i, pl := range p.payloads {
		if p.keepFlags[i] {
			dst = append(dst, b[pl.start:pl.end]...)
		}
	}
	out := dst[start:]
	out[p.payloadFlags] = out[p.payloadFlags]&0xC0 | byte(kept)
	pad := len(b) - len(out)
	if !strip && p.paddingLen.put(out, uint32(pad)) {
		dst = append(dst, make([]byte, pad)...)
	} else {
		p.paddingLen.put(out, 0)
	}
	return dst, true
}
