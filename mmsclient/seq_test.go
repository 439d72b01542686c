package mmsclient

import "testing"

func TestSeqTrackerWraps(t *testing.T) {
	var tr seqTracker
	for want := uint32(0); want < 1000; want++ {
		if got := tr.extend(uint8(want)); got != want {
			t.Fatalf("extend(%d) = %d, want %d", uint8(want), got, want)
		}
	}
}

func TestSeqTrackerGapsAndLatePackets(t *testing.T) {
	var tr seqTracker
	for i := uint32(0); i < 250; i++ {
		tr.extend(uint8(i))
	}
	// 249 seen; 250..259 lost, 260 arrives (wraps past 255).
	if got := tr.extend(uint8(260 & 0xff)); got != 260 {
		t.Fatalf("after gap: %d, want 260", got)
	}
	// A resent 252 arrives late: it is behind, not 256 ahead.
	if got := tr.extend(uint8(252)); got != 252 {
		t.Fatalf("late packet: %d, want 252", got)
	}
	if got := tr.extend(uint8(261 & 0xff)); got != 261 {
		t.Fatalf("next: %d, want 261", got)
	}
}

func TestSeqTrackerRebase(t *testing.T) {
	var tr seqTracker
	for i := uint32(0); i < 300; i++ {
		tr.extend(uint8(i))
	}
	// After a seek the server continues its Sequence (301 here: 300 was
	// dropped as stale) ...
	if got := tr.rebase(uint8(301 & 0xff)); got != 301 {
		t.Fatalf("rebase continuing: %d, want 301", got)
	}
	// ... or restarts at 0x00: still placed after the highest number.
	if got := tr.rebase(0); got != 512 {
		t.Fatalf("rebase restarting: %d, want 512", got)
	}
	if got := tr.extend(1); got != 513 {
		t.Fatalf("after rebase: %d, want 513", got)
	}
}
