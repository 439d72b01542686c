package mmsclient

import (
	"fmt"
	"testing"
)

// A multi-bit-rate file: two audio rates, three video rates, two languages
// for a commentary track, and a script stream in no exclusion.
var mbrStreams = []streamInfo{
	{1, kindAudio, 64000, "en-us"},
	{2, kindAudio, 32000, "en-us"},
	{3, kindVideo, 1000000, ""},
	{4, kindVideo, 300000, ""},
	{5, kindVideo, 100000, ""},
	{6, kindAudio, 32000, "de-de"},
	{7, kindAudio, 32000, "en-us"},
	{8, kindOther, 1000, ""},
}

var mbrExclusions = []choice{{1, 2}, {3, 4, 5}, {6, 7}}

func TestSelectStreams(t *testing.T) {
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
		{2000000, "fr", "[1 3 6 8]"}, // unknown language: ignored
	} {
		got := fmt.Sprint(selectStreams(mbrStreams, mbrExclusions, tc.budget, tc.lang))
		if got != tc.want {
			t.Errorf("budget %d lang %q: %s, want %s", tc.budget, tc.lang, got, tc.want)
		}
	}
}

func TestSelectStreamsMergesOverlap(t *testing.T) {
	// Language exclusion {1,2} and bitrate exclusion {2,3} overlap: one of three.
	streams := []streamInfo{{1, kindAudio, 10, "en"}, {2, kindAudio, 20, "de"}, {3, kindAudio, 5, "de"}, {4, kindVideo, 100, ""}}
	got := fmt.Sprint(selectStreams(streams, []choice{{1, 2}, {2, 3}, {9, 1}}, 0, "de"))
	if got != "[2 4]" {
		t.Fatalf("got %s", got)
	}
}

func TestCheckExplicit(t *testing.T) {
	if got, err := checkExplicit(mbrStreams, []uint16{3, 1, 3}); err != nil || fmt.Sprint(got) != "[1 3]" {
		t.Fatalf("got %v, %v", got, err)
	}
	if _, err := checkExplicit(mbrStreams, []uint16{42}); err == nil {
		t.Fatal("unknown stream accepted")
	}
}
