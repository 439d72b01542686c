package asf

import (
	"errors"
	"fmt"
)

// ErrGap is wrapped by the errors a Reassembler returns when fragments or
// whole media objects of a stream are missing.
var ErrGap = errors.New("asf: gap in media objects")

// DefaultMaxObjectSize bounds a media object's size when
// Reassembler.MaxObjectSize is 0.
const DefaultMaxObjectSize = 32 << 20

// MediaObject is one complete media object (a video frame, a block of
// audio) of a stream.
type MediaObject struct {
	StreamNumber     uint8
	Number           uint32 // Media Object Number
	PresentationTime uint32 // ms, as carried in the payloads: includes the preroll
	KeyFrame         bool
	Data             []byte // owned by the receiver
}

// Reassembler joins payload fragments into media objects, per stream, in
// packet order (5.2.3). It reports missing fragments and missing objects
// (by Media Object Number) as errors wrapping ErrGap, drops the damaged
// object and carries on. Audio streams with audio spread error correction
// are descrambled.
type Reassembler struct {
	// MaxObjectSize bounds a media object's announced size; 0 means
	// DefaultMaxObjectSize.
	MaxObjectSize int

	streams [128]reassemblyState
}

type reassemblyState struct {
	active   bool // an object is in progress in buf
	number   uint32
	size     uint32
	pts      uint32
	key      bool
	buf      []byte
	haveLast bool // last is the number of the last object started
	last     uint32
	// lastAlt is also accepted as the last number: after a compressed
	// payload of k sub-payloads writers count either one object or k.
	lastAlt uint32
	spread  *AudioSpreadInfo
}

// NewReassembler returns a Reassembler for the streams of h (which gives
// the audio spread parameters); h may be nil.
func NewReassembler(h *Header) *Reassembler {
	r := &Reassembler{}
	if h != nil {
		for _, s := range h.Streams {
			if sp := s.Spread; sp != nil && sp.Span > 1 && sp.VirtualChunkLength > 0 &&
				sp.VirtualPacketLength%sp.VirtualChunkLength == 0 && s.StreamNumber < 128 {
				r.streams[s.StreamNumber].spread = sp
			}
		}
	}
	return r
}

// Reset forgets objects in progress, e.g. after a discontinuity or a seek.
func (r *Reassembler) Reset() {
	for i := range r.streams {
		st := &r.streams[i]
		st.active, st.haveLast, st.buf = false, false, nil
	}
}

// Push adds the payloads of one packet and returns the media objects it
// completed. A non-nil error (wrapping ErrGap or ErrPacket) describes what
// was dropped; the returned objects are valid all the same.
func (r *Reassembler) Push(p *Packet) ([]MediaObject, error) {
	var out []MediaObject
	var errs []error
	monMask := uint32(maxField(p.PropertyFlags >> 4 & 3))
	for i := range p.Payloads {
		pl := &p.Payloads[i]
		st := &r.streams[pl.StreamNumber&0x7f]
		if pl.Compressed {
			if err := st.abandon(pl.StreamNumber, "a compressed payload follows"); err != nil {
				errs = append(errs, err)
			}
			if err := st.checkNumber(pl.StreamNumber, pl.MediaObjectNumber, monMask); err != nil {
				errs = append(errs, err)
			}
			data := pl.Data
			for k := uint32(0); len(data) > 0; k++ {
				sub, rest, err := SubPayload(data)
				if err != nil {
					errs = append(errs, fmt.Errorf("stream %d: %w", pl.StreamNumber, err))
					break
				}
				out = append(out, MediaObject{StreamNumber: pl.StreamNumber, Number: pl.MediaObjectNumber + k,
					PresentationTime: pl.PresentationTime + k*uint32(pl.PresentationTimeDelta),
					KeyFrame:         pl.KeyFrame, Data: append([]byte(nil), sub...)})
				data = rest
				st.lastAlt = pl.MediaObjectNumber + k
			}
			continue
		}
		if pl.MediaObjectSize == 0 {
			// No replicated data: the payload is taken as a whole object.
			if err := st.abandon(pl.StreamNumber, "an unsized payload follows"); err != nil {
				errs = append(errs, err)
			}
			out = append(out, MediaObject{StreamNumber: pl.StreamNumber, Number: pl.MediaObjectNumber,
				KeyFrame: pl.KeyFrame, Data: append([]byte(nil), pl.Data...)})
			continue
		}
		if pl.OffsetIntoMediaObject == 0 {
			if err := st.abandon(pl.StreamNumber, fmt.Sprintf("object %d starts", pl.MediaObjectNumber)); err != nil {
				errs = append(errs, err)
			}
			if err := st.checkNumber(pl.StreamNumber, pl.MediaObjectNumber, monMask); err != nil {
				errs = append(errs, err)
			}
			limit := r.MaxObjectSize
			if limit <= 0 {
				limit = DefaultMaxObjectSize
			}
			if pl.MediaObjectSize > uint32(limit) {
				errs = append(errs, fmt.Errorf("stream %d: media object %d of %d bytes exceeds the limit of %d",
					pl.StreamNumber, pl.MediaObjectNumber, pl.MediaObjectSize, limit))
				continue
			}
			st.active, st.number, st.size, st.pts, st.key = true, pl.MediaObjectNumber, pl.MediaObjectSize,
				pl.PresentationTime, pl.KeyFrame
			// Grow with the data received, not with the size announced.
			st.buf = make([]byte, 0, min(pl.MediaObjectSize, 256<<10))
		} else if !st.active || st.number != pl.MediaObjectNumber || uint32(len(st.buf)) != pl.OffsetIntoMediaObject ||
			st.size != pl.MediaObjectSize {
			errs = append(errs, fmt.Errorf("%w: stream %d: fragment at offset %d of media object %d without its beginning",
				ErrGap, pl.StreamNumber, pl.OffsetIntoMediaObject, pl.MediaObjectNumber))
			st.active = false
			st.buf = nil
			continue
		}
		// parsePayload guarantees offset+len(Data) <= MediaObjectSize
		st.buf = append(st.buf, pl.Data...)
		if uint32(len(st.buf)) == st.size {
			data := st.buf
			if st.spread != nil {
				data = descramble(data, st.spread)
			}
			out = append(out, MediaObject{StreamNumber: pl.StreamNumber, Number: st.number,
				PresentationTime: st.pts, KeyFrame: st.key, Data: data})
			st.active, st.buf = false, nil
		}
	}
	return out, errors.Join(errs...)
}

