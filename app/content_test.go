package app

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestNoHLSReason: a WMV2 channel with transcoding off has no HLS: a viewer
// is told why at once (503 with the reason), ASF passthrough still plays.
func TestNoHLSReason(t *testing.T) {
	h264Clip(t) // skips without ffmpeg
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	clip, err := fixture.Generate(ctx, fixtureDir(t), fixture.WMV2())
	if err != nil {
		t.Fatal(err)
	}
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "wmv", "url": "mms://" + up.addr + "/live",
		"transport": "tcp", "transcode": "never"}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	start := time.Now()
	code, body := e.media(t, "/hls/wmv/index.m3u8", "v")
	if code != 503 || !strings.Contains(body, "no HLS") || time.Since(start) > 15*time.Second {
		t.Fatalf("HLS of WMV2 without transcoding: %d %s after %v", code, body, time.Since(start))
	}
	t.Logf("%s", body)
	// remux logs the content error once; the adapter adds no copy.
	_, b := e.call(t, "GET", "/api/v1/channels/wmv/sessions", nil)
	var sessions struct{ Items []struct{ ID int64 } }
	if err := json.Unmarshal(b, &sessions); err != nil || len(sessions.Items) == 0 {
		t.Fatalf("sessions: %v %s", err, b)
	}
	_, b = e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", sessions.Items[0].ID), nil)
	var log struct {
		Items []struct{ Kind, Message string }
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	var contentErrors int
	for _, ev := range log.Items {
		if ev.Kind == "error" {
			contentErrors++
		}
	}
	if contentErrors != 1 {
		t.Fatalf("%d error events for one content error: %s", contentErrors, b)
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/asf/wmv", nil)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel2()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx2))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b = make([]byte, 4096)
	n, _ := io.ReadAtLeast(resp.Body, b, 1024)
	if resp.StatusCode != 200 || n < 1024 {
		t.Fatalf("ASF: %d, %d bytes", resp.StatusCode, n)
	}
}
