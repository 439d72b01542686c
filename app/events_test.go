package app

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEventsCarryStatus reads /api/v1/events over real SSE while a channel
// goes live and gets a viewer: "event: status" messages carry the whole
// status object (bit rate, viewers, transport) at most once a second per
// channel, and latency_ms is the HLS edge's real age.
func TestEventsCarryStatus(t *testing.T) {
	up := startUpstream(t, h264Clip(t), "127.0.0.1:0")
	e := startApp(t, Config{})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if code, body := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "ev",
		"url": "mms://" + up.addr + "/live", "outputs": []string{"hls"}, "on_demand": false}); code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}

	type status struct {
		Channel, Name, State, Transport string
		Time                            time.Time
		Viewers                         int
		Bitrate, Bandwidth              int64
		LatencyMS                       *int64 `json:"latency_ms"`
	}
	var (
		kind     string
		lastTime time.Time
		live     bool
		watched  bool
		latency  bool
		n        int
	)
	sc := bufio.NewScanner(resp.Body)
	for !(watched && latency) && sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "event: "); ok {
			kind = k
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || kind != "status" {
			continue
		}
		var st status
		if err := json.Unmarshal([]byte(data), &st); err != nil {
			t.Fatalf("%q: %v", data, err)
		}
		if st.Channel != "ev" {
			continue
		}
		n++
		if st.Name != "ev" || st.LatencyMS == nil {
			t.Fatalf("not the whole status object: %s", data)
		}
		if !lastTime.IsZero() && st.Time.Sub(lastTime) < time.Second {
			t.Fatalf("two status events %v apart", st.Time.Sub(lastTime))
		}
		lastTime = st.Time
		latency = latency || live && *st.LatencyMS > 0
		switch {
		case !live && st.State == "live" && st.Bitrate > 0 && st.Transport != "":
			live = true
			// Become a viewer: the next status events count it.
			go func() {
				for ctx.Err() == nil {
					r, err := http.Get(e.srv.URL + "/hls/ev/index.m3u8")
					if err == nil {
						io.Copy(io.Discard, r.Body)
						r.Body.Close()
					}
					time.Sleep(500 * time.Millisecond)
				}
			}()
		case live && st.Viewers > 0:
			watched = true
		}
	}
	if !watched || !latency {
		t.Fatalf("live %v watched %v latency %v after %d status events (%v)", live, watched, latency, n, sc.Err())
	}
}
