package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsserver"
)

// TestRolloverMMSH: an mms:// channel whose MMS port is closed plays
// through the MMSH rung of the rollover (MMS over UDP, over TCP, then MMSH
// on Config.MMSHPort of the same host), and its session log shows the
// failed UDP and TCP attempts before it.
func TestRolloverMMSH(t *testing.T) {
	srv := &mmsserver.Server{}
	if err := srv.AddLive("live", h264Clip(t)); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(web.Close) // runs after the gateway has closed its session
	u, _ := url.Parse(web.URL)
	port, _ := strconv.Atoi(u.Port())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mmsAddr := closed.Addr().String()
	closed.Close() // the MMS port refuses connections

	e := startApp(t, Config{MMSHPort: port})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "roll", "url": "mms://" + mmsAddr + "/live",
		"on_demand": false, "outputs": []string{"hls"}}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "roll", "live", 60*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/roll/status", nil)
	var st struct {
		Transport string
		SessionID int64 `json:"session_id"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Transport != "http" {
		t.Fatalf("status: %s", b)
	}
	if got := ffprobeStreams(t, e.srv.URL+"/hls/roll/index.m3u8"); !strings.Contains(got, "h264") {
		t.Fatalf("ffprobe of the HLS: %q", got)
	}
	_, b = e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", st.SessionID), nil)
	var log struct {
		Items []struct {
			Kind   string
			Fields map[string]any
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	// The attempts in order: each rung's failure, then MMSH playing.
	var seq []string
	for _, ev := range log.Items {
		if ev.Kind == "attempt" && ev.Fields["outcome"] != "start" {
			seq = append(seq, fmt.Sprint(ev.Fields["transport"], ":", ev.Fields["outcome"]))
		}
	}
	t.Logf("attempts: %v", seq)
	if got := strings.Join(seq, " "); !strings.HasPrefix(got, "udp:failed tcp:failed http:ok") {
		t.Fatalf("attempts %q in %s", got, b)
	}
}

// TestRolloverChannelMMSHPort: a channel's own mmsh_port beats the
// gateway's: the gateway-wide MMSH port is closed, the channel's is mmsd's
// HTTP side, and the channel plays through it.
func TestRolloverChannelMMSHPort(t *testing.T) {
	srv := &mmsserver.Server{}
	if err := srv.AddLive("live", h264Clip(t)); err != nil {
		t.Fatal(err)
	}
	web := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(web.Close)
	u, _ := url.Parse(web.URL)
	port, _ := strconv.Atoi(u.Port())
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mmsAddr := closed.Addr().String()
	_, closedPort, _ := net.SplitHostPort(mmsAddr)
	closed.Close() // neither MMS nor the gateway-wide MMSH port answers

	gwPort, _ := strconv.Atoi(closedPort)
	e := startApp(t, Config{MMSHPort: gwPort})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "roll", "url": "mms://" + mmsAddr + "/live",
		"on_demand": false, "outputs": []string{"hls"}, "mmsh_port": port}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "roll", "live", 60*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/roll/status", nil)
	if !strings.Contains(string(b), `"transport":"http"`) {
		t.Fatalf("status: %s", b)
	}
}
