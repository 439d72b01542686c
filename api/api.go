// Package api is the REST API of mmsgate under /api/v1 (chi, JSON in and out,
// OpenAPI 3 document at /api/v1/openapi.json) and the public media routes
// /hls/{name}/... and /asf/{name}.
package api

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsgate/mmsgate/gateway"
)

//go:embed openapi.json
var openapiJSON []byte

// Config configures the API.
type Config struct {
	Gateway *gateway.Gateway
	Token   string // Bearer token for writes (and every read when Private)
	Private bool   // every API read needs the token
	// CORSOrigin is sent as Access-Control-Allow-Origin on media routes
	// (default "*").
	CORSOrigin string
	Logger     *slog.Logger
	Registerer prometheus.Registerer // HTTP request metrics; nil: none
}

// API serves the REST and media routes.
type API struct {
	cfg      Config
	g        *gateway.Gateway
	log      *slog.Logger
	requests *prometheus.CounterVec
	seed     maphash.Seed // for viewer keys
}

// New returns the API.
func New(cfg Config) (*API, error) {
	if cfg.Gateway == nil {
		return nil, errors.New("api: Gateway is required")
	}
	if cfg.Token == "" {
		return nil, errors.New("api: Token is required")
	}
	if cfg.CORSOrigin == "" {
		cfg.CORSOrigin = "*"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, g: cfg.Gateway, log: cfg.Logger, seed: maphash.MakeSeed()}
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mmsgate", Name: "http_requests_total",
		Help: "HTTP requests by route pattern and status code."}, []string{"route", "code"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(a.requests); err != nil {
			return nil, fmt.Errorf("api: metrics: %w", err)
		}
	}
	return a, nil
}

// Mount adds the API and media routes to r.
func (a *API) Mount(r chi.Router) {
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(a.noStore)
		r.Get("/openapi.json", a.openapi)
		r.Get("/channels", a.listChannels)
		r.With(a.auth).Post("/channels", a.createChannel)
		r.Get("/channels/{name}", a.getChannel)
		r.With(a.auth).Put("/channels/{name}", a.putChannel)
		r.With(a.auth).Patch("/channels/{name}", a.patchChannel)
		r.With(a.auth).Delete("/channels/{name}", a.deleteChannel)
		r.With(a.auth).Post("/channels/{name}/start", a.startChannel)
		r.With(a.auth).Post("/channels/{name}/stop", a.stopChannel)
		r.Get("/channels/{name}/status", a.channelStatus)
		r.With(a.auth).Get("/channels/{name}/sessions", a.listSessions)
		r.With(a.auth).Get("/sessions/{id}", a.getSession)
		r.With(a.auth).Get("/sessions/{id}/log", a.sessionLog)
		r.Get("/events", a.events)
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", "no such API route")
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed on this route")
		})
	})
	r.Route("/hls/{name}", func(r chi.Router) {
		r.Use(a.cors)
		r.Get("/*", a.hls)
		r.Head("/*", a.hls)
		r.Options("/*", a.preflight)
	})
	r.With(a.cors).Get("/asf/{name}", a.asf)
	r.With(a.cors).Head("/asf/{name}", a.asf)
	r.With(a.cors).Options("/asf/{name}", a.preflight)
}

// Instrument counts requests by route pattern and code. Install it with
// Use on the chi router that Mount fills (before Mount), so that the route
// pattern is known when the request is counted.
func (a *API) Instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		a.requests.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.code, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (a *API) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openapiJSON)
}

func (a *API) noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// authorized reports whether r carries the API token.
func (a *API) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(a.cfg.Token)) == 1
}

func (a *API) auth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !a.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="mmsgate"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "this needs Authorization: Bearer <token>")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// publicRead answers 401 and returns false when reads are private and r has
// no token.
func (a *API) publicRead(w http.ResponseWriter, r *http.Request) bool {
	if a.cfg.Private && !a.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="mmsgate"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "this gateway is private: reads need Authorization: Bearer <token>")
		return false
	}
	return true
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.Encode(v)
}

func writeError(w http.ResponseWriter, code int, kind, msg string) {
	var b errorBody
	b.Error.Code, b.Error.Message = kind, msg
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, code, b)
}

// fail answers err with the status its kind calls for. Messages of
// gateway errors are meant for users and carry no secrets (URLs are stored
// without credentials; the redactor cleans what upstreams say).
func (a *API) fail(w http.ResponseWriter, err error) {
	msg := a.g.Redactor().String(err.Error())
	switch {
	case errors.Is(err, gateway.ErrInvalid):
		writeError(w, http.StatusBadRequest, "invalid", msg)
	case errors.Is(err, gateway.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", msg)
	case errors.Is(err, gateway.ErrConflict):
		writeError(w, http.StatusConflict, "conflict", msg)
	case errors.Is(err, gateway.ErrUpstreamDenied):
		writeError(w, http.StatusForbidden, "upstream_denied", msg)
	case errors.Is(err, gateway.ErrLimit):
		writeError(w, http.StatusServiceUnavailable, "limit", msg)
	case errors.Is(err, gateway.ErrUnavailable), errors.Is(err, gateway.ErrClosed):
		writeError(w, http.StatusServiceUnavailable, "unavailable", msg)
	default:
		a.log.Error("api", "error", msg)
		writeError(w, http.StatusInternalServerError, "internal", "internal error")
	}
}

// page reads ?limit= and ?offset= (defaults 100 and 0, limit at most 1000).
func page(r *http.Request) (limit, offset int, err error) {
	limit, offset = 100, 0
	q := r.URL.Query()
	if s := q.Get("limit"); s != "" {
		limit, err = strconv.Atoi(s)
		if err != nil || limit < 0 || limit > 1000 {
			return 0, 0, fmt.Errorf("%w: limit must be an integer from 0 to 1000", gateway.ErrInvalid)
		}
	}
	if s := q.Get("offset"); s != "" {
		offset, err = strconv.Atoi(s)
		if err != nil || offset < 0 || offset > 1<<30 {
			return 0, 0, fmt.Errorf("%w: offset must be a non-negative integer", gateway.ErrInvalid)
		}
	}
	return limit, offset, nil
}

type list struct {
	Items any `json:"items"`
	Total int `json:"total"`
}
