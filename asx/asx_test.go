package asx

import (
	"net/url"
	"slices"
	"testing"
)

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestParseASX3(t *testing.T) {
	const doc = `<ASX version="3.0">
  <TITLE>Radio Example</TITLE>
  <AUTHOR>Example &amp; Sons</AUTHOR>
  <BASE HREF="http://media.example.com/live/" />
  <ENTRY>
    <TITLE>Main stream</TITLE>
    <REF HREF="mms://dead.example.com/radio" />
    <REF HREF="radio.asf" />
    <REF HREF="mmsh://backup.example.com/radio"/>
  </ENTRY>
  <REPEAT COUNT="2">
    <ENTRY><REF HREF="jingle.wma"/></ENTRY>
  </REPEAT>
  <ENTRYREF HREF="more.asx" />
</ASX>`
	m, err := Parse([]byte(doc), mustURL("http://www.example.com/listen/radio.asx"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != "3.0" || m.Title != "Radio Example" || m.Author != "Example & Sons" || m.Base != "http://media.example.com/live/" {
		t.Errorf("metadata %+v", m)
	}
	if len(m.Entries) != 4 {
		t.Fatalf("%d entries: %+v", len(m.Entries), m.Entries)
	}
	want := []string{"mms://dead.example.com/radio", "http://media.example.com/live/radio.asf", "mmsh://backup.example.com/radio"}
	if !slices.Equal(m.Entries[0].Refs, want) || m.Entries[0].Title != "Main stream" {
		t.Errorf("entry 0: %+v", m.Entries[0])
	}
	if m.Entries[1].Refs[0] != "http://media.example.com/live/jingle.wma" || m.Entries[2].Refs[0] != m.Entries[1].Refs[0] {
		t.Errorf("repeat: %+v", m.Entries[1:3])
	}
	if m.Entries[3].EntryRef != "http://media.example.com/live/more.asx" {
		t.Errorf("entryref: %+v", m.Entries[3])
	}
	urls := m.URLs()
	if !slices.Equal(urls, append(want, "http://media.example.com/live/jingle.wma")) {
		t.Errorf("URLs %v", urls)
	}
}

func TestParseSloppy(t *testing.T) {
	cases := []struct {
		name, doc string
		title     string
		urls      []string
	}{
		{"lower case, unquoted, bare ampersand", `<asx version=3.0><title>Lo</title><entry><ref href=mms://a.example/x?a=1&b=2></entry></asx>`,
			"Lo", []string{"mms://a.example/x?a=1&b=2"}},
		{"mixed case, no closing tags", `<Asx Version="3.0"><Entry><Title>T1</Title><Ref Href="mms://b.example/y">`,
			"T1", []string{"mms://b.example/y"}},
		{"comment and xml declaration", "\xEF\xBB\xBF<?xml version=\"1.0\" encoding=\"windows-1252\"?>\n<!-- made by hand -->\n<ASX VERSION=\"3.0\"><ENTRY><REF HREF=\"http://c.example/z.asf\"/></ENTRY></ASX>",
			"", []string{"http://c.example/z.asf"}},
		{"windows-1252 title", "<ASX version=\"3.0\"><TITLE>Caf\xe9 \x93Live\x94</TITLE><ENTRY><REF HREF=\"mms://d.example/\"/></ENTRY></ASX>",
			"Café “Live”", []string{"mms://d.example/"}},
		{"html entities and params", `<ASX version="3.0"><ENTRY><PARAM NAME="x" VALUE="y"><MOREINFO HREF="http://e.example/"><REF HREF="mms://e.example/s&amp;t"></ENTRY></ASX>`,
			"", []string{"mms://e.example/s&t"}},
		{"entry level title wins nothing at top", `<asx version="3.0"><entry><author>Au</author><title>Only entry</title><ref href="mms://f.example/"/></entry></asx>`,
			"Only entry", []string{"mms://f.example/"}},
		{"INI reference form", "[Reference]\r\nRef1=http://g.example/a.asf?MSWMExt=.asf\r\nRef2=http://10.0.0.1:80/a.asf?MSWMExt=.asf\r\n",
			"", []string{"http://g.example/a.asf?MSWMExt=.asf", "http://10.0.0.1:80/a.asf?MSWMExt=.asf"}},
		{"INI out of order", "[reference]\nRef2=mms://h.example/2\nref1 = mms://h.example/1\n", "", []string{"mms://h.example/1", "mms://h.example/2"}},
		{"plain URL list", "mms://i.example/live\nhttp://i.example/backup.asf\n", "", []string{"mms://i.example/live", "http://i.example/backup.asf"}},
		{"spaces around =, comment with a tag, entry BASE", `<Asx Version = "3.0" ><!-- <REF HREF="mms://commented/"> --><Entry><Base Href = "http://k.example/dir/" /><Ref href = 'a.asf'/></Entry><Entry><Ref href="b.asf"/></Entry></Asx>`,
			"", []string{"http://k.example/dir/a.asf", "b.asf"}},
		{"UTF-16 LE", string(utf16le(`<ASX version="3.0"><TITLE>Wide</TITLE><ENTRY><REF HREF="mms://j.example/"/></ENTRY></ASX>`)),
			"Wide", []string{"mms://j.example/"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.doc), nil)
			if err != nil {
				t.Fatal(err)
			}
			if m.DisplayTitle() != tc.title {
				t.Errorf("title %q, want %q", m.DisplayTitle(), tc.title)
			}
			if !slices.Equal(m.URLs(), tc.urls) {
				t.Errorf("URLs %q, want %q", m.URLs(), tc.urls)
			}
		})
	}
}

func utf16le(s string) []byte {
	b := []byte{0xFF, 0xFE}
	for _, r := range s {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

func TestParseRejects(t *testing.T) {
	for _, doc := range []string{"", "hello world", "<html><body>not here</body></html>", "0&\xb2u\x8e\xcf\x11\xa6\xd9\x00\xaa\x00b\xcel"} {
		if _, err := Parse([]byte(doc), nil); err == nil {
			t.Errorf("Parse(%q) succeeded", doc)
		}
		if Sniff([]byte(doc)) {
			t.Errorf("Sniff(%q) is true", doc)
		}
	}
}

func TestLimits(t *testing.T) {
	doc := "<asx version=\"3.0\">"
	for range MaxEntries + 10 {
		doc += `<entry><ref href="mms://x/"/></entry>`
	}
	m, err := Parse([]byte(doc+"</asx>"), nil)
	if err != nil || len(m.Entries) != MaxEntries {
		t.Errorf("%v, %d entries", err, len(m.Entries))
	}
	deep := "<asx>"
	for range maxDepth + 5 {
		deep += "<entry>"
	}
	if _, err := Parse([]byte(deep), nil); err == nil {
		t.Error("deep nesting accepted")
	}
	rep := `<asx><repeat count="1000000"><entry><ref href="mms://r/"/></entry></repeat></asx>`
	if m, err := Parse([]byte(rep), nil); err != nil || len(m.Entries) != MaxRepeat {
		t.Errorf("repeat: %v, %d entries", err, len(m.Entries))
	}
}

func TestIsMetafileURL(t *testing.T) {
	for u, want := range map[string]bool{"http://a/b.asx": true, "http://a/B.WAX?x=1": true, "http://a/c.wvx": true, "http://a/d.asf": false, "mms://a/e": false} {
		if IsMetafileURL(u) != want {
			t.Errorf("IsMetafileURL(%q) != %v", u, want)
		}
	}
}
