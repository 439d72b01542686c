package api

import (
	"context"
	"errors"
	"hash/maphash"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/mmsgate/mmsgate/gateway"
)

// hlsFile is what an HLS path may name: the playlist, variant playlists,
// init sections, segments and parts.
var hlsFile = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

func (a *API) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", a.cfg.CORSOrigin)
		h.Set("Access-Control-Expose-Headers", "Content-Length, Content-Range")
		if a.cfg.CORSOrigin != "*" {
			h.Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

func (a *API) preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Range, Content-Type")
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// viewerKey identifies an HLS viewer across its requests without keeping
// its address: a keyed hash of address and user agent.
func (a *API) viewerKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return strconv.FormatUint(maphash.String(a.seed, host+"\x00"+r.UserAgent()), 36)
}

// mediaError answers a viewer. Media routes are public: the reason is said,
// but where the upstream is (its URL, host, addresses) only to token holders.
func (a *API) mediaError(w http.ResponseWriter, r *http.Request, name string, err error) {
	switch {
	case errors.Is(err, gateway.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such channel or output")
	case errors.Is(err, context.Canceled):
		// The viewer went away; nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "unavailable", "request cancelled")
	case a.authorized(r):
		a.fail(w, err)
	default:
		a.fail(w, hideUpstream{err, a.upstreamSpellings(name)})
	}
}

// Where an upstream is, as reasons spell it: URLs (of the channel or of a
// redirect hop), IPv4 and bracketed IPv6 addresses, host names.
var (
	urlRE  = regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9+.-]*://[^\s"]+`)
	addrRE = regexp.MustCompile(`\[[0-9A-Za-z.%]*:[0-9A-Za-z:.%]*\](:\d+)?|\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`)
	hostRE = regexp.MustCompile(`\b([A-Za-z0-9-]+\.)+[A-Za-z]{2,}(:\d+)?\b`)
)

func (a *API) upstreamSpellings(name string) []string {
	c, err := a.g.Get(name)
	if err != nil {
		return nil
	}
	out := []string{c.URL}
	if u, err := url.Parse(c.URL); err == nil {
		out = append(out, u.Host, u.Hostname())
	}
	return out
}

// hideUpstream is err with the upstream's URL, host and any address
// replaced; errors.Is still sees the original.
type hideUpstream struct {
	err       error
	spellings []string
}

func (h hideUpstream) Error() string {
	msg := h.err.Error()
	for _, s := range h.spellings {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[upstream]")
		}
	}
	msg = urlRE.ReplaceAllString(msg, "[url]")
	msg = addrRE.ReplaceAllString(msg, "[address]")
	return hostRE.ReplaceAllString(msg, "[host]")
}

func (h hideUpstream) Unwrap() error { return h.err }

func (a *API) hls(w http.ResponseWriter, r *http.Request) {
	name, file := chi.URLParam(r, "name"), chi.URLParam(r, "*")
	if !gateway.ValidName(name) || !hlsFile.MatchString(file) {
		writeError(w, http.StatusNotFound, "not_found", "no such HLS file")
		return
	}
	output := "hls"
	c, err := a.g.Get(name)
	if err != nil {
		a.mediaError(w, r, name, err)
		return
	}
	if !gateway.HasOutput(c, "hls") {
		writeError(w, http.StatusNotFound, "not_found", "this channel has no HLS output")
		return
	}
	// Watch waits (up to the start timeout) only when the channel is not
	// live yet; the pipeline then waits for the first segment with the
	// request's context.
	v, err := a.g.Watch(r.Context(), name, output, a.viewerKey(r), false)
	if err != nil {
		a.mediaError(w, r, name, err)
		return
	}
	defer v.Release()
	if md := v.Pipeline.Metadata(); file == "index.m3u8" && md.Mode == "" && md.Error != "" {
		// A new viewer would wait for segments that never come. (Viewers
		// that have their playlists keep them.)
		writeError(w, http.StatusServiceUnavailable, "unavailable", "no HLS for this channel now: "+md.Error)
		return
	}
	if r.Method == http.MethodHead {
		// The muxer only answers GET; net/http drops the body of a HEAD
		// response by itself.
		r.Method = http.MethodGet
	}
	v.Pipeline.ServeHLS(w, r, file)
}

func (a *API) asf(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	if !gateway.ValidName(name) {
		writeError(w, http.StatusNotFound, "not_found", "no such channel")
		return
	}
	v, err := a.g.Watch(r.Context(), name, "asf", a.viewerKey(r), r.Method == http.MethodGet)
	if err != nil {
		a.mediaError(w, r, name, err)
		return
	}
	defer v.Release()
	v.Pipeline.ServeASF(w, r)
}
