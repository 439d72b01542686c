package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func (e *env) state(t *testing.T, name string) string {
	t.Helper()
	_, b := e.call(t, "GET", "/api/v1/channels/"+name+"/status", nil)
	var st struct{ State string }
	json.Unmarshal(b, &st)
	return st.State
}

func (e *env) waitState(t *testing.T, name, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for time.Since(start) < within {
		if e.state(t, name) == want {
			return time.Since(start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s not %s within %v (now %s)", name, want, within, e.state(t, name))
	return 0
}

// viewer fetches the playlist, the first media playlist it names and that
// playlist's last segment, again and again, recording failures.
type viewer struct {
	mu       sync.Mutex
	requests int
	failures []string
}

func (v *viewer) run(ctx context.Context, base string) {
	get := func(u string) string {
		req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				v.fail(fmt.Sprintf("%s: %v", u, err))
			}
			return ""
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		v.mu.Lock()
		v.requests++
		v.mu.Unlock()
		if resp.StatusCode >= 400 && ctx.Err() == nil {
			v.fail(fmt.Sprintf("%s: %d %s", u, resp.StatusCode, b))
		}
		return string(b)
	}
	lastURI := func(pl string) string {
		uri := ""
		sc := bufio.NewScanner(strings.NewReader(pl))
		for sc.Scan() {
			if l := sc.Text(); l != "" && !strings.HasPrefix(l, "#") {
				uri = l
			}
		}
		return uri
	}
	for ctx.Err() == nil {
		if media := lastURI(get(base + "index.m3u8")); media != "" {
			if seg := lastURI(get(base + media)); seg != "" {
				get(base + seg)
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (v *viewer) fail(s string) {
	v.mu.Lock()
	v.failures = append(v.failures, s)
	v.mu.Unlock()
}

// TestUpstreamReturns kills the upstream while viewers watch: the channel
// is live again within 5 s of the upstream's return, viewers never get an
// error, and the session log shows the reconnect.
func TestUpstreamReturns(t *testing.T) {
	clip := h264Clip(t)
	up := startUpstream(t, clip, "127.0.0.1:0")
	addr := up.addr
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "back", "url": "mms://" + addr + "/live",
		"on_demand": true, "transport": "tcp"}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	viewers := make([]*viewer, 3)
	// The first request starts the on-demand channel and waits for it.
	r, err := http.Get(e.srv.URL + "/hls/back/index.m3u8")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("first request: %v %v", err, r)
	}
	r.Body.Close()
	for i := range viewers {
		viewers[i] = &viewer{}
		wg.Add(1)
		go func() { defer wg.Done(); viewers[i].run(ctx, e.srv.URL+"/hls/back/") }()
	}
	time.Sleep(3 * time.Second)
	up.stop()
	e.waitState(t, "back", "reconnecting", 30*time.Second)
	time.Sleep(4 * time.Second) // the backoff grows meanwhile (capped at 3 s: the channel has viewers)
	startUpstream(t, clip, addr)
	took := e.waitState(t, "back", "live", 10*time.Second)
	t.Logf("live again %v after the upstream returned", took)
	if took > 5*time.Second {
		t.Errorf("live again only after %v", took)
	}
	time.Sleep(3 * time.Second)
	cancel()
	wg.Wait()
	for i, v := range viewers {
		if len(v.failures) > 0 || v.requests < 10 {
			t.Errorf("viewer %d: %d requests, failures: %v", i, v.requests, v.failures)
		}
	}
	_, b := e.call(t, "GET", "/api/v1/channels/back/sessions", nil)
	var l struct {
		Items []struct {
			ID      int64
			Outcome string
			Reason  string
		}
	}
	json.Unmarshal(b, &l)
	if len(l.Items) < 2 {
		t.Fatalf("sessions: %s", b)
	}
	last := l.Items[0]
	_, logb := e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", last.ID), nil)
	if !strings.Contains(string(logb), `"state":"reconnecting"`) || !strings.Contains(string(logb), `"state":"live"`) {
		t.Errorf("the log of the last session does not show the reconnect: %s", logb)
	}
	first := l.Items[len(l.Items)-1]
	if first.Outcome == "running" || first.Reason == "" {
		t.Errorf("the lost session: %+v", first)
	}
	_, m := e.call(t, "GET", "/metrics", nil)
	if !strings.Contains(string(m), `mmsgate_reconnects_total{channel="back"}`) {
		t.Errorf("no reconnects counted")
	}
}
