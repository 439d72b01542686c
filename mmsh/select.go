package mmsh

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/mmsgate/mmsgate/asf"
)

// streamInfo is one stream as selection sees it.
type streamInfo struct {
	Number   uint16
	Rank     int // 0 audio, 1 video, 2 other: audio is served first on thin links
	Bitrate  uint32
	Language string
}

func streamsOf(h *asf.Header) ([]streamInfo, [][]uint16) {
	var s []streamInfo
	for _, sp := range h.Streams {
		r := 2
		switch sp.Type {
		case asf.StreamTypeAudio:
			r = 0
		case asf.StreamTypeVideo:
			r = 1
		}
		s = append(s, streamInfo{Number: sp.StreamNumber, Rank: r, Bitrate: sp.Bitrate, Language: sp.Language})
	}
	var ex [][]uint16
	for _, me := range h.MutualExclusions {
		ex = append(ex, me.Streams)
	}
	return s, ex
}

// selectStreams follows mmsclient's policy (MS-WMSP 3.1.4.4 leaves the
// choice to the higher layer): streams outside mutual exclusions all play;
// from each exclusion set (overlapping sets merged) one stream plays, in
// the preferred language when there is one, the highest bit rate that fits
// the remaining budget (the lowest when none fits); audio sets first.
// budget 0 means unlimited.
func selectStreams(streams []streamInfo, exclusions [][]uint16, budget int64, lang string) []uint16 {
	byNum := map[uint16]streamInfo{}
	for _, s := range streams {
		byNum[s.Number] = s
	}
	// Merge overlapping exclusion sets of known streams.
	var sets []map[uint16]bool
	for _, ex := range exclusions {
		cur := map[uint16]bool{}
		for _, n := range ex {
			if _, ok := byNum[n]; ok {
				cur[n] = true
			}
		}
		if len(cur) < 2 {
			continue
		}
		kept := sets[:0]
		for _, s := range sets {
			overlap := false
			for n := range s {
				overlap = overlap || cur[n]
			}
			if overlap {
				for n := range s {
					cur[n] = true
				}
			} else {
				kept = append(kept, s)
			}
		}
		sets = append(kept, cur)
	}
	inSet := map[uint16]bool{}
	var groups [][]streamInfo
	for _, s := range sets {
		var g []streamInfo
		for n := range s {
			inSet[n] = true
			g = append(g, byNum[n])
		}
		slices.SortFunc(g, func(a, b streamInfo) int { return cmp.Compare(a.Number, b.Number) })
		groups = append(groups, g)
	}
	slices.SortStableFunc(groups, func(a, b []streamInfo) int {
		return cmp.Or(cmp.Compare(a[0].Rank, b[0].Rank), cmp.Compare(a[0].Number, b[0].Number))
	})
	var sel []uint16
	remaining := budget
	for _, s := range streams {
		if !inSet[s.Number] {
			sel = append(sel, s.Number)
			remaining -= int64(s.Bitrate)
		}
	}
	for _, cands := range groups {
		if lang != "" {
			var match []streamInfo
			for _, c := range cands {
				if languageMatches(c.Language, lang) {
					match = append(match, c)
				}
			}
			if len(match) > 0 {
				cands = match
			}
		}
		slices.SortStableFunc(cands, func(a, b streamInfo) int { return cmp.Compare(b.Bitrate, a.Bitrate) })
		pick := cands[0]
		if budget > 0 {
			pick = cands[len(cands)-1]
			for _, c := range cands {
				if int64(c.Bitrate) <= remaining {
					pick = c
					break
				}
			}
		}
		sel = append(sel, pick.Number)
		remaining -= int64(pick.Bitrate)
	}
	slices.Sort(sel)
	return sel
}

func languageMatches(streamLang, want string) bool {
	s, w := strings.ToLower(streamLang), strings.ToLower(want)
	return s == w || strings.HasPrefix(s, w+"-") || strings.HasPrefix(w, s+"-")
}

func checkExplicit(streams []streamInfo, want []uint16) ([]uint16, error) {
	out := slices.Clone(want)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, n := range out {
		if !slices.ContainsFunc(streams, func(s streamInfo) bool { return s.Number == n }) {
			return nil, fmt.Errorf("mmsh: stream %d is not in the ASF header", n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mmsh: no streams selected")
	}
	return out, nil
}

func selectionBitrate(streams []streamInfo, sel []uint16) int64 {
	var sum int64
	for _, s := range streams {
		if slices.Contains(sel, s.Number) {
			sum += int64(s.Bitrate)
		}
	}
	return sum
}

// switchEntries turns a selection into stream-switch entries for every
// stream of the header: ffff:n:0 on, ffff:n:2 off (2.2.1.4.27).
func switchEntries(streams []streamInfo, sel []uint16) []SwitchEntry {
	out := make([]SwitchEntry, 0, len(streams))
	for _, s := range streams {
		th := ThinOff
		if slices.Contains(sel, s.Number) {
			th = ThinNone
		}
		out = append(out, SwitchEntry{From: 0xffff, To: s.Number, Thinning: th})
	}
	return out
}
