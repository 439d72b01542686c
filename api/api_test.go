package api

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/store"
)

const testToken = "test-token-0123456789"

var errNoUpstream = errors.New("no upstream in this test")

type testEnv struct {
	srv *httptest.Server
	g   *gateway.Gateway
	st  *store.DB
}

func newEnv(t testing.TB, private bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g, err := gateway.New(ctx, gateway.Config{Store: st, Registerer: reg,
		Dial: func(ctx context.Context, req gateway.DialRequest) (gateway.Upstream, error) {
			return nil, errNoUpstream
		},
		NewPipeline: func(gateway.Channel, event.Func, *slog.Logger) (gateway.Pipeline, error) {
			return nil, errors.New("no pipeline in this test")
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{Gateway: g, Token: testToken, Private: private, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	r := chi.NewRouter()
	r.Use(a.Instrument)
	a.Mount(r)
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		g.Close(context.Background())
		st.Close()
	})
	return &testEnv{srv: srv, g: g, st: st}
}

type result struct {
	code int
	body string
	hdr  http.Header
}

func (e *testEnv) do(t testing.TB, method, path, token, body string) result {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, string(b), resp.Header}
}

func errCode(t *testing.T, r result) string {
	t.Helper()
	var b errorBody
	if err := json.Unmarshal([]byte(r.body), &b); err != nil || b.Error.Code == "" || b.Error.Message == "" {
		t.Fatalf("not a JSON error (%d): %s", r.code, r.body)
	}
	return b.Error.Code
}

const secret = "Sup3r-S3cret-pässword"

func leaks(s string) bool {
	for _, sp := range gateway.Spellings("alice", secret) {
		if strings.Contains(s, sp) {
			return true
		}
	}
	return strings.Contains(s, base64.StdEncoding.EncodeToString([]byte("alice:"+secret)))
}

func TestChannelsCRUD(t *testing.T) {
	e := newEnv(t, false)
	body := `{"name":"news","url":"mms://example.com/news","username":"alice","password":"` + secret + `","outputs":["hls","asf"]}`
	if r := e.do(t, "POST", "/api/v1/channels", "", body); r.code != 401 || errCode(t, r) != "unauthorized" {
		t.Fatalf("POST without token: %d %s", r.code, r.body)
	}
	if r := e.do(t, "POST", "/api/v1/channels", "wrong", body); r.code != 401 {
		t.Fatalf("POST with a wrong token: %d", r.code)
	}
	r := e.do(t, "POST", "/api/v1/channels", testToken, body)
	if r.code != 201 || leaks(r.body) {
		t.Fatalf("POST: %d %s", r.code, r.body)
	}
	var ch map[string]any
	json.Unmarshal([]byte(r.body), &ch)
	if ch["url"] != "mms://example.com/news" || ch["has_password"] != true || ch["on_demand"] != true || ch["state"] != "idle" {
		t.Fatalf("created %v", ch)
	}
	if r := e.do(t, "POST", "/api/v1/channels", testToken, body); r.code != 409 || errCode(t, r) != "conflict" {
		t.Fatalf("duplicate: %d %s", r.code, r.body)
	}
	// Public reads show names and states, not the URL or username.
	r = e.do(t, "GET", "/api/v1/channels", "", "")
	if r.code != 200 || strings.Contains(r.body, "example.com") || strings.Contains(r.body, "alice") || !strings.Contains(r.body, `"total":1`) {
		t.Fatalf("public list: %d %s", r.code, r.body)
	}
	r = e.do(t, "GET", "/api/v1/channels/news", testToken, "")
	if r.code != 200 || !strings.Contains(r.body, "example.com") || leaks(r.body) {
		t.Fatalf("get: %d %s", r.code, r.body)
	}
	// PUT without a password keeps the stored one.
	r = e.do(t, "PUT", "/api/v1/channels/news", testToken, `{"url":"mmst://example.com/other","username":"alice","on_demand":true}`)
	if r.code != 200 || leaks(r.body) || !strings.Contains(r.body, `"transport":"tcp"`) {
		t.Fatalf("put: %d %s", r.code, r.body)
	}
	if c, _ := e.st.GetChannel(context.Background(), "news"); c.Password != secret || c.URL != "mmst://example.com/other" {
		t.Fatalf("stored after PUT: %+v", c)
	}
	r = e.do(t, "PATCH", "/api/v1/channels/news", testToken, `{"max_bandwidth":300000,"language":"fr"}`)
	if r.code != 200 || !strings.Contains(r.body, `"max_bandwidth":300000`) || !strings.Contains(r.body, `"url":"mmst://example.com/other"`) {
		t.Fatalf("patch: %d %s", r.code, r.body)
	}
	if c, _ := e.st.GetChannel(context.Background(), "news"); c.Password != secret || c.Language != "fr" {
		t.Fatalf("stored after PATCH: %+v", c)
	}
	if r := e.do(t, "PATCH", "/api/v1/channels/news", testToken, `{"name":"other"}`); r.code != 400 {
		t.Fatalf("rename: %d", r.code)
	}
	if r := e.do(t, "PATCH", "/api/v1/channels/news", "", `{"language":"de"}`); r.code != 401 {
		t.Fatalf("patch without token: %d", r.code)
	}
	r = e.do(t, "GET", "/api/v1/channels/news/status", "", "")
	if r.code != 200 || !strings.Contains(r.body, `"state":"idle"`) {
		t.Fatalf("status: %d %s", r.code, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/channels/news/sessions", "", ""); r.code != 401 {
		t.Fatalf("sessions without token: %d", r.code)
	}
	if r := e.do(t, "GET", "/api/v1/channels/news/sessions", testToken, ""); r.code != 200 || r.body != "{\"items\":[],\"total\":0}\n" {
		t.Fatalf("sessions: %d %s", r.code, r.body)
	}
	for _, c := range []struct{ method, path string }{{"GET", "/api/v1/channels/nope"}, {"DELETE", "/api/v1/channels/nope"},
		{"GET", "/api/v1/sessions/99"}, {"GET", "/api/v1/sessions/x/log"}, {"GET", "/api/v1/nothing"}} {
		if r := e.do(t, c.method, c.path, testToken, ""); r.code != 404 || errCode(t, r) != "not_found" {
			t.Errorf("%s %s: %d %s", c.method, c.path, r.code, r.body)
		}
	}
	if r := e.do(t, "DELETE", "/api/v1/channels/news", "", ""); r.code != 401 {
		t.Fatalf("delete without token: %d", r.code)
	}
	if r := e.do(t, "DELETE", "/api/v1/channels/news", testToken, ""); r.code != 204 {
		t.Fatalf("delete: %d", r.code)
	}
	if r := e.do(t, "GET", "/api/v1/channels/news", "", ""); r.code != 404 {
		t.Fatalf("after delete: %d", r.code)
	}
}

func TestValidation(t *testing.T) {
	e := newEnv(t, false)
	for _, c := range []struct{ body, code string }{
		{`{"name":"a b","url":"mms://example.com/x"}`, "invalid"},
		{`{"name":"ok","url":"ftp://example.com/x"}`, "invalid"},
		{`{"name":"ok","url":"mms:///x"}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","outputs":["dash"]}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","transport":"quic"}`, "invalid"},
		{`{"name":"ok","url":"mmsu://example.com/x","transport":"tcp"}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","max_bandwidth":-1}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","mmsh_port":70000}`, "invalid"},
		{`{"name":"ok","url":"mmsh://example.com/x","mmsh_port":8080}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","mmsh_port":"80"}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x","bogus":1}`, "invalid"},
		{`{"name":"ok","url":"mms://example.com/x"} {}`, "invalid"},
		{`{"name":"ok"`, "invalid"},
		{`{"name":"ok","url":"mms://169.254.169.254/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://2852039166/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://0xA9FEA9FE/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://0251.0376.0251.0376/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://[::ffff:169.254.169.254]/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://127.0.0.1/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://localhost/x"}`, "upstream_denied"},
		{`{"name":"ok","url":"mms://10.1.2.3/x"}`, "upstream_denied"},
	} {
		r := e.do(t, "POST", "/api/v1/channels", testToken, c.body)
		if r.code/100 != 4 || errCode(t, r) != c.code {
			t.Errorf("%s: %d %s, want %s", c.body, r.code, r.body, c.code)
		}
	}
	// Credentials in the URL move out of it and are not echoed.
	r := e.do(t, "POST", "/api/v1/channels", testToken, `{"name":"cred","url":"mms://`+url.UserPassword("alice", secret).String()+`@example.com/x"}`)
	if r.code != 201 || leaks(r.body) || !strings.Contains(r.body, `"username":"alice"`) {
		t.Fatalf("credentials in url: %d %s", r.code, r.body)
	}
	if c, _ := e.st.GetChannel(context.Background(), "cred"); c.Password != secret || strings.Contains(c.URL, "alice") {
		t.Fatalf("stored %+v", c)
	}
}

func TestPrivate(t *testing.T) {
	e := newEnv(t, true)
	for _, p := range []string{"/api/v1/channels", "/api/v1/events", "/api/v1/channels/x/status"} {
		if r := e.do(t, "GET", p, "", ""); r.code != 401 {
			t.Errorf("GET %s without token: %d", p, r.code)
		}
	}
	if r := e.do(t, "GET", "/api/v1/channels", testToken, ""); r.code != 200 {
		t.Errorf("GET with token: %d", r.code)
	}
}

// TestOpenAPI checks every routed API operation against the document and
// every documented operation against the router, and response bodies
// against their schemas' property lists.
func TestOpenAPI(t *testing.T) {
	e := newEnv(t, false)
	var doc struct {
		Paths      map[string]map[string]json.RawMessage `json:"paths"`
		Components struct {
			Schemas map[string]struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			} `json:"schemas"`
		} `json:"components"`
	}
	r := e.do(t, "GET", "/api/v1/openapi.json", "", "")
	if r.code != 200 {
		t.Fatal(r.code)
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			if m != "parameters" {
				documented[strings.ToUpper(m)+" "+p] = true
			}
		}
	}
	a, _ := New(Config{Gateway: e.g, Token: testToken})
	router := chi.NewRouter()
	a.Mount(router)
	routed := map[string]bool{}
	chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		if method == "OPTIONS" || method == "HEAD" {
			return nil
		}
		route = strings.TrimSuffix(strings.ReplaceAll(route, "/*/", "/"), "/")
		route = strings.Replace(route, "/hls/{name}/*", "/hls/{name}/{file}", 1)
		routed[method+" "+route] = true
		return nil
	})
	var missing, extra []string
	for k := range routed {
		if !documented[k] {
			missing = append(missing, k)
		}
	}
	for k := range documented {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing)+len(extra) > 0 || len(routed) < 14 {
		t.Fatalf("routes not documented: %v\ndocumented but not routed: %v\n(%d routes)", missing, extra, len(routed))
	}
	check := func(schema string, obj map[string]any) {
		t.Helper()
		s, ok := doc.Components.Schemas[schema]
		if !ok {
			t.Fatalf("no schema %s", schema)
		}
		for k := range obj {
			if _, ok := s.Properties[k]; !ok {
				t.Errorf("%s: property %q not in the document", schema, k)
			}
		}
		for _, k := range s.Required {
			if _, ok := obj[k]; !ok {
				t.Errorf("%s: required %q missing from %v", schema, k, obj)
			}
		}
	}
	var obj map[string]any
	r = e.do(t, "POST", "/api/v1/channels", testToken, `{"name":"a","url":"mms://example.com/a","username":"u","password":"pw-123"}`)
	json.Unmarshal([]byte(r.body), &obj)
	check("Channel", obj)
	var in map[string]any
	json.Unmarshal([]byte(`{"name":"a","url":"mms://example.com/a","username":"u","password":"pw-123","transport":"auto","outputs":[],"transcode":"auto","on_demand":true,"max_bandwidth":0,"language":""}`), &in)
	check("ChannelInput", in)
	r = e.do(t, "GET", "/api/v1/channels/a/status", testToken, "")
	obj = nil
	json.Unmarshal([]byte(r.body), &obj)
	check("Status", obj)
	r = e.do(t, "GET", "/api/v1/channels/none", testToken, "")
	obj = nil
	json.Unmarshal([]byte(r.body), &obj)
	check("Error", obj)
	// A session and its log, made through the store.
	id, _ := e.st.CreateSession(context.Background(), store.Session{Channel: "a", StartedAt: time.Now(), Outcome: "running"})
	e.st.AppendLog(context.Background(), id, []store.LogEntry{{Seq: 1, Event: event.New(event.Attempt, "udp", map[string]any{"transport": "udp"})}})
	r = e.do(t, "GET", fmt.Sprintf("/api/v1/sessions/%d", id), testToken, "")
	obj = nil
	json.Unmarshal([]byte(r.body), &obj)
	check("Session", obj)
	r = e.do(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", id), testToken, "")
	var l struct{ Items []map[string]any }
	json.Unmarshal([]byte(r.body), &l)
	if len(l.Items) != 1 {
		t.Fatalf("log %s", r.body)
	}
	check("LogEntry", l.Items[0])
}

