// Command gateway runs mmsgate: legacy mms:// streams served as HLS and
// progressive ASF, with a REST API, session logs, metrics and a web UI.
//
// Every flag can also be set with an environment variable: -max-viewers is
// MMSGATE_MAX_VIEWERS, and so on (flags win over the environment).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mmsgate/mmsgate/app"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// options are the flags; envName maps each to its MMSGATE_ variable.
type options struct {
	addr, data, databaseURL, token, allow, cors, logLevel, ffmpeg string
	private, noDemo                                               bool
	maxChannels, maxUpstreams, maxTranscoders, maxViewers         int
	keepSessions, maxLogEntries, mmshPort                         int
	grace, wait, shutdown, segment                                time.Duration
}

func envName(flagName string) string {
	return "MMSGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

func parse(args []string, getenv func(string) string, out io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("gateway", flag.ContinueOnError)
	fs.SetOutput(out)
	fs.StringVar(&o.addr, "addr", ":8080", "listen address for HTTP (API, media, UI, metrics)")
	fs.StringVar(&o.data, "data", "./data", "data directory: SQLite database, API token, demo clip")
	fs.StringVar(&o.databaseURL, "database-url", "", "PostgreSQL URL (postgres://...); empty: SQLite in the data directory")
	fs.StringVar(&o.token, "api-token", "", "Bearer token for API writes; empty: generated at first start and kept in the data directory")
	fs.StringVar(&o.allow, "allow-upstream", "", "comma-separated CIDR ranges that upstreams may be in although private, loopback or link-local")
	fs.BoolVar(&o.private, "private", false, "every API read needs the token (default: names, states and metadata are public)")
	fs.BoolVar(&o.noDemo, "no-demo", false, "do not start the embedded demo server and channel (a demo channel kept from an earlier run fails with the reason, untried until a viewer comes, or delete it)")
	fs.StringVar(&o.cors, "cors-origin", "*", "Access-Control-Allow-Origin of the media routes")
	fs.IntVar(&o.maxChannels, "max-channels", 1000, "maximum configured channels (0: no limit)")
	fs.IntVar(&o.maxUpstreams, "max-upstreams", 100, "maximum concurrently active upstream sessions (0: no limit)")
	fs.IntVar(&o.maxTranscoders, "max-transcoders", 4, "maximum channels transcoding at once (0: no limit)")
	fs.IntVar(&o.maxViewers, "max-viewers", 1000, "maximum viewers per channel (0: no limit)")
	fs.DurationVar(&o.grace, "grace", 30*time.Second, "on-demand channels stop this long after their last viewer")
	fs.DurationVar(&o.wait, "start-timeout", 20*time.Second, "how long a viewer waits for a channel to start")
	fs.IntVar(&o.keepSessions, "keep-sessions", 50, "session logs kept per channel")
	fs.IntVar(&o.maxLogEntries, "max-log-entries", 5000, "events kept per session log")
	fs.DurationVar(&o.segment, "segment-duration", time.Second, "HLS segment length")
	fs.IntVar(&o.mmshPort, "mmsh-port", 80, "port of the MMSH (HTTP) rung of the mms:// rollover, tried when MMS over UDP and TCP both fail")
	fs.StringVar(&o.ffmpeg, "ffmpeg", "ffmpeg", "ffmpeg binary for transcoding")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.DurationVar(&o.shutdown, "shutdown-timeout", 15*time.Second, "how long a graceful shutdown may take")
	fs.Usage = func() {
		fmt.Fprintf(out, "Usage: gateway [flags]\n\nServes legacy mms:// streams as HLS and progressive ASF.\n"+
			"Every flag can also be set in the environment as MMSGATE_<FLAG> (e.g. -max-viewers: MMSGATE_MAX_VIEWERS);\n"+
			"flags win over the environment.\n\nFlags:\n")
		fs.VisitAll(func(f *flag.Flag) {
			fmt.Fprintf(out, "  -%s (%s)\n    \t%s (default %q)\n", f.Name, envName(f.Name), f.Usage, f.DefValue)
		})
	}
	// The environment first, as defaults that flags override.
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envName(f.Name)); v != "" && envErr == nil {
			if err := f.Value.Set(v); err != nil {
				envErr = fmt.Errorf("%s: %w", envName(f.Name), err)
			}
		}
	})
	if envErr != nil {
		return nil, envErr
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return &o, nil
}

func (o *options) config(log *slog.Logger) (app.Config, error) {
	cfg := app.Config{Addr: o.addr, DataDir: o.data, DatabaseURL: o.databaseURL, APIToken: o.token,
		Private: o.private, NoDemo: o.noDemo, CORSOrigin: o.cors, Grace: o.grace, WaitTimeout: o.wait,
		KeepSessions: o.keepSessions, MaxLogEntries: o.maxLogEntries, FFmpegPath: o.ffmpeg, Logger: log,
		SegmentDuration: o.segment, MMSHPort: o.mmshPort}
	cfg.Limits.MaxChannels, cfg.Limits.MaxUpstreams = o.maxChannels, o.maxUpstreams
	cfg.Limits.MaxTranscoders, cfg.Limits.MaxViewers = o.maxTranscoders, o.maxViewers
	for _, s := range strings.Split(o.allow, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return cfg, fmt.Errorf("-allow-upstream: %q is not a CIDR range", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		cfg.AllowUpstream = append(cfg.AllowUpstream, p.Masked())
	}
	return cfg, nil
}

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	o, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return fmt.Errorf("-log-level: %w", err)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := o.config(log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	a, err := app.New(ctx, cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		a.Close(context.Background())
		return err
	}
	srv := &http.Server{Handler: a.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 120 * time.Second,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	log.Info("mmsgate listening", "addr", ln.Addr().String(), "demo", a.DemoChannel())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		a.Close(context.Background())
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), o.shutdown)
	defer cancel()
	// Stop the gateway first: upstream sessions end with CloseFile and the
	// transcoders stop, which also ends streaming viewers; then HTTP.
	err = a.Close(sctx)
	if herr := srv.Shutdown(sctx); herr != nil && err == nil {
		err = herr
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}
