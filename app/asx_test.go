package app

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsh"
)

// TestASXChannel: a channel whose URL is an ASX metafile on a web server
// plays its second reference when the first is dead, and its status shows
// the metafile's title and author (the stream's header has none).
func TestASXChannel(t *testing.T) {
	up := startUpstream(t, h264Clip(t), "127.0.0.1:0")
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close() // nothing listens there any more
	asxBody := fmt.Sprintf(`<ASX VERSION="3.0">
  <TITLE>ASX Test Radio</TITLE>
  <AUTHOR>Metafile Author</AUTHOR>
  <ENTRY>
    <REF HREF="mms://%s/live" />
    <REF HREF="mms://%s/live" />
  </ENTRY>
</ASX>`, deadAddr, up.addr)
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/radio.asx" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "video/x-ms-asf")
		fmt.Fprint(w, asxBody)
	}))
	defer web.Close()

	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "asx", "url": web.URL + "/radio.asx",
		"on_demand": false, "outputs": []string{"hls", "asf"}}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "asx", "live", 60*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/asx/status", nil)
	var st struct {
		Title, Author, Transport string
		SessionID                int64 `json:"session_id"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	if st.Title != "ASX Test Radio" || st.Author != "Metafile Author" || st.Transport == "" {
		t.Fatalf("status: %s", b)
	}
	if code, body := e.media(t, "/hls/asx/index.m3u8", "v"); code != 200 || !strings.Contains(body, "#EXTM3U") {
		t.Fatalf("HLS: %d %s", code, body)
	}
	// The session log says what happened: the metafile, the dead reference.
	_, b = e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", st.SessionID), nil)
	var log struct {
		Items []struct {
			Kind, Message string
			Fields        map[string]any
		}
	}
	if err := json.Unmarshal(b, &log); err != nil {
		t.Fatal(err)
	}
	var metafile, deadRef bool
	for _, ev := range log.Items {
		metafile = metafile || ev.Kind == "metafile" && ev.Fields["title"] == "ASX Test Radio"
		deadRef = deadRef || ev.Kind == "attempt" && ev.Fields["ref"] == float64(1) && ev.Fields["outcome"] == "failed"
	}
	if !metafile || !deadRef {
		t.Fatalf("metafile %v dead reference %v in %s", metafile, deadRef, b)
	}
}

// TestMMSHChannel: an http:// channel URL that is not a metafile plays as
// MMSH (MS-WMSP) from a live source.
func TestMMSHChannel(t *testing.T) {
	f, err := mmsh.OpenFile(h264Clip(t))
	if err != nil {
		t.Fatal(err)
	}
	h := &mmsh.Handler{}
	h.Add("live", mmsh.NewLiveFile(f, 1))
	web := httptest.NewServer(h)
	// Registered before startApp's cleanup, so it runs after the gateway
	// has closed its MMSH session (Close waits for open connections).
	t.Cleanup(web.Close)
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "wmsp", "url": web.URL + "/live",
		"on_demand": false, "outputs": []string{"hls"}}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "wmsp", "live", 60*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/wmsp/status", nil)
	var st struct{ Transport string }
	json.Unmarshal(b, &st)
	if st.Transport != "http" {
		t.Fatalf("status: %s", b)
	}
	if code, body := e.media(t, "/hls/wmsp/index.m3u8", "v"); code != 200 || !strings.Contains(body, "#EXTM3U") {
		t.Fatalf("HLS: %d %s", code, body)
	}
}

// TestASXDeniedRefs: references of a metafile go through the upstream
// allow-list like any channel URL: the metadata address in its spellings is
// refused before any connection.
func TestASXDeniedRefs(t *testing.T) {
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<asx version="3.0"><title>Bad</title><entry>
			<ref href="mms://169.254.169.254/x"/><ref href="mms://2852039166/x"/>
			<ref href="mms://[::ffff:169.254.169.254]/x"/></entry></asx>`)
	}))
	t.Cleanup(web.Close)
	e := startApp(t, Config{})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "bad", "url": web.URL + "/bad.asx",
		"on_demand": false}); code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	e.waitState(t, "bad", "failed", 30*time.Second)
	_, b := e.call(t, "GET", "/api/v1/channels/bad/status", nil)
	var st struct{ Reason string }
	json.Unmarshal(b, &st)
	if strings.Count(st.Reason, "upstream denied") != 3 || !strings.Contains(st.Reason, "reference 3") {
		t.Fatalf("reason: %s", b)
	}
}
