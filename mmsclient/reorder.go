package mmsclient

import "time"

// reorderBuffer puts UDP Data packets back into sequence order, finds the
// ones that went missing, says which to ask for again (RequestPacketListResend,
// 3.1.4.7) and gives up on a missing packet after a deadline, counting it as
// lost. It holds at most window packets; a packet further ahead than that
// forces the oldest holes to be given up.
//
// It is not safe for concurrent use: the session's one processing goroutine
// owns it.
type reorderBuffer struct {
	window int
	retry  time.Duration // interval between resend requests for one packet
	giveUp time.Duration // a packet missing for this long is lost

	slots   []reorderSlot // ring indexed by seq % len(slots)
	out     [][]byte      // packets released early by a forced advance
	started bool
	next    uint32 // next number to deliver
	end     uint32 // one past the highest number received or known missing
	missing int    // slots in state slotMissing

	st resendStats
}

// resendStats are the loss figures of the CLIENT_LOG (2.2.1.1).
type resendStats struct {
	LostNet        uint32 // packets found missing (dwPacketsLostNet)
	LostContNet    uint32 // longest run of consecutive missing packets (dwPacketsLostContNet)
	ResendRequests uint32 // packets asked for again (dwResendRequests)
	Recovered      uint32 // missing packets that arrived after a request (dwPacketsRecoveredResent)
	Resent         uint32 // packets received that the server resent (dwPacketsResent)
	LostClient     uint32 // packets never received in time (dwPacketsLostClient)
	Late           uint32 // packets that arrived after they were given up
	Duplicates     uint32
}

type slotState uint8

const (
	slotEmpty slotState = iota
	slotMissing
	slotHave
	slotLost
)

type reorderSlot struct {
	state    slotState
	seq      uint32
	pkt      []byte
	detected time.Time // when found missing
	asked    time.Time // last resend request
	tries    int
}

func newReorderBuffer(window int, retry, giveUp time.Duration) *reorderBuffer {
	if window < 16 {
		window = 16
	}
	return &reorderBuffer{window: window, retry: retry, giveUp: giveUp, slots: make([]reorderSlot, 2*window)}
}

func (b *reorderBuffer) slot(seq uint32) *reorderSlot { return &b.slots[seq%uint32(len(b.slots))] }

// startAt makes the buffer expect seq as its first packet, so that a later
// first arrival leaves the ones before it as holes.
func (b *reorderBuffer) startAt(seq uint32) {
	if !b.started {
		b.started, b.next, b.end = true, seq, seq
	}
}

// before reports whether sequence number a comes before b (serial arithmetic).
func before(a, b uint32) bool { return int32(a-b) < 0 }

// add stores packet seq (owning pkt) and returns the numbers that have just
// been found missing, to be requested at once.
func (b *reorderBuffer) add(seq uint32, pkt []byte, now time.Time) (ask []uint32) {
	if !b.started {
		b.started, b.next, b.end = true, seq, seq
	}
	if before(seq, b.next) {
		b.late(seq)
		return nil
	}
	if seq-b.next >= uint32(b.window) {
		b.advance(seq-uint32(b.window)+1, now)
	}
	if !before(seq, b.end) {
		// New packet at or beyond the end: everything between is missing.
		gap := seq - b.end
		if gap > 0 {
			b.st.LostNet += gap
			b.st.LostContNet = max(b.st.LostContNet, gap)
			for s := b.end; s != seq; s++ {
				sl := b.slot(s)
				*sl = reorderSlot{state: slotMissing, seq: s, detected: now, asked: now, tries: 1}
				b.missing++
				ask = append(ask, s)
			}
			b.st.ResendRequests += gap
		}
		*b.slot(seq) = reorderSlot{state: slotHave, seq: seq, pkt: pkt}
		b.end = seq + 1
		return ask
	}
	sl := b.slot(seq)
	switch {
	case sl.seq != seq || sl.state == slotEmpty:
		b.st.Duplicates++
	case sl.state == slotMissing:
		sl.state, sl.pkt = slotHave, pkt
		b.missing--
		b.st.Recovered++
		b.st.Resent++
	case sl.state == slotLost:
		b.st.Late++
		b.st.Resent++
	default:
		b.st.Duplicates++
	}
	return nil
}

func (b *reorderBuffer) late(seq uint32) {
	// Whether it was given up or delivered already is no longer known once
	// its slot is reused; both are "too late" for the caller.
	b.st.Late++
	b.st.Resent++
}

// advance releases everything before seq: packets go to b.out in order,
// holes are counted as lost.
func (b *reorderBuffer) advance(to uint32, now time.Time) {
	for n := 0; before(b.next, to); n++ {
		if n >= len(b.slots) {
			// A jump further than the ring: the rest was never seen.
			skipped := to - b.next
			b.st.LostClient += skipped
			b.st.LostNet += skipped
			b.next = to
			break
		}
		sl := b.slot(b.next)
		if sl.seq == b.next {
			switch sl.state {
			case slotHave:
				b.out = append(b.out, sl.pkt)
			case slotMissing:
				b.missing--
				b.st.LostClient++
			}
		}
		*sl = reorderSlot{}
		b.next++
	}
	if before(b.end, b.next) {
		b.end = b.next
	}
}

// pop returns the next packet in order, or nil when the next one is still
// missing or nothing is buffered.
func (b *reorderBuffer) pop() []byte {
	if len(b.out) > 0 {
		p := b.out[0]
		b.out[0] = nil
		b.out = b.out[1:]
		return p
	}
	for before(b.next, b.end) {
		sl := b.slot(b.next)
		switch {
		case sl.seq == b.next && sl.state == slotHave:
			p := sl.pkt
			*sl = reorderSlot{}
			b.next++
			return p
		case sl.seq == b.next && sl.state == slotLost:
			*sl = reorderSlot{}
			b.next++
		default:
			return nil
		}
	}
	return nil
}

// tick gives up on packets missing for longer than giveUp and returns those
// due for another resend request.
func (b *reorderBuffer) tick(now time.Time) (ask []uint32) {
	if b.missing == 0 {
		return nil
	}
	for s := b.next; before(s, b.end); s++ {
		sl := b.slot(s)
		if sl.seq != s || sl.state != slotMissing {
			continue
		}
		switch {
		case now.Sub(sl.detected) >= b.giveUp:
			sl.state = slotLost
			b.missing--
			b.st.LostClient++
		case now.Sub(sl.asked) >= b.retry:
			sl.asked = now
			sl.tries++
			b.st.ResendRequests++
			ask = append(ask, s)
		}
	}
	return ask
}

// isMissing reports whether seq is a hole waiting for a resend.
func (b *reorderBuffer) isMissing(seq uint32) bool {
	sl := b.slot(seq)
	return b.started && sl.seq == seq && sl.state == slotMissing
}

// pending reports whether packets are still missing (the caller keeps its
// resend timer running while true).
func (b *reorderBuffer) pending() bool { return b.missing > 0 }

// reset forgets everything buffered (a seek or a new playlist entry); the
// counters stay.
func (b *reorderBuffer) reset() {
	clear(b.slots)
	b.out = nil
	b.started = false
	b.missing = 0
}