func TestEventsSSE(t *testing.T) {
	e := newEnv(t, false)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	if r := e.do(t, "POST", "/api/v1/channels", testToken, `{"name":"live1","url":"mms://example.com/a","on_demand":false}`); r.code != 201 {
		t.Fatal(r.body)
	}
	sc := bufio.NewScanner(resp.Body)
	var created, failed bool
	for sc.Scan() && !(created && failed) {
		line := sc.Text()
		if strings.HasPrefix(line, "data: ") {
			var ev gateway.StateEvent
			if err := json.Unmarshal([]byte(line[6:]), &ev); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			created = created || ev.Change == "created" && ev.Channel == "live1"
			// The always-on channel starts at once and fails (no upstream
			// here); public subscribers see the state, not the reason.
			failed = failed || ev.State == gateway.Failed && ev.Reason == ""
		}
	}
	if !created || !failed {
		t.Fatalf("created %v failed %v (%v)", created, failed, sc.Err())
	}
}

func TestHideUpstream(t *testing.T) {
	err := fmt.Errorf("%w: dial: connect to metadata.example:1755: dial tcp 169.254.169.254:1755: refused; "+
		"redirect to mms://other.example/x; [fe80::1%%eth0]:80; mms://up.example:8080/live", gateway.ErrUnavailable)
	h := hideUpstream{err, []string{"mms://up.example:8080/live", "up.example:8080", "up.example"}}
	got := h.Error()
	if !strings.Contains(got, "[upstream]") {
		t.Errorf("channel URL not marked: %q", got)
	}
	for _, bad := range []string{"metadata.example", "169.254", "other.example", "fe80", "up.example"} {
		if strings.Contains(got, bad) {
			t.Errorf("%q in %q", bad, got)
		}
	}
	if !errors.Is(h, gateway.ErrUnavailable) || !strings.Contains(got, "refused") {
		t.Errorf("%q", got)
	}
}

