// Command mmsd is an MMS server (MS-MMSP): it serves ASF, WMV and WMA files,
// files looped as live broadcasts and server-side playlists to MMS clients
// such as Windows Media Player, FFmpeg (mmst://) and VLC (mmst://, mmsu://),
// and with -http-addr the same content over MMSH (MS-WMSP; mmsh://).
//
//	mmsd -addr 127.0.0.1:1755 -dir ./media
//	mmsd -dir ./media -live news=./media/news.wmv -playlist show=a.wmv,b.wmv
//	mmsd -dir ./media -http-addr 127.0.0.1:8081
//
// Run mmsd -help for every flag.
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
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/mmsgate/mmsgate/mmsserver"
)

// pairs is a repeatable NAME=VALUE flag.
type pairs []string

func (p *pairs) String() string { return strings.Join(*p, " ") }
func (p *pairs) Set(v string) error {
	if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
		return fmt.Errorf("want NAME=VALUE, got %q", v)
	}
	*p = append(*p, v)
	return nil
}

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("mmsd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		addr      = fs.String("addr", "127.0.0.1:1755", "TCP `address` to listen on; resend requests are read on the UDP port of the same number")
		httpAddr  = fs.String("http-addr", "", "also serve the same content over MMSH (MS-WMSP, mmsh:// and http://) on this TCP `address`, e.g. 127.0.0.1:8081; empty: off")
		dir       = fs.String("dir", "", "serve every ASF, WMV and WMA file below `DIR` at mms://host:port/<relative path>")
		lives     pairs
		lists     pairs
		redirects pairs
		user      = fs.String("user", "", "require authentication with this user `name`")
		password  = fs.String("password", "", "the `password` for -user")
		authMode  = fs.String("auth", "basic", "authentication `scheme` when -user is set: basic or ntlm")
		dropUDP   = fs.Float64("drop-udp", 0, "drop this `fraction` (0..1) of outgoing UDP Data packets (fault injection; clients recover them with resend requests)")
		rate      = fs.Float64("rate", 1, "pacing `factor`: 1 = real time, 2 = twice as fast, 0 = as fast as the client reads (files only; live broadcasts then run in real time)")
		fastStart = fs.Duration("fast-start", 3*time.Second, "media `duration` sent without pacing at the start of each play")
		strip     = fs.String("strip-padding", "multi", "remove ASF Padding Data (MS-MMSP 2.2.2) from: `multi` (packets with several payloads; safe for every client), all (every packet, as 2.2.2 says; corrupts single-payload packets in FFmpeg and VLC) or none")
		endIdle   = fs.Duration("end-timeout", mmsserver.DefaultEndIdleTimeout, "close a session this long after the last entry ended if the client sends nothing (MS-MMSP 3.2.2 Idle-Timeout; FFmpeg keeps waiting after EndOfStream)")
		maxConns  = fs.Int("max-conns", mmsserver.DefaultMaxConns, "maximum concurrent `connections`")
		logLevel  = fs.String("log-level", "info", "log `level`: debug, info, warn or error")
		logJSON   = fs.Bool("log-json", false, "log in JSON instead of text")
	)
	fs.Var(&lives, "live", "serve `NAME=FILE` looped as a live broadcast at mms://host:port/NAME (repeatable)")
	fs.Var(&lists, "playlist", "serve `NAME=FILE1,FILE2,...` as a server-side playlist at mms://host:port/NAME (repeatable)")
	fs.Var(&redirects, "redirect", "redirect clients asking for `FROM=URL` (path FROM) to URL, e.g. old.wmv=mms://other/new.wmv (repeatable)")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: mmsd [flags]\n\nmmsd is an MMS (MS-MMSP) server for ASF content: files, live broadcasts\nand server-side playlists, with Data packets over TCP or UDP, and with\n-http-addr the same content over MMSH (MS-WMSP).\nSIGINT or SIGTERM stop it cleanly.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintln(stderr, "mmsd: -log-level:", err)
		return 2
	}
	var h slog.Handler = slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})
	if *logJSON {
		h = slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level})
	}
	log := slog.New(h)

	srv := &mmsserver.Server{
		Dir:            *dir,
		Logger:         log,
		DropUDP:        *dropUDP,
		Rate:           *rate,
		Unpaced:        *rate == 0,
		FastStart:      *fastStart,
		StripPadding:   *strip,
		MaxConns:       *maxConns,
		EndIdleTimeout: *endIdle,
		Redirects:      map[string]string{},
	}
	if err := check(*strip, *authMode, *dropUDP, *rate); err != nil {
		fmt.Fprintln(stderr, "mmsd:", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintln(stderr, "mmsd: unexpected arguments:", fs.Args())
		return 2
	}
	if *user != "" {
		srv.Auth = &mmsserver.Auth{Scheme: *authMode, Username: *user, Password: *password}
	}
	for _, p := range redirects {
		from, to, _ := strings.Cut(p, "=")
		srv.Redirects[strings.TrimPrefix(from, "/")] = to
	}
	for _, p := range lives {
		name, file, _ := strings.Cut(p, "=")
		if err := srv.AddLive(name, file); err != nil {
			fmt.Fprintln(stderr, "mmsd:", err)
			return 1
		}
	}
	for _, p := range lists {
		name, files, _ := strings.Cut(p, "=")
		if err := srv.AddPlaylist(name, strings.Split(files, ",")...); err != nil {
			fmt.Fprintln(stderr, "mmsd:", err)
			return 1
		}
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)  // MMS
	herrc := make(chan error, 1) // MMSH
	go func() { errc <- srv.ListenAndServe(*addr) }()
	var hs *http.Server
	if *httpAddr != "" {
		ln, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintln(stderr, "mmsd: -http-addr:", err)
			srv.Shutdown(context.Background())
			return 1
		}
		hs = &http.Server{Handler: srv.HTTPHandler(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(h, slog.LevelWarn)}
		log.Info("mmsd MMSH listening", "addr", ln.Addr().String())
		go func() { herrc <- hs.Serve(ln) }()
	}
	select {
	case err := <-errc:
		log.Error("serve", "err", err)
		return 1
	case err := <-herrc:
		log.Error("serve MMSH", "err", err)
		srv.Shutdown(context.Background())
		return 1
	case <-ctx.Done():
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	code := 0
	if err := srv.Shutdown(sctx); err != nil { // also ends MMSH plays
		log.Error("shutdown", "err", err)
		code = 1
	}
	if hs != nil {
		if err := hs.Shutdown(sctx); err != nil {
			log.Error("MMSH shutdown", "err", err)
			hs.Close()
			code = 1
		}
		<-herrc
	}
	<-errc
	return code
}

func check(strip, auth string, drop, rate float64) error {
	switch strip {
	case mmsserver.StripMulti, mmsserver.StripAll, mmsserver.StripNone:
	default:
		return fmt.Errorf("-strip-padding %q: want multi, all or none", strip)
	}
	switch auth {
	case "basic", "ntlm":
	default:
		return fmt.Errorf("-auth %q: want basic or ntlm", auth)
	}
	if drop < 0 || drop > 1 {
		return fmt.Errorf("-drop-udp %v: want 0..1", drop)
	}
	if rate < 0 {
		return fmt.Errorf("-rate %v: want >= 0", rate)
	}
	return nil
}
