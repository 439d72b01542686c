package mmsclient

// seqTracker reconstructs the 32-bit sequence numbers of Data packets from
// the 8-bit AFFlags field. The server numbers every ASF data packet it sends
// with a 32-bit Sequence variable (3.2.1) and puts its least significant 8
// bits into AFFlags (2.2.2); RequestPacketListResend carries the full 32-bit
// numbers (2.2.5), so the client "MUST keep track of when the 8-bit AFFlags
// field wraps around" (3.1.4.7).
//
// A new value is placed at the 32-bit number nearest to the highest number
// seen so far (within -128..+127), which is right as long as fewer than 128
// consecutive packets go missing or arrive out of order.
type seqTracker struct {
	high  uint32 // highest reconstructed number so far
	valid bool
}

// extend returns the 32-bit number of a packet whose AFFlags is b.
func (t *seqTracker) extend(b uint8) uint32 {
	if !t.valid {
		t.valid = true
		t.high = uint32(b)
		return t.high
	}
	d := int8(b - uint8(t.high))
	s := t.high + uint32(int32(d))
	if d > 0 {
		t.high = s
	}
	return s
}

// rebase prepares the tracker for the first packet of a new play incarnation
// (after a seek, a stride or a playlist entry): that packet is at or after
// the highest number seen, never before it, whatever its low 8 bits are.
func (t *seqTracker) rebase(b uint8) uint32 {
	if !t.valid {
		return t.extend(b)
	}
	next := t.high + 1
	s := next + uint32(b-uint8(next))
	t.high = s
	return s
}
