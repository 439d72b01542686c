package app

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/gateway"
)

func (e *env) media(t *testing.T, path, ua string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestOnDemandAndLimits: an on-demand channel starts with its first viewer
// and stops after the grace period; limits answer 503 with the reason;
// start and stop override viewers.
func TestOnDemandAndLimits(t *testing.T) {
	clip := h264Clip(t)
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, Config{Grace: 2 * time.Second, ViewerTimeout: 5 * time.Second,
		Limits: gateway.Limits{MaxUpstreams: 1, MaxViewers: 2, MaxChannels: 3}})
	for _, n := range []string{"a", "b", "c"} {
		if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": n, "url": "mms://" + up.addr + "/live",
			"transport": "tcp"}); code != 201 {
			t.Fatalf("%d %s", code, b)
		}
	}
	code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "d", "url": "mms://example.com/x"})
	if code != 503 || !strings.Contains(string(b), `"code":"limit"`) {
		t.Fatalf("fourth channel: %d %s", code, b)
	}
	if s := e.state(t, "a"); s != "idle" {
		t.Fatalf("on-demand channel %s before any viewer", s)
	}
	if code, b := e.media(t, "/hls/a/index.m3u8", "one"); code != 200 {
		t.Fatalf("first viewer: %d %s", code, b)
	}
	if s := e.state(t, "a"); s != "live" {
		t.Fatalf("state %s with a viewer", s)
	}
	// One upstream at most: b cannot start, and says why.
	if code, b := e.media(t, "/hls/b/index.m3u8", "one"); code != 503 || !strings.Contains(b, "limit") {
		t.Fatalf("second upstream: %d %s", code, b)
	}
	// Two viewers per channel at most.
	if code, _ := e.media(t, "/hls/a/index.m3u8", "two"); code != 200 {
		t.Fatalf("second viewer: %d", code)
	}
	if code, b := e.media(t, "/hls/a/index.m3u8", "three"); code != 503 || !strings.Contains(b, `"code":"limit"`) {
		t.Fatalf("third viewer: %d %s", code, b)
	}
	// No more requests: idle after the viewer timeout plus the grace period.
	e.waitState(t, "a", "idle", 15*time.Second)
	_, sb := e.call(t, "GET", "/api/v1/channels/a/sessions", nil)
	var l struct{ Items []struct{ Outcome string } }
	json.Unmarshal([]byte(sb), &l)
	if len(l.Items) != 1 || l.Items[0].Outcome != "ended" {
		t.Fatalf("sessions of a: %s", sb)
	}
	// Start runs the channel without viewers; stop refuses viewers.
	if code, _ := e.call(t, "POST", "/api/v1/channels/c/start", nil); code != 202 {
		t.Fatalf("start: %d", code)
	}
	e.waitState(t, "c", "live", 15*time.Second)
	time.Sleep(8 * time.Second) // longer than viewer timeout + grace
	if s := e.state(t, "c"); s != "live" {
		t.Fatalf("started channel %s without viewers", s)
	}
	if code, _ := e.call(t, "POST", "/api/v1/channels/c/stop", nil); code != 202 {
		t.Fatalf("stop: %d", code)
	}
	e.waitState(t, "c", "idle", 15*time.Second)
	if code, b := e.media(t, "/hls/c/index.m3u8", "one"); code != 503 || !strings.Contains(b, "stopped") {
		t.Fatalf("stopped channel: %d %s", code, b)
	}
}
