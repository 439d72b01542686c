package app

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestDemoChannelWithoutDemo: a demo channel left from an earlier run, with
// the gateway now running -no-demo, fails with a clear reason and is not
// retried on the reconnect backoff.
func TestDemoChannelWithoutDemo(t *testing.T) {
	e := startApp(t, Config{}) // NoDemo
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "demo",
		"url": "mms://" + demoHost + "/demo", "transport": "tcp", "on_demand": false}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "demo", "failed", 30*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/demo/status", nil)
	var st struct{ Reason string }
	json.Unmarshal(b, &st)
	if !strings.Contains(st.Reason, "demo server is not running") || !strings.Contains(st.Reason, "-no-demo") {
		t.Fatalf("reason: %s", b)
	}
	sessions := func() int {
		_, b := e.call(t, "GET", "/api/v1/channels/demo/sessions", nil)
		var l struct{ Total int }
		json.Unmarshal(b, &l)
		return l.Total
	}
	n := sessions()
	// The always-on backoff would have retried several times by now
	// (0.5 s, 1 s, 2 s).
	time.Sleep(4 * time.Second)
	if m := sessions(); m != n {
		t.Fatalf("%d sessions, then %d: retried", n, m)
	}
	// A viewer's arrival tries again and gets the reason at once.
	if code, body := e.media(t, "/hls/demo/index.m3u8", "v"); code != 503 || !strings.Contains(body, "not running") {
		t.Fatalf("viewer: %d %s", code, body)
	}
	if m := sessions(); m != n+1 {
		t.Fatalf("%d sessions after a viewer, want %d", m, n+1)
	}
}
