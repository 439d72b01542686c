package mmsproto

import "time"

// Limits of a packet-pair estimate: loopback and LAN pairs often arrive in
// the same clock tick (over TCP even in the same read), and a single pair
// says little beyond "fast".
const (
	minPairGap            = 10 * time.Microsecond
	MaxPacketPairEstimate = 10_000_000_000 // bits/s (10 Gbit/s)
)

// PacketPairBandwidth estimates the bottleneck bandwidth from the second
// packet of a pair (4.4; MS-WMSP's $P pairs, 4.3, alike): its size in bits
// over the time between the two arrivals (3.1.5.4, 3.1.5.11), clamped to
// MaxPacketPairEstimate. 0 for an empty packet.
func PacketPairBandwidth(secondSize int, gap time.Duration) int64 {
	if secondSize <= 0 {
		return 0
	}
	gap = max(gap, minPairGap)
	bps := int64(float64(secondSize*8) / gap.Seconds())
	return min(bps, MaxPacketPairEstimate)
}
