package app

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func lastURI(pl string) string {
	uri := ""
	sc := bufio.NewScanner(strings.NewReader(pl))
	for sc.Scan() {
		if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
			uri = l
		}
	}
	return uri
}

// BenchmarkHLSSegment measures the gateway's handler cost of one HLS
// segment request of a live channel (routing, viewer accounting, metrics,
// the muxer), without the network.
func BenchmarkHLSSegment(b *testing.B) {
	clip := h264Clip(b)
	up := startUpstream(b, clip, "127.0.0.1:0")
	e := startApp(b, Config{})
	if code, body := e.call(b, "POST", "/api/v1/channels", map[string]any{"name": "b", "url": "mms://" + up.addr + "/live",
		"on_demand": false, "transport": "tcp"}); code != 201 {
		b.Fatalf("%d %s", code, body)
	}
	get := func(p string) []byte {
		resp, err := http.Get(e.srv.URL + "/hls/b/" + p)
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			b.Fatalf("%s: %d", p, resp.StatusCode)
		}
		return body
	}
	media := lastURI(string(get("index.m3u8")))
	seg := lastURI(string(get(media)))
	h := e.app.Handler()
	size := len(get(seg))
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest("GET", "/hls/b/"+seg, nil))
			if w.Code != 200 {
				b.Errorf("%d", w.Code)
				return
			}
		}
	})
}
