package asf

import (
	"errors"
	"fmt"
	"time"
)

// maxSeekScan bounds the packets PacketForTime reads beyond its binary
// search: when no key frame turns up within it, the send-time answer is used.
const maxSeekScan = 4096

// PacketForTime returns the packet a server starts sending from to play
// from media time t: presentation time minus the preroll, 0 being the start
// of the content (the times ffprobe shows).
//
// In a file with video it is the last packet, among those whose send time is
// not after t, that holds the start of a key frame of the first video stream
// presented at or before t: the client's decoder starts on a key frame. In
// other files (or when no such key frame is found) it is the last packet
// whose send time is not after t.
//
// Index entries (6.1, 6.2) are in presentation times, preroll included: entry
// i covers presentation time i×interval, that is media time i×interval -
// preroll (FFmpeg's asfenc computes them so, and Microsoft's glass.wmv agrees).
// An index entry is only a shortcut: it is used when its packet starts such
// a key frame, then refined forward, so a coarse or wrong index costs reads,
// never a wrong answer.
func (f *File) PacketForTime(t time.Duration) (uint64, error) {
	if f.PacketCount == 0 {
		return 0, errors.New("asf: file has no data packets")
	}
	if t <= 0 {
		return 0, nil
	}
	s := f.newSeeker(t)
	if s.video != 0 {
		if n, ok := s.fromIndex(); ok {
			return n, nil
		}
	}
	at, err := s.bySendTime()
	if err != nil || s.video == 0 {
		return at, err
	}
	return s.backToKeyFrame(at)
}

// seeker holds what one PacketForTime call reads packets with.
type seeker struct {
	f       *File
	t       time.Duration // media time
	ms      uint32        // t in ms, the unit of send times
	preroll time.Duration
	video   uint8 // first video stream, 0 when none
	buf     []byte
	p       Packet
}

func (f *File) newSeeker(t time.Duration) *seeker {
	s := &seeker{f: f, t: t, ms: uint32(min(t/time.Millisecond, 1<<32-1)),
		preroll: time.Duration(f.Header.FileProperties.Preroll) * time.Millisecond,
		buf:     make([]byte, f.PacketSize)}
	for _, sp := range f.Header.Streams {
		if sp.IsVideo() && sp.StreamNumber < 128 && (s.video == 0 || uint8(sp.StreamNumber) < s.video) {
			s.video = uint8(sp.StreamNumber)
		}
	}
	return s
}

// read returns packet n's send time and whether it holds the start of a key
// frame of the video stream presented at or before t (key), or at any time
// (anyKey). A packet whose payloads do not parse holds no key frame; one
// whose header does not parse is an error.
func (s *seeker) read(n uint64) (send uint32, key, anyKey bool, err error) {
	b, err := s.f.ReadPacket(n, s.buf)
	if err != nil {
		return 0, false, false, err
	}
	r, err := s.p.payloadReader(b)
	if err != nil {
		return 0, false, false, fmt.Errorf("asf: packet %d: %w", n, err)
	}
	var pl Payload
	for {
		ok, err := r.next(&pl)
		if err != nil || !ok {
			return s.p.SendTime, key, anyKey, nil
		}
		if pl.StreamNumber == s.video && pl.KeyFrame && pl.OffsetIntoMediaObject == 0 {
			anyKey = true
			key = key || time.Duration(pl.PresentationTime)*time.Millisecond-s.preroll <= s.t
		}
	}
}

// fromIndex looks t + preroll up in the Simple Index, else in the Index
// Object, and refines the entry's packet forward.
func (s *seeker) fromIndex() (uint64, bool) {
	pt := s.t + s.preroll
	if s.f.SimpleIndex != nil {
		if n, err := s.f.SimpleIndex.Packet(pt); err == nil {
			if m, ok := s.refine(uint64(n)); ok {
				return m, true
			}
		}
	}
	if x := s.f.Index; x != nil {
		spec := 0
		for i, sp := range x.Specifiers {
			if sp.StreamNumber == uint16(s.video) {
				spec = i
				break
			}
		}
		if off, err := x.Offset(pt, spec); err == nil {
			return s.refine(off / uint64(s.f.PacketSize))
		}
	}
	return 0, false
}

// refine checks that packet n starts a key frame at or before t and moves
// to the last such packet before the send times pass t; false when n does
// not qualify or the way is longer than maxSeekScan packets.
func (s *seeker) refine(n uint64) (uint64, bool) {
	if n >= s.f.PacketCount {
		return 0, false
	}
	send, key, _, err := s.read(n)
	if err != nil || !key || send > s.ms {
		return 0, false
	}
	best := n
	for m := n + 1; m < s.f.PacketCount; m++ {
		if m-n > maxSeekScan {
			return 0, false
		}
		send, key, _, err := s.read(m)
		if err != nil || send > s.ms {
			break
		}
		if key {
			best = m
		}
	}
	return best, true
}

// bySendTime returns the last packet whose send time is not after t (binary
// search; packet 0 when none is).
func (s *seeker) bySendTime() (uint64, error) {
	lo, hi := uint64(0), s.f.PacketCount // invariant: answer in [lo, hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		send, _, _, err := s.read(mid)
		if err != nil {
			return 0, err
		}
		if send <= s.ms {
			lo = mid
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// backToKeyFrame returns the last packet at or before at that starts a key
// frame at or before t; packet 0 when t is before the first key frame; at
// itself when no key frame is within maxSeekScan packets or the video
// stream has none (cover art).
func (s *seeker) backToKeyFrame(at uint64) (uint64, error) {
	seen := false
	for n := at; at-n <= maxSeekScan; n-- {
		_, key, anyKey, err := s.read(n)
		if err != nil {
			return 0, err
		}
		if key {
			return n, nil
		}
		seen = seen || anyKey
		if n == 0 {
			if seen {
				return 0, nil
			}
			break
		}
	}
	return at, nil
}
