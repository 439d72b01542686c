package mmsh

import (
	"net/http"
	"testing"
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
