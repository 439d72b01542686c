package app

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
	"github.com/mmsgate/mmsgate/store"
)

// fixtureDir caches generated clips across tests and test runs.
func fixtureDir(t testing.TB) string {
	d := filepath.Join(os.TempDir(), "mmsgate-fixtures")
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
	return d
}

func h264Clip(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, err := fixture.Generate(ctx, fixtureDir(t), fixture.H264())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// upstreamServer runs an mmsserver with the clip looped live at /live.
type upstreamServer struct {
	srv  *mmsserver.Server
	addr string
}

func startUpstream(t testing.TB, clip, addr string) *upstreamServer {
	t.Helper()
	return serveUpstream(t, &mmsserver.Server{}, clip, addr)
}

// serveUpstream is startUpstream for a server configured by the test
// (fault injection, authentication); it is shut down when the test ends.
func serveUpstream(t testing.TB, srv *mmsserver.Server, clip, addr string) *upstreamServer {
	t.Helper()
	if err := srv.AddLive("live", clip); err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ { // the port of a killed server may take a moment to free
		ln, err = net.Listen("tcp", addr)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	u := &upstreamServer{srv: srv, addr: ln.Addr().String()}
	t.Cleanup(func() { u.stop() })
	return u
}

func (u *upstreamServer) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	u.srv.Shutdown(ctx)
}

// logBuffer collects every log line of the app.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type env struct {
	app  *App
	srv  *httptest.Server
	logs *logBuffer
}

func startApp(t testing.TB, cfg Config) *env {
	t.Helper()
	logs := &logBuffer{}
	if cfg.DataDir == "" {
		cfg.DataDir = t.TempDir()
	}
	cfg.NoDemo = true
	cfg.Console = io.Discard
	if cfg.AllowUpstream == nil {
		cfg.AllowUpstream = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(a.Handler())
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		a.Close(ctx)
	})
	return &env{app: a, srv: srv, logs: logs}
}

