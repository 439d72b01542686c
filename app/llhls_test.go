package app

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestLLHLS: a channel with the llhls output serves the Low-Latency
// variant (parts and server control in the media playlist).
func TestLLHLS(t *testing.T) {
	clip := h264Clip(t)
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "ll", "url": "mms://" + up.addr + "/live",
		"outputs": []string{"llhls"}, "transport": "tcp"}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	get := func(p string) string {
		resp, err := http.Get(e.srv.URL + "/hls/ll/" + p)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", p, resp.StatusCode, b)
		}
		return string(b)
	}
	media := ""
	for _, l := range strings.Split(get("index.m3u8"), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			media = l
		}
	}
	pl := get(media)
	if !strings.Contains(pl, "#EXT-X-PART:") || !strings.Contains(pl, "#EXT-X-SERVER-CONTROL") {
		t.Fatalf("not LL-HLS:\n%s", pl)
	}
	// The channel has no ASF output.
	resp, err := http.Get(e.srv.URL + "/asf/ll")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("asf of an llhls-only channel: %d", resp.StatusCode)
	}
}