func TestMediaRoutes(t *testing.T) {
	e := newEnv(t, false)
	if r := e.do(t, "POST", "/api/v1/channels", testToken, `{"name":"m","url":"mms://example.com/x","outputs":["asf"]}`); r.code != 201 {
		t.Fatal(r.body)
	}
	r := e.do(t, "OPTIONS", "/hls/m/index.m3u8", "", "")
	if r.code != 204 || r.hdr.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(r.hdr.Get("Access-Control-Allow-Methods"), "GET") {
		t.Fatalf("preflight: %d %v", r.code, r.hdr)
	}
	for _, p := range []string{"/hls/none/index.m3u8", "/hls/m/index.m3u8", "/hls/m/..%2f..%2fx", "/hls/m/.x", "/asf/none", "/asf/a%20b"} {
		r := e.do(t, "GET", p, "", "")
		if r.code != 404 || r.hdr.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("%s: %d %v %s", p, r.code, r.hdr, r.body)
		}
	}
	// The channel cannot start here (no upstream): 503 with the reason.
	r = e.do(t, "GET", "/asf/m", "", "")
	if r.code != 503 || errCode(t, r) != "unavailable" || !strings.Contains(r.body, "pipeline") {
		t.Errorf("asf: %d %s", r.code, r.body)
	}
}

