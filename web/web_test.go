package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path"
	"regexp"
	"strings"
	"testing"
)

// get serves one request through a real HTTP server on loopback.
func get(t *testing.T, srv *httptest.Server, method, p string, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+p, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	// Ask for the identity encoding unless the test says otherwise, so
	// that bodies are what the files hold.
	tr := &http.Transport{DisableCompression: true}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

func TestPages(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, contains, frameAncestors string
	}{
		{"/", `src="/static/js/app.js"`, "frame-ancestors 'self'"},
		{"/channel/demo", `src="/static/js/app.js"`, "frame-ancestors 'self'"},
		{"/channel/a.b_c-d~1", `src="/static/js/app.js"`, "frame-ancestors 'self'"},
		{"/channel/demo/log", `src="/static/js/app.js"`, "frame-ancestors 'self'"},
		{"/embed/demo", `src="/static/js/embed.js"`, "frame-ancestors *"},
		{"/embed/demo?autoplay=1", `<video id="video"`, "frame-ancestors *"},
	} {
		res, body := get(t, srv, "GET", tc.path, nil)
		if res.StatusCode != 200 {
			t.Errorf("%s: status %d", tc.path, res.StatusCode)
			continue
		}
		if ct := res.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
		if !bytes.Contains(body, []byte(tc.contains)) {
			t.Errorf("%s: body lacks %s", tc.path, tc.contains)
		}
		csp := res.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, tc.frameAncestors) {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
		if res.Header.Get("X-Frame-Options") != "" {
			t.Errorf("%s: X-Frame-Options set; the CSP decides framing", tc.path)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, p := range []string{
		"/nope", "/embed/", "/embed/a%20b", "/embed/a/b", "/channel/demo/logs", "/channel/demo/log/x", "/channel/",
		"/embed/" + strings.Repeat("x", 200), "/static/", "/static/nope.js", "/static/index.html",
		"/static/../web.go", "/api/v1/channels", "/hls/demo/index.m3u8",
	} {
		res, _ := get(t, srv, "GET", p, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, res.StatusCode)
		}
	}
	for _, p := range []string{"/", "/embed/demo", "/static/js/app.js"} {
		res, _ := get(t, srv, "POST", p, nil)
		if res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("POST %s: status %d, want 405", p, res.StatusCode)
		}
		res, body := get(t, srv, "HEAD", p, nil)
		if res.StatusCode != 200 || len(body) != 0 {
			t.Errorf("HEAD %s: status %d, %d body bytes", p, res.StatusCode, len(body))
		}
	}
}

func TestStaticContentTypesAndCaching(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	want := map[string]string{
		"/static/js/app.js":             "text/javascript; charset=utf-8",
		"/static/js/player.js":          "text/javascript; charset=utf-8",
		"/static/css/app.css":           "text/css; charset=utf-8",
		"/static/favicon.svg":           "image/svg+xml",
		"/static/vendor/hls.min.js":     "text/javascript; charset=utf-8",
		"/static/vendor/hls.js.LICENSE": "text/plain; charset=utf-8",
	}
	for p, ct := range want {
		res, body := get(t, srv, "GET", p, nil)
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != ct {
			t.Errorf("%s: status %d, Content-Type %q, want %q", p, res.StatusCode, res.Header.Get("Content-Type"), ct)
			continue
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", p)
		}
		file, err := static.ReadFile("static" + strings.TrimPrefix(p, "/static"))
		if err != nil || !bytes.Equal(file, body) {
			t.Errorf("%s: body differs from the embedded file (%v)", p, err)
		}
		etag := res.Header.Get("ETag")
		if etag == "" {
			t.Errorf("%s: no ETag", p)
			continue
		}
		res, body = get(t, srv, "GET", p, map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("%s: revalidation gave %d with %d bytes", p, res.StatusCode, len(body))
		}
	}
}

func TestGzip(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	plainRes, plain := get(t, srv, "GET", "/static/vendor/hls.min.js", nil)
	res, body := get(t, srv, "GET", "/static/vendor/hls.min.js", map[string]string{"Accept-Encoding": "br, gzip"})
	if res.Header.Get("Content-Encoding") != "gzip" || !strings.Contains(res.Header.Get("Vary"), "Accept-Encoding") {
		t.Fatalf("Content-Encoding %q, Vary %q", res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
	}
	if len(body) >= len(plain)/2 {
		t.Errorf("gzip body %d bytes for %d plain", len(body), len(plain))
	}
	if res.Header.Get("ETag") == plainRes.Header.Get("ETag") {
		t.Error("the gzip encoding shares the identity ETag")
	}
	zr, err := gzip.NewReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	unzipped, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(unzipped, plain) {
		t.Fatalf("gunzip: %v, equal %v", err, bytes.Equal(unzipped, plain))
	}
	res, _ = get(t, srv, "GET", "/static/vendor/hls.min.js", map[string]string{"Accept-Encoding": "gzip;q=0"})
	if res.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused with q=0")
	}
	res, body = get(t, srv, "GET", "/static/vendor/hls.min.js", map[string]string{"Accept-Encoding": "gzip", "Range": "bytes=0-9"})
	if res.StatusCode != http.StatusPartialContent || res.Header.Get("Content-Encoding") != "" || !bytes.Equal(body, plain[:10]) {
		t.Errorf("range: status %d, encoding %q, body %q", res.StatusCode, res.Header.Get("Content-Encoding"), body)
	}
}

