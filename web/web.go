// Package web is the gateway's browser UI: plain HTML, CSS and JavaScript
// modules embedded in the binary, plus hls.js vendored from npm
// (static/vendor/, refreshed by update-hlsjs.sh). The UI talks only to the
// gateway's own REST API (/api/v1), its server-sent events and its media
// routes (/hls, /asf); it never loads anything from another site, and the
// Content-Security-Policy sent with every page makes the browser enforce that.
//
// Routes served by Handler:
//
//	/                     the app: channel list, "Play a URL", channel forms
//	/channel/{name}       the app, opened on a channel's player page (deep link)
//	/channel/{name}/log   the app, opened on a channel's live session log
//	/embed/{name}         a minimal player page made for an <iframe>
//	                      (?autoplay=1 starts muted, ?muted=1, ?controls=0)
//	/static/...           the assets (ETag, gzip when the client accepts it)
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// Content types by extension, spelled out rather than taken from the host's
// mime.types so that every machine serves the same headers.
var contentTypes = map[string]string{
	".html":    "text/html; charset=utf-8",
	".js":      "text/javascript; charset=utf-8",
	".css":     "text/css; charset=utf-8",
	".svg":     "image/svg+xml",
	".json":    "application/json",
	".LICENSE": "text/plain; charset=utf-8",
	".VERSION": "text/plain; charset=utf-8",
	".txt":     "text/plain; charset=utf-8",
}

// cspApp is the policy of the app pages: everything from this origin only.
// hls.js runs its transmuxer in a worker made from a blob: URL and feeds the
// video element through a blob: MediaSource URL, hence blob: for those two.
const cspBase = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"media-src 'self' blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'"

const (
	cspApp   = cspBase + "; frame-src 'self'; frame-ancestors 'self'"
	cspEmbed = cspBase + "; frame-ancestors *" // made to be framed by any site
)

// asset is one embedded file, prepared once when the handler is built.
type asset struct {
	name  string
	ctype string
	etag  string
	body  []byte
	gzTag string // the ETag of the gzip encoding (a different entity)
	gz    []byte // nil when compression does not pay
}

type handler struct {
	assets map[string]*asset // by path below static/, e.g. "js/app.js"
	mod    time.Time
	mux    *http.ServeMux
}

// Handler returns the UI's handler. The gateway mounts it for "/" and
// "/embed/"; it answers only the routes listed in the package comment and 404
// elsewhere, and only GET and HEAD.
func Handler() http.Handler {
	h := &handler{assets: map[string]*asset{}, mod: time.Now()}
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(p, "static/")
		h.assets[name] = newAsset(name, b)
		return nil
	})
	if err != nil {
		// The files are compiled in; failing to read them is a build defect.
		panic("web: reading embedded files: " + err.Error())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.page("index.html", cspApp, false))
	mux.HandleFunc("GET /channel/{name}", h.page("index.html", cspApp, true))
	mux.HandleFunc("GET /channel/{name}/log", h.page("index.html", cspApp, true))
	mux.HandleFunc("GET /embed/{name}", h.page("embed.html", cspEmbed, true))
	mux.HandleFunc("GET /static/{path...}", h.serveStatic)
	h.mux = mux
	return h
}

func newAsset(name string, b []byte) *asset {
	sum := sha256.Sum256(b)
	a := &asset{
		name:  name,
		ctype: contentTypes[path.Ext(name)],
		etag:  `"` + hex.EncodeToString(sum[:12]) + `"`,
		body:  b,
	}
	if a.ctype == "" {
		a.ctype = "application/octet-stream"
	}
	if len(b) > 1024 && !strings.HasSuffix(name, ".png") {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		zw.Write(b)
		zw.Close()
		if buf.Len() < len(b)*9/10 {
			a.gz = buf.Bytes()
			a.gzTag = strings.TrimSuffix(a.etag, `"`) + `-gz"`
		}
	}
	return a
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mux.ServeHTTP(w, r)
}

// page serves an HTML page of the app. The channel name in the path is read
// by the page's script; here it only has to be a plausible name.
func (h *handler) page(file, csp string, named bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if named && !validName(r.PathValue("name")) {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Referrer-Policy", "same-origin")
		h.serveAsset(w, r, h.assets[file])
	}
}

// validName accepts the URL-safe channel names that the gateway allows,
// generously: the API is the judge, this only keeps junk out of the page.
func validName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == '~':
		default:
			return false
		}
	}
	return s != "." && s != ".."
}

func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	a, ok := h.assets[r.PathValue("path")]
	if !ok || strings.HasSuffix(a.name, ".html") {
		http.NotFound(w, r)
		return
	}
	h.serveAsset(w, r, a)
}

func (h *handler) serveAsset(w http.ResponseWriter, r *http.Request, a *asset) {
	hd := w.Header()
	hd.Set("Content-Type", a.ctype)
	hd.Set("X-Content-Type-Options", "nosniff")
	// Revalidate every time: the ETag makes that a cheap 304, and a new
	// binary never leaves a stale script in a browser's cache.
	hd.Set("Cache-Control", "no-cache")
	hd.Set("ETag", a.etag)
	body := a.body
	if a.gz != nil {
		hd.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			hd.Set("Content-Encoding", "gzip")
			hd.Set("ETag", a.gzTag)
			body = a.gz
		}
	}
	http.ServeContent(w, r, "", h.mod, bytes.NewReader(body))
}

func acceptsGzip(r *http.Request) bool {
	if r.Header.Get("Range") != "" {
		return false // ranges are of the identity encoding
	}
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.TrimSpace(enc) == "gzip" && strings.TrimSpace(q) != "q=0" {
			return true
		}
	}
	return false
}
