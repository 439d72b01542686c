package mmsclient

import "time"

// Limits of a packet-pair estimate: loopback and LAN pairs often arrive in
// the same clock tick, and a single pair says little beyond "fast".
const (
	minPairGap   = 10 * time.Microsecond
	maxBandwidth = 10_000_000_000 // 10 Gbit/s
)

// packetPairBandwidth estimates the bottleneck bandwidth from the second
// packet of a pair (4.4): its size in bits over the time between the two
// arrivals (3.1.5.4, 3.1.5.11).
func packetPairBandwidth(secondSize int, gap time.Duration) int64 {
	if secondSize <= 0 {
		return 0
	}
	gap = max(gap, minPairGap)
	bps := int64(float64(secondSize*8) / gap.Seconds())
	return min(bps, maxBandwidth)
}