// Identifiers that look like URLs but are never fetched: XML namespaces and
// hls.js' internal scheme IDs and licence notes.
var harmlessURLs = map[string]bool{
	"http://www.w3.org/2000/svg":                                              true,
	"http://www.w3.org/ns/ttml#styling":                                       true,
	"https://aomedia.org/emsg/ID3":                                            true,
	"https://github.com/babel/babel/blob/main/packages/babel-helpers/LICENSE": true,
}

var urlRE = regexp.MustCompile(`(?i)\b(?:https?|wss?|ftp):\/\/[a-z0-9][^\s"'<>)\x60]*`)

// TestNoExternalURLs: the UI must not make any request to another site, so
// no asset may name one (outside the allowed identifiers above). The CSP
// would block such a request anyway; this finds it before a browser does.
func TestNoExternalURLs(t *testing.T) {
	n := 0
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		n++
		for _, u := range urlRE.FindAllString(string(b), -1) {
			if strings.HasSuffix(p, ".LICENSE") || harmlessURLs[u] {
				continue
			}
			t.Errorf("%s names an external URL: %s", p, u)
		}
		// Protocol-relative references ("//host/x") in markup and styles.
		if m := regexp.MustCompile(`(?:src|href)\s*=\s*["']//|url\(\s*["']?//|@import`).Find(b); m != nil && !strings.Contains(p, "vendor/") {
			t.Errorf("%s has a protocol-relative or imported reference: %s", p, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 8 {
		t.Fatalf("only %d files checked", n)
	}
}

// TestReferencesResolve: every src/href of the pages and every import of
// the modules names a file the handler serves.
func TestReferencesResolve(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	refRE := regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`)
	for _, page := range []string{"index.html", "embed.html"} {
		b, _ := static.ReadFile("static/" + page)
		refs := refRE.FindAllSubmatch(b, -1)
		if len(refs) < 3 {
			t.Errorf("%s: only %d references", page, len(refs))
		}
		for _, m := range refs {
			if res, _ := get(t, srv, "GET", string(m[1]), nil); res.StatusCode != 200 {
				t.Errorf("%s references %s: status %d", page, m[1], res.StatusCode)
			}
		}
	}
	importRE := regexp.MustCompile(`(?m)^import .* from "(\./[^"]+)";`)
	files, _ := fs.Glob(static, "static/js/*.js")
	for _, f := range files {
		b, _ := static.ReadFile(f)
		for _, m := range importRE.FindAllSubmatch(b, -1) {
			target := path.Join(path.Dir(f), string(m[1]))
			if _, err := fs.Stat(static, target); err != nil {
				t.Errorf("%s imports %s: %v", f, m[1], err)
			}
		}
	}
}

func TestVendoredHLSJS(t *testing.T) {
	v, err := static.ReadFile("static/vendor/hls.js.VERSION")
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(v))
	if !regexp.MustCompile(`^1\.\d+\.\d+$`).MatchString(version) {
		t.Fatalf("version %q is not a 1.x release", version)
	}
	js, _ := static.ReadFile("static/vendor/hls.min.js")
	if !bytes.Contains(js, []byte(`"`+version+`"`)) {
		t.Errorf("hls.min.js does not carry version %s", version)
	}
	if bytes.Contains(js, []byte("sourceMappingURL")) {
		t.Error("hls.min.js names a source map that is not shipped")
	}
	lic, _ := static.ReadFile("static/vendor/hls.js.LICENSE")
	if !bytes.Contains(lic, []byte("Apache License")) {
		t.Error("hls.js licence missing")
	}
}

// TestModulesParse runs node's syntax check on the modules where node is
// installed (developer machines); the browser tests in e2e/ run them for real.
func TestModulesParse(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed; e2e/ runs the modules in Chromium")
	}
	files, _ := fs.Glob(static, "static/js/*.js")
	for _, f := range files {
		b, _ := static.ReadFile(f)
		cmd := exec.Command(node, "--input-type=module", "--check")
		cmd.Stdin = bytes.NewReader(b)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%s", f, err, out)
		}
	}
}

func TestValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"demo": true, "a.b-c_d~e": true, "Radio1": true,
		"": false, ".": false, "..": false, "a b": false, "a/b": false, "é": false, "<x>": false,
		strings.Repeat("a", 128): true, strings.Repeat("a", 129): false,
	} {
		if got := validName(s); got != want {
			t.Errorf("validName(%q) = %v", s, got)
		}
	}
}

// BenchmarkServeHLSJS serves the largest asset, gzipped, as browsers ask for it.
func BenchmarkServeHLSJS(b *testing.B) {
	h := Handler()
	req := httptest.NewRequest("GET", "/static/vendor/hls.min.js", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b.SetBytes(int64(rec.Body.Len()))
	b.ReportAllocs()
	w := &discardWriter{h: http.Header{}}
	for b.Loop() {
		clear(w.h)
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatal(w.code)
		}
	}
}

// discardWriter is a ResponseWriter that keeps nothing, so that the
// benchmark measures the handler rather than a recorder's buffer.
type discardWriter struct {
	h    http.Header
	code int
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(code int)        { d.code = code }

// BenchmarkHandler is the cost of building the handler (compressing the
// assets), paid once at start.
func BenchmarkHandler(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Handler()
	}
}