func (e *env) call(t testing.TB, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+e.app.APIToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func ffprobeStreams(t *testing.T, url string) string {
	t.Helper()
	return fixture.ProbeCodecs(t, url, 60*time.Second)
}

// TestEndToEnd creates a channel by REST pointing at an in-process MMS
// server and plays it as HLS and ASF with ffprobe; the session log, the
// metrics and a graceful shutdown are checked, on SQLite and PostgreSQL.
func TestEndToEnd(t *testing.T) {
	clip := h264Clip(t)
	for _, db := range []string{"sqlite", "postgres"} {
		t.Run(db, func(t *testing.T) {
			cfg := Config{}
			if db == "postgres" {
				cfg.DatabaseURL = store.PostgresTestURL(t)
			}
			endToEnd(t, clip, cfg)
		})
	}
}

func endToEnd(t *testing.T, clip string, cfg Config) {
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, cfg)
	const password = "Secr3t-for-e2e-Ünïcode"
	code, body := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "e2e",
		"url": "mms://" + up.addr + "/live", "username": "viewer", "password": password, "outputs": []string{"hls", "asf"}})
	if code != 201 {
		t.Fatalf("create: %d %s", code, body)
	}
	resp, err := http.Get(e.srv.URL + "/hls/e2e/index.m3u8")
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(pl), "#EXTM3U") {
		t.Fatalf("playlist: %d %s", resp.StatusCode, pl)
	}
	if resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("no CORS header on HLS")
	}
	if got := ffprobeStreams(t, e.srv.URL+"/hls/e2e/index.m3u8"); !strings.Contains(got, "h264") || !strings.Contains(got, "aac") {
		t.Fatalf("HLS streams: %q", got)
	}
	if got := ffprobeStreams(t, e.srv.URL+"/asf/e2e"); !strings.Contains(got, "h264") || !strings.Contains(got, "aac") {
		t.Fatalf("ASF streams: %q", got)
	}
	code, body = e.call(t, "GET", "/api/v1/channels/e2e/status", nil)
	var st map[string]any
	json.Unmarshal(body, &st)
	if code != 200 || st["state"] != "live" || st["transport"] == "" {
		t.Fatalf("status: %d %s", code, body)
	}
	// The transport that worked is remembered (and tried first next time).
	_, body = e.call(t, "GET", "/api/v1/channels/e2e", nil)
	if !bytes.Contains(body, []byte(`"last_transport":"udp"`)) && !bytes.Contains(body, []byte(`"last_transport":"tcp"`)) {
		t.Errorf("no last transport: %s", body)
	}
	// The web UI is mounted.
	for _, p := range []string{"/", "/embed/e2e"} {
		resp, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Errorf("%s: %d %s", p, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		resp, err := http.Get(e.srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
	}
	// The session log shows the protocol timeline.
	code, body = e.call(t, "GET", "/api/v1/channels/e2e/sessions", nil)
	var sessions struct {
		Items []struct{ ID int64 }
		Total int
	}
	json.Unmarshal(body, &sessions)
	if code != 200 || sessions.Total < 1 {
		t.Fatalf("sessions: %d %s", code, body)
	}
	code, body = e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", sessions.Items[0].ID), nil)
	if code != 200 {
		t.Fatalf("log: %d %s", code, body)
	}
	for _, kind := range []string{`"kind":"attempt"`, `"kind":"header"`, `"kind":"playing"`, `"kind":"state"`} {
		if !bytes.Contains(body, []byte(kind)) {
			t.Errorf("session log lacks %s: %s", kind, body)
		}
	}
	// Live, as server-sent events: the stored entries, then what happens.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("%s/api/v1/sessions/%d/log", e.srv.URL, sessions.Items[0].ID), nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Authorization", "Bearer "+e.app.APIToken())
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(sresp.Body)
	var ids []string
	for sc.Scan() && len(ids) < 3 {
		if id, ok := strings.CutPrefix(sc.Text(), "id: "); ok {
			ids = append(ids, id)
		}
	}
	sresp.Body.Close()
	if sresp.Header.Get("Content-Type") != "text/event-stream" || strings.Join(ids, ",") != "1,2,3" {
		t.Errorf("SSE log: %s ids %v", sresp.Header.Get("Content-Type"), ids)
	}
	// /metrics counts the viewer.
	resp, err = http.Get(e.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !regexp.MustCompile(`mmsgate_viewers\{channel="e2e"\} [1-9]`).Match(m) {
		t.Errorf("metrics do not count the viewer:\n%s", grepLines(m, "mmsgate_"))
	}
	for _, want := range []string{`mmsgate_channels{state="live"} 1`,
		`mmsgate_viewer_requests_total{channel="e2e",output="hls"}`, `mmsgate_http_requests_total{code="200",route="/hls/{name}/*"}`} {
		if !bytes.Contains(m, []byte(want)) {
			t.Errorf("metrics lack %s:\n%s", want, grepLines(m, "mmsgate_"))
		}
	}
	if bytes.Contains(m, []byte("upstream_bytes_total{channel=\"e2e\"} 0")) {
		t.Errorf("no upstream bytes counted")
	}
	// Shutdown ends the upstream session properly: the client logs out
	// (CLIENT_LOG, then CloseFile) and the session is stored as ended
	// with its statistics.
	ctxc, cancelc := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancelc()
	if err := e.app.Close(ctxc); err != nil {
		t.Fatal(err)
	}
	if len(up.srv.ClientLogs()) == 0 {
		t.Errorf("the upstream got no client log at shutdown")
	}
	db, err := store.Open(context.Background(), e.app.cfg.DataDir, e.app.cfg.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sess, err := db.GetSession(context.Background(), sessions.Items[0].ID)
	if err != nil || sess.Outcome != "ended" || sess.Stats["packets_received"] == nil {
		t.Errorf("session after shutdown: %+v %v", sess, err)
	}
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func countGoroutines() int { return runtime.NumGoroutine() }
