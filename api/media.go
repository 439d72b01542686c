package api

import (
	"context"
	"errors"
	"hash/maphash"
	"net"
	"net/http"
	"regexp"
	"strconv"

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

func (a *API) mediaError(w http.ResponseWriter, err error) {
	// Media errors are public: the reason is said, upstream details are not.
	switch {
	case errors.Is(err, gateway.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "no such channel or output")
	case errors.Is(err, context.Canceled):
		// The viewer went away; nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "unavailable", "request cancelled")
	default:
		a.fail(w, err)
	}
}

func (a *API) hls(w http.ResponseWriter, r *http.Request) {
	name, file := chi.URLParam(r, "name"), chi.URLParam(r, "*")
	if !gateway.ValidName(name) || !hlsFile.MatchString(file) {
		writeError(w, http.StatusNotFound, "not_found", "no such HLS file")
		return
	}
	output := "hls"
	c, err := a.g.Get(name)
	if err != nil {
		a.mediaError(w, err)
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
		a.mediaError(w, err)
		return
	}
	defer v.Release()
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
		a.mediaError(w, err)
		return
	}
	defer v.Release()
	v.Pipeline.ServeASF(w, r)
}
