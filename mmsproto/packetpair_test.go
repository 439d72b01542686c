package mmsproto

import (
	"testing"
	"time"
)

func TestPacketPairBandwidth(t *testing.T) {
	for _, tc := range []struct {
		size int
		gap  time.Duration
		want int64
	}{
		{1472, 11776 * time.Microsecond, 1_000_000}, // 1472 bytes in 11.776 ms = 1 Mbit/s
		{1024, time.Second, 8192},
		{1472, 0, 1_177_600_000}, // same tick: clamped to the minimum gap
		{1 << 20, 0, MaxPacketPairEstimate},
		{0, time.Second, 0},
	} {
		if got := PacketPairBandwidth(tc.size, tc.gap); got != tc.want {
			t.Errorf("PacketPairBandwidth(%d, %v) = %d, want %d", tc.size, tc.gap, got, tc.want)
		}
	}
}
