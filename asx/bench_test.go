package asx

import (
	"strings"
	"testing"
)

func BenchmarkParse(b *testing.B) {
	doc := `<ASX version="3.0"><TITLE>Radio</TITLE><BASE HREF="http://media.example.com/"/>` +
		strings.Repeat(`<ENTRY><TITLE>E</TITLE><REF HREF="mms://a.example/x"/><REF HREF=http://b.example/y.asf?a=1&b=2></ENTRY>`, 20) + `</ASX>`
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse([]byte(doc), nil); err != nil {
			b.Fatal(err)
		}
	}
}
