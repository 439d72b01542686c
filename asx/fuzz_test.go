package asx

import (
	"net/url"
	"testing"
)

// FuzzParse: arbitrary bytes never panic, and what parses stays within the
// limits.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<ASX version="3.0"><TITLE>T</TITLE><BASE HREF="http://b/"/><ENTRY><REF HREF="x.asf"/><REF HREF=mms://h/p&q=1></ENTRY><REPEAT COUNT=3><ENTRY><REF HREF="j"/></ENTRY></REPEAT><ENTRYREF HREF="m.asx"/></ASX>`))
	f.Add([]byte("[Reference]\r\nRef1=http://a/b.asf?MSWMExt=.asf\r\nRef2=http://c/d\r\n"))
	f.Add([]byte("\xff\xfe<\x00a\x00s\x00x\x00>\x00"))
	f.Add([]byte("mms://host/live\nhttp://host/b.asf\n"))
	f.Add([]byte("<asx><entry><title>Caf\xe9</title><ref href='mms://x/'"))
	base, _ := url.Parse("http://example.com/dir/file.asx")
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b, base)
		if err != nil {
			return
		}
		if len(m.Entries) > MaxEntries {
			t.Fatalf("%d entries", len(m.Entries))
		}
		for _, e := range m.Entries {
			if len(e.Refs) > MaxRefs {
				t.Fatalf("%d refs", len(e.Refs))
			}
		}
		_ = m.URLs()
		_ = m.DisplayTitle()
	})
}
