package asf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"testing"
)

// selectionHeader writes a file declaring streams and exclusions with
// Writer and parses its header back, so selection sees what a server sends.
func selectionHeader(t *testing.T, streams []WriterStream, ex []MutualExclusion) *Header {
	t.Helper()
	var out bytes.Buffer
	w, err := NewWriter(&out, WriterConfig{Preroll: 1000, Streams: streams, MutualExclusions: ex})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	h, err := ParseHeader(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func selAudio(n uint16, bps uint32, lang string) WriterStream {
	return WriterStream{Number: n, Type: StreamTypeAudio, Bitrate: bps, Language: lang,
		Audio: &WaveFormatEx{FormatTag: 0x161, Channels: 2, SamplesPerSec: 44100, AvgBytesPerSec: bps / 8, BlockAlign: 1485}}
}

func selVideo(n uint16, bps uint32) WriterStream {
	return WriterStream{Number: n, Type: StreamTypeVideo, Bitrate: bps,
		Video: &BitmapInfoHeader{Width: 320, Height: 240, Planes: 1, BitCount: 24, Compression: MakeFourCC("WMV1")}}
}

// mbrHeader is a multi-bit-rate file: two audio rates, three video rates,
// two languages for a commentary track, and a script stream in no exclusion.
func mbrHeader(t *testing.T) *Header {
	return selectionHeader(t, []WriterStream{
		selAudio(1, 64000, "en-us"),
		selAudio(2, 32000, "en-us"),
		selVideo(3, 1000000),
		selVideo(4, 300000),
		selVideo(5, 100000),
		selAudio(6, 32000, "de-de"),
		selAudio(7, 32000, "en-us"),
		{Number: 8, Type: StreamTypeCommand, Bitrate: 1000},
	}, []MutualExclusion{
		{Type: MutexBitrate, Streams: []uint16{1, 2}},
		{Type: MutexBitrate, Streams: []uint16{3, 4, 5}},
		{Type: MutexLanguage, Streams: []uint16{6, 7}},
	})
}

func TestSelectStreams(t *testing.T) {
	h := mbrHeader(t)
	for _, tc := range []struct {
		budget int64
		lang   string
		want   string
	}{
		{0, "", "[1 3 6 8]"},         // unlimited: highest rates, first of equal rates
		{2000000, "", "[1 3 6 8]"},   // everything fits
		{500000, "", "[1 4 6 8]"},    // video steps down
		{200000, "", "[1 5 6 8]"},    // lowest video
		{50000, "", "[2 5 6 8]"},     // nothing fits: lowest everywhere
		{2000000, "de", "[1 3 6 8]"}, // German commentary
		{2000000, "en", "[1 3 7 8]"}, // English commentary
		{2000000, "EN-US", "[1 3 7 8]"},
		{2000000, "fr", "[1 3 6 8]"}, // unknown language: ignored
		{-1, "", "[1 3 6 8]"},        // a negative budget is no budget
	} {
		got := fmt.Sprint(h.SelectStreams(tc.budget, tc.lang))
		if got != tc.want {
			t.Errorf("budget %d lang %q: %s, want %s", tc.budget, tc.lang, got, tc.want)
		}
	}
}

func TestSelectStreamsMergesOverlap(t *testing.T) {
	// Language exclusion {1,2} and bitrate exclusion {2,3} overlap: one of
	// three. {9,1} names a stream the header lacks and only joins 1.
	h := &Header{Streams: []*StreamProperties{
		{StreamNumber: 1, Type: StreamTypeAudio, Bitrate: 10, Language: "en"},
		{StreamNumber: 2, Type: StreamTypeAudio, Bitrate: 20, Language: "de"},
		{StreamNumber: 3, Type: StreamTypeAudio, Bitrate: 5, Language: "de"},
		{StreamNumber: 4, Type: StreamTypeVideo, Bitrate: 100},
	}, MutualExclusions: []MutualExclusion{{Streams: []uint16{1, 2}}, {Streams: []uint16{2, 3}}, {Streams: []uint16{9, 1}}}}
	if got := fmt.Sprint(h.SelectStreams(0, "de")); got != "[2 4]" {
		t.Fatalf("got %s", got)
	}
}

func TestSelectStreamsAudioFirst(t *testing.T) {
	// The video set has the lower numbers, yet audio is served first: with
	// 150 kbit/s, 128k audio fits and video gets the lowest rate.
	h := selectionHeader(t, []WriterStream{
		selVideo(1, 100000), selVideo(2, 50000), selAudio(3, 128000, ""), selAudio(4, 32000, ""),
	}, []MutualExclusion{{Type: MutexBitrate, Streams: []uint16{1, 2}}, {Type: MutexBitrate, Streams: []uint16{3, 4}}})
	if got := fmt.Sprint(h.SelectStreams(150000, "")); got != "[2 3]" {
		t.Fatalf("got %s, want [2 3]", got)
	}
	if got := h.StreamsBitrate([]uint16{2, 3}); got != 178000 {
		t.Fatalf("StreamsBitrate %d", got)
	}
}

func TestSelectStreamsLowestTie(t *testing.T) {
	// Nothing fits and two streams share the lowest rate: the lower number.
	h := selectionHeader(t, []WriterStream{selAudio(1, 64000, ""), selAudio(2, 32000, ""), selAudio(3, 32000, "")},
		[]MutualExclusion{{Type: MutexBitrate, Streams: []uint16{3, 1, 2}}})
	if got := fmt.Sprint(h.SelectStreams(1000, "")); got != "[2]" {
		t.Fatalf("got %s, want [2]", got)
	}
}

func TestStreamsBitrateFromWaveFormat(t *testing.T) {
	// No Stream Bitrate Properties nor Extended Stream Properties: the audio
	// rate comes from WAVEFORMATEX, so the 48 kbit/s stream fits 50 kbit/s.
	h := &Header{Streams: []*StreamProperties{
		{StreamNumber: 1, Type: StreamTypeAudio, Audio: &WaveFormatEx{AvgBytesPerSec: 16000}},
		{StreamNumber: 2, Type: StreamTypeAudio, Audio: &WaveFormatEx{AvgBytesPerSec: 6000}},
		{StreamNumber: 3, Type: StreamTypeVideo},
	}, MutualExclusions: []MutualExclusion{{Streams: []uint16{1, 2}}}}
	if got := fmt.Sprint(h.SelectStreams(50000, "")); got != "[2 3]" {
		t.Fatalf("got %s, want [2 3]", got)
	}
	if got := h.StreamsBitrate([]uint16{1, 2, 3}); got != 176000 {
		t.Fatalf("StreamsBitrate %d, want 176000", got)
	}
}

func TestCheckStreams(t *testing.T) {
	h := mbrHeader(t)
	if got, err := h.CheckStreams([]uint16{3, 1, 3}); err != nil || fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := h.CheckStreams([]uint16{42}); !errors.Is(err, ErrUnknownStream) {
		t.Fatalf("unknown stream: %v", err)
	}
	if _, err := h.CheckStreams(nil); err == nil {
		t.Fatal("empty selection accepted")
	}
	if got := h.StreamsBitrate([]uint16{1, 4, 6, 8}); got != 64000+300000+32000+1000 {
		t.Fatalf("StreamsBitrate %d", got)
	}
}

// The real files: one stream per kind, nothing excluded, so everything
// plays whatever the budget.
func TestSelectStreamsMicrosoftFiles(t *testing.T) {
	for _, name := range microsoftFiles {
		f, _ := openTestFile(t, "testdata/media/"+name)
		h := f.Header
		want := fmt.Sprint(h.SelectStreams(0, ""))
		var all []uint16
		for _, s := range h.Streams {
			all = append(all, s.StreamNumber)
		}
		if len(h.MutualExclusions) == 0 && want != fmt.Sprint(all) {
			t.Errorf("%s: selected %s of %v", name, want, all)
		}
		if got := fmt.Sprint(h.SelectStreams(1, "xx")); got != want {
			t.Errorf("%s: budget 1 selected %s, unlimited %s", name, got, want)
		}
	}
}

// TestSelectedCodecs: the codec names the clients' logs report, from
// Microsoft's glass.wmv (WMV1 video, WMA2 audio).
func TestSelectedCodecs(t *testing.T) {
	f, err := os.Open("testdata/media/glass.wmv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	af, err := OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	h := af.Header
	var all []uint16
	for _, s := range h.Streams {
		all = append(all, s.StreamNumber)
	}
	if a, v := h.SelectedCodecs(all); a != "Windows Media Audio 2" || v != "WMV1" {
		t.Errorf("codecs %q %q", a, v)
	}
	if a, v := h.SelectedCodecs(nil); a != "" || v != "" {
		t.Errorf("nothing selected: %q %q", a, v)
	}
	if got := (&WaveFormatEx{FormatTag: 0x1234}).CodecName(); got != "0x1234" {
		t.Errorf("unknown tag: %q", got)
	}
}