// Flush reports objects still incomplete, e.g. at the end of a stream, and
// forgets them.
func (r *Reassembler) Flush() error {
	var errs []error
	for i := range r.streams {
		if err := r.streams[i].abandon(uint8(i), "the stream ended"); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (st *reassemblyState) abandon(stream uint8, why string) error {
	if !st.active {
		return nil
	}
	err := fmt.Errorf("%w: stream %d: media object %d incomplete (%d of %d bytes) when %s",
		ErrGap, stream, st.number, len(st.buf), st.size, why)
	st.active, st.buf = false, nil
	return err
}

// checkNumber verifies that object numbers of a stream count up by one,
// modulo the width of the Media Object Number field.
func (st *reassemblyState) checkNumber(stream uint8, n, mask uint32) error {
	prev, alt, had := st.last, st.lastAlt, st.haveLast
	st.last, st.lastAlt, st.haveLast = n, n, true
	if !had || mask == 0 || (prev+1)&mask == n&mask || prev&mask == n&mask || (alt+1)&mask == n&mask {
		return nil
	}
	return fmt.Errorf("%w: stream %d: media objects %d..%d missing", ErrGap, stream, (prev+1)&mask, (n-1)&mask)
}

// descramble undoes audio spread (9.1.1): the object was written as a
// matrix of chunks, Span rows by VirtualPacketLength/VirtualChunkLength
// columns, read column-wise.
func descramble(b []byte, sp *AudioSpreadInfo) []byte {
	span := int(sp.Span)
	chunk := int(sp.VirtualChunkLength)
	vpl := int(sp.VirtualPacketLength)
	if len(b) != vpl*span {
		return b // only whole scrambling units are scrambled
	}
	out := make([]byte, len(b))
	perPacket := vpl / chunk
	for off := 0; off+chunk <= len(b); off += chunk {
		n := off / chunk
		row, col := n/span, n%span
		src := (row + col*perPacket) * chunk
		copy(out[off:off+chunk], b[src:src+chunk])
	}
	return out
}

// scramble is the inverse of descramble, for the Writer.
func scramble(b []byte, sp *AudioSpreadInfo) []byte {
	span := int(sp.Span)
	chunk := int(sp.VirtualChunkLength)
	perPacket := int(sp.VirtualPacketLength) / chunk
	out := make([]byte, len(b))
	for off := 0; off+chunk <= len(b); off += chunk {
		n := off / chunk
		row, col := n/span, n%span
		dst := (row + col*perPacket) * chunk
		copy(out[dst:dst+chunk], b[off:off+chunk])
	}
	return out
}
