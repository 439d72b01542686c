package mmsclient

import (
	"bytes"
	"testing"
	"time"
)

func TestHeaderAssemblyOutOfOrder(t *testing.T) {
	h := newHeaderAssembly(3, 1<<10)
	parts := []dataPacket{
		{LocationID: 2, AFFlags: 0x0C, Payload: []byte("C")},
		{LocationID: 0, AFFlags: 0x04, Payload: []byte("A")},
		{LocationID: 0, AFFlags: 0x04, Payload: []byte("A")}, // duplicate
	}
	for _, p := range parts {
		if done, err := h.add(p); err != nil || done {
			t.Fatalf("add %d: done %v err %v", p.LocationID, done, err)
		}
	}
	done, err := h.add(dataPacket{LocationID: 1, AFFlags: 0x04, Payload: []byte("B")})
	if err != nil || !done || !bytes.Equal(h.bytes(), []byte("ABC")) {
		t.Fatalf("done %v err %v bytes %q", done, err, h.bytes())
	}
	if _, err := newHeaderAssembly(1, 4).add(dataPacket{Payload: []byte("12345")}); err == nil {
		t.Error("header beyond the cap accepted")
	}
	if _, err := newHeaderAssembly(1, 1<<20).add(dataPacket{LocationID: maxHeaderParts}); err == nil {
		t.Error("part number beyond the cap accepted")
	}
	h = newHeaderAssembly(1, 1<<10)
	h.add(dataPacket{LocationID: 1, AFFlags: 0x0C})
	if _, err := h.add(dataPacket{LocationID: 3, AFFlags: 0x0C}); err == nil {
		t.Error("two last parts accepted")
	}
}

// TestSeqForLateResend: at a high packet rate a resent packet arrives more
// than 128 numbers late; LocationId places it in its hole instead of 256
// numbers ahead.
func TestSeqForLateResend(t *testing.T) {
	s := &Session{reorder: newReorderBuffer(1024, time.Second, time.Hour), rebaseNext: true}
	now := time.Now()
	add := func(seq uint32, loc uint32) uint32 {
		got := s.seqFor(uint8(seq), loc)
		s.reorder.add(got, []byte{byte(seq)}, now)
		return got
	}
	add(0, 100)
	// 1 is lost; 2..299 arrive (LocationId = seq + 100, wrapping AFFlags twice).
	for seq := uint32(2); seq < 300; seq++ {
		if got := add(seq, seq+100); got != seq {
			t.Fatalf("new packet %d placed at %d", seq, got)
		}
	}
	// The resend of 1 arrives 298 packets late with AFFlags 0x01.
	if got := s.seqFor(1, 101); got != 1 {
		t.Fatalf("late resend placed at %d, want 1", got)
	}
	// A duplicate of an old, delivered packet is not put ahead either.
	if got := s.seqFor(uint8(200), 300); got > 299 {
		t.Fatalf("duplicate placed at %d", got)
	}
	// Rewinding: LocationId decreases while numbers increase.
	s.locReverse, s.rebaseNext = true, true
	s.seqFor(44, 5000)
	if got := s.seqFor(45, 4999); got != s.seq.high || got%256 != 45 {
		t.Fatalf("rewind: %d", got)
	}
}

// TestSeqForTwoHoles: holes 256 numbers apart share their AFFlags; the
// LocationId of the resent packet decides which one it fills.
func TestSeqForTwoHoles(t *testing.T) {
	s := &Session{reorder: newReorderBuffer(1024, time.Second, time.Hour), rebaseNext: true}
	now := time.Now()
	for seq := uint32(0); seq < 600; seq++ {
		if seq == 10 || seq == 266 {
			continue // lost
		}
		got := s.seqFor(uint8(seq), seq+1000)
		s.reorder.add(got, []byte{1}, now)
	}
	if got := s.seqFor(10, 1010); got != 10 {
		t.Errorf("resend of 10 placed at %d", got)
	}
	if got := s.seqFor(266%256, 1266); got != 266 {
		t.Errorf("resend of 266 placed at %d", got)
	}
}
