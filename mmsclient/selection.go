package mmsclient

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// streamKind is what a stream carries, as far as selection cares.
type streamKind uint8

const (
	kindOther streamKind = iota
	kindAudio
	kindVideo
)

func (k streamKind) String() string {
	switch k {
	case kindAudio:
		return "audio"
	case kindVideo:
		return "video"
	}
	return "other"
}

// streamInfo is one stream of the ASF header as selection sees it.
type streamInfo struct {
	Number   uint16
	Kind     streamKind
	Bitrate  uint32 // bits/s
	Language string
}

// choice is a set of streams of which exactly one plays: the streams of a
// Bitrate Mutual Exclusion or Advanced Mutual Exclusion object (ASF 3.8,
// 4.2), merged when they overlap.
type choice []uint16

// selectStreams picks the streams to play (3.1.4.2 leaves the choice to the
// higher layer): every stream that is in no mutual exclusion plays; from each
// exclusion set the best stream is chosen: one in the preferred language when
// the set has one, and the highest bit rate that still fits the remaining
// budget (the lowest one when none fits). Audio sets are served before video
// sets so that sound survives a thin link. budget 0 means unlimited.
func selectStreams(streams []streamInfo, exclusions []choice, budget int64, lang string) []uint16 {
	byNum := make(map[uint16]streamInfo, len(streams))
	for _, s := range streams {
		byNum[s.Number] = s
	}
	sets := mergeChoices(exclusions, byNum)
	inSet := map[uint16]bool{}
	for _, set := range sets {
		for _, n := range set {
			inSet[n] = true
		}
	}
	var selected []uint16
	remaining := budget
	for _, s := range streams {
		if !inSet[s.Number] {
			selected = append(selected, s.Number)
			remaining -= int64(s.Bitrate)
		}
	}
	kindOf := func(set choice) streamKind { return byNum[set[0]].Kind }
	rank := map[streamKind]int{kindAudio: 0, kindVideo: 1, kindOther: 2}
	slices.SortStableFunc(sets, func(a, b choice) int { return cmp.Compare(rank[kindOf(a)], rank[kindOf(b)]) })
	for _, set := range sets {
		cands := make([]streamInfo, 0, len(set))
		for _, n := range set {
			cands = append(cands, byNum[n])
		}
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
			for _, c := range cands { // the lowest rate, first of equals
				if c.Bitrate < pick.Bitrate {
					pick = c
				}
			}
			for _, c := range cands {
				if int64(c.Bitrate) <= remaining {
					pick = c
					break
				}
			}
		}
		selected = append(selected, pick.Number)
		remaining -= int64(pick.Bitrate)
	}
	slices.Sort(selected)
	return selected
}

// mergeChoices joins exclusion sets that share a stream and drops streams the
// header does not declare.
func mergeChoices(exclusions []choice, known map[uint16]streamInfo) []choice {
	var sets []map[uint16]bool
	for _, ex := range exclusions {
		cur := map[uint16]bool{}
		for _, n := range ex {
			if _, ok := known[n]; ok {
				cur[n] = true
			}
		}
		if len(cur) < 2 {
			continue
		}
		// Merge every existing set that overlaps.
		kept := sets[:0]
		for _, s := range sets {
			overlap := false
			for n := range s {
				if cur[n] {
					overlap = true
					break
				}
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
	out := make([]choice, 0, len(sets))
	for _, s := range sets {
		c := make(choice, 0, len(s))
		for n := range s {
			c = append(c, n)
		}
		slices.Sort(c)
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b choice) int { return cmp.Compare(a[0], b[0]) })
	return out
}

// languageMatches reports whether a stream language (RFC 1766 tag such as
// "en-us") matches the preferred one ("en" matches "en-US" and "en").
func languageMatches(streamLang, want string) bool {
	s, w := strings.ToLower(streamLang), strings.ToLower(want)
	return s == w || strings.HasPrefix(s, w+"-") || strings.HasPrefix(w, s+"-")
}

// checkExplicit validates streams the caller asked for by number.
func checkExplicit(streams []streamInfo, want []uint16) ([]uint16, error) {
	out := slices.Clone(want)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, n := range out {
		if !slices.ContainsFunc(streams, func(s streamInfo) bool { return s.Number == n }) {
			return nil, fmt.Errorf("mmsclient: stream %d is not in the ASF header", n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("mmsclient: no streams selected")
	}
	return out, nil
}

// selectionBitrate sums the bit rates of the selected streams.
func selectionBitrate(streams []streamInfo, sel []uint16) int64 {
	var sum int64
	for _, s := range streams {
		if slices.Contains(sel, s.Number) {
			sum += int64(s.Bitrate)
		}
	}
	return sum
}
