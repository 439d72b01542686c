package app

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestTranscoderLimit: a WMV2 channel transcodes (transcode "auto"); with
// one transcoder allowed, a second such channel fails with the limit as
// its reason while the first stays live.
func TestTranscoderLimit(t *testing.T) {
	h264Clip(t) // skips without ffmpeg
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clip, err := fixture.Generate(ctx, fixtureDir(t), fixture.WMV2())
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, Config{Limits: gateway.Limits{MaxTranscoders: 1}})
	for _, n := range []string{"t1", "t2"} {
		if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": n, "url": "mms://" + up.addr + "/live",
			"transport": "tcp", "on_demand": false}); code != 201 {
			t.Fatalf("%d %s", code, b)
		}
		if n == "t1" {
			e.waitState(t, "t1", "live", 60*time.Second)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		_, b := e.call(t, "GET", "/api/v1/channels/t2/status", nil)
		if strings.Contains(string(b), `"state":"failed"`) && strings.Contains(string(b), "transcoders") {
			if s := e.state(t, "t1"); s != "live" {
				t.Fatalf("t1 %s", s)
			}
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	_, b := e.call(t, "GET", "/api/v1/channels/t2/status", nil)
	t.Fatalf("t2 did not fail with the transcoder limit: %s", b)
}
