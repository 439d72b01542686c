package mmsh

import (
	"slices"

	"github.com/mmsgate/mmsgate/asf"
)

// switchEntries turns a selection (made by asf.Header.SelectStreams or
// CheckStreams) into stream-switch entries for every stream of the header:
// ffff:n:0 on, ffff:n:2 off (2.2.1.4.27).
func switchEntries(h *asf.Header, sel []uint16) []SwitchEntry {
	out := make([]SwitchEntry, 0, len(h.Streams))
	for _, s := range h.Streams {
		th := ThinOff
		if slices.Contains(sel, s.StreamNumber) {
			th = ThinNone
		}
		out = append(out, SwitchEntry{From: 0xffff, To: s.StreamNumber, Thinning: th})
	}
	return out
}
