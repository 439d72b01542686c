// Package app wires the gateway together: store, supervisor, REST API, media
// routes, web UI, metrics, health, and the embedded demo. cmd/gateway calls
// it, and end-to-end tests start it in-process.
package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mmsgate/mmsgate/api"
	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
	"github.com/mmsgate/mmsgate/store"
	"github.com/mmsgate/mmsgate/web"
)

// Config is the gateway's configuration; cmd/gateway fills it from flags
// and MMSGATE_* variables. The zero value (plus a DataDir) is a working
// gateway with the demo.
type Config struct {
	Addr        string // listen address (used by cmd/gateway; New does not listen)
	DataDir     string // SQLite database, API token, demo clip (default "./data")
	DatabaseURL string // PostgreSQL URL; empty: SQLite in DataDir
	APIToken    string // empty: read from DataDir/api-token, generated at first start
	// AllowUpstream lists ranges that upstreams may be in although they are
	// private, loopback or link-local.
	AllowUpstream []netip.Prefix
	Private       bool   // every API read needs the token
	NoDemo        bool   // no embedded demo server and channel
	CORSOrigin    string // Access-Control-Allow-Origin of media routes (default "*")

	Limits        gateway.Limits
	Grace         time.Duration // on-demand stop delay after the last viewer (default 30 s)
	ViewerTimeout time.Duration // an HLS viewer counts this long after its last request (default 15 s)
	KeepSessions  int           // session logs kept per channel (default 50)
	MaxLogEntries int           // events kept per session log (default 5000)
	WaitTimeout   time.Duration // how long a viewer waits for a channel to start (default 20 s)
	FFmpegPath    string        // default "ffmpeg"
	// SegmentDuration is the HLS segment length (default 1 s: an idle
	// on-demand channel plays within about 2 s).
	SegmentDuration time.Duration
	// MMSHPort is the port of the MMSH rung of the protocol rollover of
	// mms:// channel URLs (MS-WMSP over HTTP on the same host, after MMS
	// over UDP and TCP; default 80). The port of an explicit mms://host:port
	// is the MMS port, so the HTTP one is gateway-wide.
	MMSHPort int
	// Resolver resolves upstream host names (nil: the system's); tests
	// point it at a DNS server of their own.
	Resolver *net.Resolver

	Logger *slog.Logger
	// Console receives the one-time notice of a generated API token
	// (default os.Stderr).
	Console io.Writer
}

// App is a running gateway.
type App struct {
	cfg     Config
	log     *slog.Logger
	store   *store.DB
	gw      *gateway.Gateway
	api     *api.API
	handler http.Handler
	token   string
	reg     *prometheus.Registry

	demoMu   sync.Mutex
	demo     *mmsserver.Server
	demoAddr string
	demoName string
	closed   bool
}

// DemoChannelName is the name of the embedded demo channel.
const DemoChannelName = "demo"

// New opens the store, loads the channels and starts their supervisors,
// and, unless NoDemo, starts the embedded demo.
func New(ctx context.Context, cfg Config) (*App, error) {
	if cfg.DataDir == "" {
		cfg.DataDir = "./data"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.SegmentDuration <= 0 {
		cfg.SegmentDuration = time.Second
	}
	if cfg.MMSHPort < 0 || cfg.MMSHPort > 65535 {
		return nil, fmt.Errorf("app: MMSH port %d out of range", cfg.MMSHPort)
	}
	redactor := gateway.NewRedactor()
	if u, err := url.Parse(cfg.DatabaseURL); err == nil && u.User != nil {
		// The database password stays out of the logs like channel passwords
		// ("/" cannot start a channel name, so this entry is never replaced).
		if pw, ok := u.User.Password(); ok {
			redactor.Set("/database", u.User.Username(), pw)
		}
	}
	// Every log line goes through the redactor: no channel password in any
	// encoding reaches the logs, whoever logs it.
	log := slog.New(redactor.Handler(cfg.Logger.Handler()))
	a := &App{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	a.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if err := os.MkdirAll(cfg.DataDir, 0o750); err != nil {
		return nil, fmt.Errorf("app: data directory: %w", err)
	}
	tok, err := a.loadToken()
	if err != nil {
		return nil, err
	}
	a.token = tok

	st, err := store.Open(ctx, cfg.DataDir, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a.store = st

	d := &dialer{demoAddr: a.demoAddress, httpPort: cfg.MMSHPort}
	a.gw, err = gateway.New(ctx, gateway.Config{
		Store:         st,
		Dial:          d.dial,
		NewPipeline:   newPipeline(cfg.FFmpegPath, cfg.Limits.MaxViewers, cfg.SegmentDuration),
		Policy:        gateway.Policy{Allow: cfg.AllowUpstream, Resolver: cfg.Resolver},
		Redactor:      redactor,
		Logger:        log,
		Registerer:    a.reg,
		Limits:        cfg.Limits,
		Grace:         cfg.Grace,
		StartTimeout:  cfg.WaitTimeout,
		ViewerTimeout: cfg.ViewerTimeout,
		KeepSessions:  cfg.KeepSessions,
		MaxLogEntries: cfg.MaxLogEntries,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	a.api, err = api.New(api.Config{Gateway: a.gw, Token: a.token, Private: cfg.Private, CORSOrigin: cfg.CORSOrigin,
		Logger: log, Registerer: a.reg})
	if err != nil {
		a.gw.Close(ctx)
		st.Close()
		return nil, err
	}
	a.handler = a.routes()
	if !cfg.NoDemo {
		if err := a.startDemo(ctx); err != nil {
			// The gateway is useful without its demo (no ffmpeg, say).
			log.Warn("embedded demo not started", "error", err)
		}
	}
	return a, nil
}

// loadToken returns the configured token, or the one stored in the data
// directory, or a new one that it stores and prints once.
func (a *App) loadToken() (string, error) {
	if a.cfg.APIToken != "" {
		return a.cfg.APIToken, nil
	}
	path := filepath.Join(a.cfg.DataDir, "api-token")
	if b, err := os.ReadFile(path); err == nil {
		if t := strings.TrimSpace(string(b)); t != "" {
			return t, nil
		}
	}
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("app: token: %w", err)
	}
	t := hex.EncodeToString(b)
	if err := os.WriteFile(path, []byte(t+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("app: storing the API token: %w", err)
	}
	out := a.cfg.Console
	if out == nil {
		out = os.Stderr
	}
	fmt.Fprintf(out, "mmsgate: generated the API token (stored in %s, shown only now):\n\n    %s\n\n", path, t)
	return t, nil
}

func (a *App) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(a.api.Instrument)
	a.api.Mount(r)
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write([]byte("ok\n"))
	})
	r.Get("/readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain")
		if err := a.gw.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte("not ready: database\n"))
			return
		}
		w.Write([]byte("ok\n"))
	})
	r.Handle("/metrics", promhttp.HandlerFor(a.reg, promhttp.HandlerOpts{}))
	ui := web.Handler()
	for _, p := range []string{"/", "/channel/*", "/embed/*", "/static/*"} {
		r.Handle(p, ui)
	}
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "404 page not found", http.StatusNotFound)
	})
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "405 method not allowed", http.StatusMethodNotAllowed)
	})
	return r
}

