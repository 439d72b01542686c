package asf

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrUnknownStream is wrapped by CheckStreams when a stream asked for is not
// declared by the header.
var ErrUnknownStream = errors.New("not declared in the header")

// candidate is one stream as stream selection sees it.
type candidate struct {
	number uint16
	rank   int   // 0 audio, 1 video, 2 other: audio is served first on thin links
	rate   int64 // bits/s
	lang   string
}

// candidates lists the header's streams in header order.
func (h *Header) candidates() []candidate {
	out := make([]candidate, 0, len(h.Streams))
	for _, sp := range h.Streams {
		r := 2
		switch sp.Type {
		case StreamTypeAudio:
			r = 0
		case StreamTypeVideo:
			r = 1
		}
		out = append(out, candidate{number: sp.StreamNumber, rank: r, rate: streamRate(sp), lang: sp.Language})
	}
	return out
}

// streamRate is the stream's bit rate: Bitrate, or for an audio stream that
// has neither Stream Bitrate Properties (3.12) nor a Data Bitrate in
// Extended Stream Properties (4.1), the rate its WAVEFORMATEX declares.
func streamRate(sp *StreamProperties) int64 {
	if sp.Bitrate == 0 && sp.Audio != nil {
		return int64(sp.Audio.AvgBytesPerSec) * 8
	}
	return int64(sp.Bitrate)
}

// SelectStreams picks the streams to play; MS-MMSP 3.1.4.2 and MS-WMSP
// 3.1.4.4 leave the choice to the higher layer. Every stream that is in no
// mutual exclusion (ASF 3.8, 4.2; overlapping sets are merged) plays. From
// each exclusion set one stream plays: among those in the preferred language
// lang when the set has any ("en" matches "en-us"), the highest bit rate that
// still fits what is left of budget, or the lowest rate when none fits;
// equal rates go to the lower stream number. Audio sets are served before
// video sets so that sound survives a thin link. budget is in bits/s, 0
// means unlimited. The result is sorted by stream number.
func (h *Header) SelectStreams(budget int64, lang string) []uint16 {
	streams := h.candidates()
	byNum := make(map[uint16]candidate, len(streams))
	for _, s := range streams {
		byNum[s.number] = s
	}
	groups := exclusionSets(h.MutualExclusions, byNum)
	inSet := map[uint16]bool{}
	for _, g := range groups {
		for _, c := range g {
			inSet[c.number] = true
		}
	}
	var sel []uint16
	remaining := budget
	for _, s := range streams {
		if !inSet[s.number] {
			sel = append(sel, s.number)
			remaining -= s.rate
		}
	}
	for _, cands := range groups {
		pick := pickOne(cands, budget, remaining, lang)
		sel = append(sel, pick.number)
		remaining -= pick.rate
	}
	slices.Sort(sel)
	return sel
}

// pickOne chooses the stream of one exclusion set (cands sorted by number).
func pickOne(cands []candidate, budget, remaining int64, lang string) candidate {
	if lang != "" {
		var match []candidate
		for _, c := range cands {
			if languageMatches(c.lang, lang) {
				match = append(match, c)
			}
		}
		if len(match) > 0 {
			cands = match
		}
	}
	cands = slices.Clone(cands)
	slices.SortStableFunc(cands, func(a, b candidate) int { return cmp.Compare(b.rate, a.rate) })
	pick := cands[0]
	if budget <= 0 {
		return pick
	}
	for _, c := range cands { // the lowest rate, first of equals
		if c.rate < pick.rate {
			pick = c
		}
	}
	for _, c := range cands {
		if c.rate <= remaining {
			return c
		}
	}
	return pick
}

// exclusionSets joins mutual exclusions that share a stream, drops streams
// the header does not declare and sets left with fewer than two streams.
// Each set is sorted by stream number; the sets are ordered audio first,
// then video, then the rest, and by their lowest stream number within a
// kind (the kind of a set is that of its lowest stream).
func exclusionSets(exclusions []MutualExclusion, known map[uint16]candidate) [][]candidate {
	var sets []map[uint16]bool
	for _, ex := range exclusions {
		cur := map[uint16]bool{}
		for _, n := range ex.Streams {
			if _, ok := known[n]; ok {
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
	groups := make([][]candidate, 0, len(sets))
	for _, s := range sets {
		g := make([]candidate, 0, len(s))
		for n := range s {
			g = append(g, known[n])
		}
		slices.SortFunc(g, func(a, b candidate) int { return cmp.Compare(a.number, b.number) })
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b []candidate) int {
		return cmp.Or(cmp.Compare(a[0].rank, b[0].rank), cmp.Compare(a[0].number, b[0].number))
	})
	return groups
}

// languageMatches reports whether a stream language (an RFC 1766 tag such
// as "en-us") matches the preferred one: "en" matches "en-US" and "en".
func languageMatches(streamLang, want string) bool {
	s, w := strings.ToLower(streamLang), strings.ToLower(want)
	return s == w || strings.HasPrefix(s, w+"-") || strings.HasPrefix(w, s+"-")
}

// CheckStreams validates streams asked for by number: it returns them
// sorted without duplicates, or an error wrapping ErrUnknownStream when one
// is not declared by the header, or an error when want is empty.
func (h *Header) CheckStreams(want []uint16) ([]uint16, error) {
	out := slices.Clone(want)
	slices.Sort(out)
	out = slices.Compact(out)
	for _, n := range out {
		if h.Stream(n) == nil {
			return nil, fmt.Errorf("asf: stream %d: %w", n, ErrUnknownStream)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("asf: no streams selected")
	}
	return out, nil
}

// StreamsBitrate sums the bit rates (as SelectStreams counts them) of the
// streams in sel, in bits/s.
func (h *Header) StreamsBitrate(sel []uint16) int64 {
	var sum int64
	for _, s := range h.candidates() {
		if slices.Contains(sel, s.number) {
			sum += s.rate
		}
	}
	return sum
}

// SelectedCodecs names the codecs of the first audio and the first video
// stream among sel, as the clients' logs report them (MS-MMSP 2.2.1.1
// c-audiocodec and c-videocodec); "" where sel has none.
func (h *Header) SelectedCodecs(sel []uint16) (audio, video string) {
	for _, sp := range h.Streams {
		switch {
		case !slices.Contains(sel, sp.StreamNumber):
		case sp.Audio != nil && audio == "":
			audio = sp.Audio.CodecName()
		case sp.Video != nil && video == "":
			video = sp.Video.Compression.String()
		}
	}
	return audio, video
}
