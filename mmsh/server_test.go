package mmsh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"testing"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

func TestIsRequest(t *testing.T) {
	cases := []struct {
		ua, pragma string
		want, play bool
	}{
		{"NSPlayer/4.1.0.3856", "", true, false},                     // FFmpeg
		{"NSPlayer/7.10.0.3059", "xPlayStrm=1", true, true},          // VLC
		{"NSPlayer/12.0.7601.17514", "xPlayNextEntry=1", true, true}, // WMP, pipelined
		{"Mozilla/5.0", "", false, false},                            // a browser
		{"Windows-Media-Player/12.0.7601.17514", "", false, false},   // WMP progressive download
		{"curl/8", "xClientGUID={52CB2BDB-6925-4E19-8D1D-62D10E9E2705}", true, false},
	}
	for _, tc := range cases {
		r, _ := http.NewRequest(http.MethodGet, "http://gw/asf/x", nil)
		r.Header.Set("User-Agent", tc.ua)
		if tc.pragma != "" {
			r.Header.Set("Pragma", tc.pragma)
		}
		if IsRequest(r) != tc.want || IsPlayRequest(r) != tc.play {
			t.Errorf("%q %q: IsRequest %v IsPlayRequest %v", tc.ua, tc.pragma, IsRequest(r), IsPlayRequest(r))
		}
	}
}

func TestHandlerLookup(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &Handler{Unpaced: true, Lookup: func(r *http.Request) (Source, error) {
		if r.URL.Path == "/chan/radio" {
			return f, nil
		}
		return nil, fmt.Errorf("no channel %s: %w", r.URL.Path, fs.ErrNotExist)
	}}
	addr := serve(t, h)
	s := dial(t, "mmsh://"+addr+"/chan/radio", Options{})
	if _, got := readAll(t, s); len(got) == 0 {
		t.Error("no packets through Lookup")
	}
	if _, err := Dial(context.Background(), "mmsh://"+addr+"/chan/other", Options{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown channel: %v", err)
	}
}
