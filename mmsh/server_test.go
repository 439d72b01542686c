package mmsh

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"testing"

	"github.com/mmsgate/mmsgate/asf"
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

// TestDescribePlaylistOldClient: clients before 9.0 (VLC, FFmpeg) are
// described a playlist's first header marked Broadcast; VLC otherwise stops
// after that entry's packet count. 9.0+ clients get the file's header.
func TestDescribePlaylistOldClient(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &Handler{Unpaced: true}
	h.Add("list", Playlist{f, f})
	addr := serve(t, h)
	for ua, want := range map[string]bool{"NSPlayer/7.10.0.3059": true, "NSPlayer/12.0.7601.17514": false} {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/list", nil)
		req.Header.Set("User-Agent", ua)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var hdr []byte
		rd := NewReader(resp.Body)
		var p Packet
		for rd.Next(&p) == nil {
			if p.Type == TypeHeader {
				hdr = append(hdr, p.Payload...)
			}
		}
		resp.Body.Close()
		hd, err := asf.ParseHeader(hdr)
		if err != nil {
			t.Fatalf("%s: %v", ua, err)
		}
		if hd.FileProperties.Broadcast != want {
			t.Errorf("%s: Broadcast %v, want %v", ua, hd.FileProperties.Broadcast, want)
		}
	}
}
