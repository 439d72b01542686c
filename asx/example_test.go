package asx_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mmsgate/mmsgate/asx"
)

func ExampleParse() {
	m, err := asx.Parse([]byte(`<ASX version="3.0"><TITLE>Radio</TITLE>
		<ENTRY><REF HREF="mms://a.example/live"/><REF HREF=http://b.example/live.asf></ENTRY></ASX>`), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Title, m.URLs())
	// Output: Radio [mms://a.example/live http://b.example/live.asf]
}

func ExampleResolve() {
	res, err := asx.Resolve(context.Background(), "http://www.example.com/radio.asx", asx.FetchOptions{
		MaxSize:   256 << 10,
		AllowHost: func(host string) error { return nil }, // the allow-list goes here
	})
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println(res.Title, res.URLs)
}