// TestMMSHPort: a channel's own MMSH rollover port is kept, shown to token
// holders only, changed by PATCH and refused where the URL names its port.
func TestMMSHPort(t *testing.T) {
	e := newEnv(t, false)
	if r := e.do(t, "POST", "/api/v1/channels", testToken, `{"name":"rp","url":"mms://example.com/x","mmsh_port":8080}`); r.code != 201 ||
		!strings.Contains(r.body, `"mmsh_port":8080`) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	if r := e.do(t, "GET", "/api/v1/channels/rp", "", ""); r.code != 200 || strings.Contains(r.body, "mmsh_port") {
		t.Fatalf("public read: %d %s", r.code, r.body)
	}
	if r := e.do(t, "PATCH", "/api/v1/channels/rp", testToken, `{"language":"fr"}`); r.code != 200 || !strings.Contains(r.body, `"mmsh_port":8080`) {
		t.Fatalf("patch keeps it: %d %s", r.code, r.body)
	}
	if r := e.do(t, "PATCH", "/api/v1/channels/rp", testToken, `{"url":"mmsh://example.com/x"}`); r.code != 400 || errCode(t, r) != "invalid" {
		t.Fatalf("mmsh url with mmsh_port: %d %s", r.code, r.body)
	}
	if r := e.do(t, "PATCH", "/api/v1/channels/rp", testToken, `{"mmsh_port":0}`); r.code != 200 || strings.Contains(r.body, "mmsh_port") {
		t.Fatalf("patch to default: %d %s", r.code, r.body)
	}
	if c, _ := e.st.GetChannel(context.Background(), "rp"); c.MMSHPort != 0 || c.Language != "fr" {
		t.Fatalf("stored: %+v", c)
	}
}
