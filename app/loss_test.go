package app

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsserver"
)

// TestUDPLossCounted plays over UDP from a server that drops Data packets
// on purpose: the client's resend recoveries reach /metrics.
func TestUDPLossCounted(t *testing.T) {
	clip := h264Clip(t)
	up := serveUpstream(t, &mmsserver.Server{DropUDP: 0.05}, clip, "127.0.0.1:0")
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "lossy", "url": "mms://" + up.addr + "/live",
		"transport": "udp", "on_demand": false}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	e.waitState(t, "lossy", "live", 30*time.Second)
	re := regexp.MustCompile(`mmsgate_packets_recovered_total\{channel="lossy"\} (\d+)`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(e.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if m := re.FindSubmatch(b); m != nil {
			if n, _ := strconv.Atoi(string(m[1])); n > 0 {
				_, st := e.call(t, "GET", "/api/v1/channels/lossy/status", nil)
				t.Logf("%d packets recovered; %s", n, st)
				return
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("no recovered packets counted")
}
