package mmsh

import (
	"slices"
	"testing"
)

func TestMetadataRoundTrip(t *testing.T) {
	m := Metadata{PlaylistGenID: 7, BroadcastID: 3, Features: []string{"broadcast", "playlist"},
		Descriptions: []ContentDescription{{Language: "en-us", Values: []NameValue{
			{Name: "title", Type: VTLPWSTR, Value: "Morning, news"}, {Name: "author", Type: VTLPWSTR, Value: "Radio 1"}}}}}
	b := AppendMetadata(nil, &m)
	got, err := ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.PlaylistGenID != 7 || got.BroadcastID != 3 || !slices.Equal(got.Features, m.Features) ||
		got.Get("title") != "Morning, news" || got.Get("AUTHOR") != "Radio 1" || got.Descriptions[0].Language != "en-us" {
		t.Errorf("got %+v from %q", got, b)
	}
}

func TestMetadataSpecExample(t *testing.T) {
	// The ABNF of 2.2.4 writes "7,language"; the pair is the example of the
	// text, whose "(c)" the copy of the spec here shows as "))".
	b := []byte("playlist-gen-id=2587, broadcast-id=0, features=\"seekable\"\x00" +
		"7,language,31,5,en-us,9,copyright,31,30,(c) 1999 Microsoft Corporation\r\n")
	m, err := ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	if m.PlaylistGenID != 2587 || m.Get("copyright") != "(c) 1999 Microsoft Corporation" || m.Descriptions[0].Language != "en-us" {
		t.Errorf("%+v", m)
	}
	if _, err := ParseMetadata([]byte("broadcast-id=0\x00")); err == nil {
		t.Error("no playlist-gen-id accepted")
	}
}