// Handler serves every route: /api/v1/..., /hls/{name}/..., /asf/{name},
// the web UI at / and /embed/{name}, /metrics, /healthz, /readyz.
func (a *App) Handler() http.Handler { return a.handler }

// APIToken returns the Bearer token of the API.
func (a *App) APIToken() string { return a.token }

// Gateway returns the core service.
func (a *App) Gateway() *gateway.Gateway { return a.gw }

// DemoChannel returns the demo channel's name, "" without the demo.
func (a *App) DemoChannel() string {
	a.demoMu.Lock()
	defer a.demoMu.Unlock()
	return a.demoName
}

func (a *App) demoAddress() string {
	a.demoMu.Lock()
	defer a.demoMu.Unlock()
	return a.demoAddr
}

// startDemo serves a generated H.264+AAC clip, looped as a live broadcast,
// from an in-process MMS server on loopback, and makes sure the always-on
// demo channel exists.
func (a *App) startDemo(ctx context.Context) error {
	spec := fixture.H264()
	spec.Duration = 10 * time.Second
	gctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	clip, err := fixture.Generate(gctx, filepath.Join(a.cfg.DataDir, "demo"), spec)
	if err != nil {
		return fmt.Errorf("demo clip: %w", err)
	}
	srv := &mmsserver.Server{Logger: a.log.With("component", "demo-server")}
	if err := srv.AddLive("demo", clip); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("demo listener: %w", err)
	}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
			a.log.Debug("demo server stopped", "error", err)
		}
	}()
	a.demoMu.Lock()
	a.demo, a.demoAddr = srv, ln.Addr().String()
	a.demoMu.Unlock()
	c := gateway.Channel{Name: DemoChannelName, URL: "mms://" + demoHost + "/demo", Transport: "tcp",
		Outputs: []string{"hls", "asf"}, Transcode: "auto", OnDemand: false}
	if _, err := a.gw.Get(DemoChannelName); err != nil {
		if _, err := a.gw.Create(ctx, c); err != nil && !errors.Is(err, gateway.ErrConflict) {
			return fmt.Errorf("demo channel: %w", err)
		}
	}
	a.demoMu.Lock()
	a.demoName = DemoChannelName
	a.demoMu.Unlock()
	a.log.Info("embedded demo running", "channel", DemoChannelName, "server", ln.Addr().String())
	return nil
}

// Close stops the gateway: upstream sessions end with CloseFile, pipelines
// and transcoders stop, the demo server shuts down, the store closes.
func (a *App) Close(ctx context.Context) error {
	a.demoMu.Lock()
	if a.closed {
		a.demoMu.Unlock()
		return nil
	}
	a.closed = true
	demo := a.demo
	a.demoMu.Unlock()
	err := a.gw.Close(ctx)
	if demo != nil {
		if derr := demo.Shutdown(ctx); derr != nil && err == nil {
			err = derr
		}
	}
	if serr := a.store.Close(); serr != nil && err == nil {
		err = serr
	}
	return err
}
