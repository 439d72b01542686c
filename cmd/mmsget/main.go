// Command mmsget downloads an mms:// stream into an ASF file and reports
// what happened on the way, the way people use mimms:
//
//	mmsget [-transport auto|udp|tcp|http] [-http-port 80] [-o out.asf] [-duration 30s] [-bandwidth BPS]
//	       [-streams 1,2] [-lang en] [-start 10s] [-user U -password P] [-stats stats.json] URL
//
// URL is mms:// (protocol rollover with -transport auto: MMS over UDP, MMS
// over TCP, then MMSH on -http-port), mmsu://, mmst://, mmsh:// or http(s)://
// (MMSH), or an http(s):// link to an ASX/WAX/WVX metafile, whose
// references are tried in order (each with rollover).
//
// The file holds the ASF header and every data packet, restored to the
// file's packet size, so ffprobe and players open it. A server-side
// playlist writes one file per entry (out.asf, out.2.asf, ...). Progress
// goes to stderr when it is a terminal; -stats writes the session's figures
// (attempts, packets received, lost, recovered, bandwidth, streams, bytes,
// redirects) as JSON.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/asx"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsclient"
)

type config struct {
	transport  string
	httpPort   int
	out        string
	duration   time.Duration
	bandwidth  int64
	streams    []uint16
	lang       string
	start      time.Duration
	user, pass string
	stats      string
	udpTimeout time.Duration
	quiet      bool
	verbose    bool
	url        string
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs := flag.NewFlagSet("mmsget", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &config{}
	var streams string
	fs.StringVar(&c.transport, "transport", "auto", "Data transport: auto (UDP, TCP, then MMSH), udp, tcp or http (MMSH)")
	fs.IntVar(&c.httpPort, "http-port", 80, "port of the MMSH rung for mms:// URLs (-transport auto or http)")
	fs.StringVar(&c.out, "o", "", "output ASF file (default: the URL's file name; - for stdout)")
	fs.DurationVar(&c.duration, "duration", 0, "stop after this much content (0: until the end)")
	fs.Int64Var(&c.bandwidth, "bandwidth", 0, "link bandwidth in bit/s for stream selection (0: packet-pair estimate)")
	fs.StringVar(&streams, "streams", "", "comma-separated stream numbers to receive (default: chosen by bandwidth)")
	fs.StringVar(&c.lang, "lang", "", "preferred language, e.g. en or de-DE")
	fs.DurationVar(&c.start, "start", 0, "start position")
	fs.StringVar(&c.user, "user", "", "user name (Basic or NTLM; DOMAIN\\user for NTLM domains)")
	fs.StringVar(&c.pass, "password", "", "password")
	fs.StringVar(&c.stats, "stats", "", "write JSON statistics to this file (- for stdout)")
	fs.DurationVar(&c.udpTimeout, "udp-timeout", 3*time.Second, "fall back to TCP when no UDP Data arrives within this time")
	fs.BoolVar(&c.quiet, "q", false, "no progress")
	fs.BoolVar(&c.verbose, "v", false, "log every protocol event to stderr")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: mmsget [flags] mms://host[:port]/path | mmsh://... | http://.../file.asx\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return nil, errors.New("exactly one URL is needed")
	}
	c.url = fs.Arg(0)
	switch c.transport {
	case "auto", "udp", "tcp", "http":
	default:
		return nil, fmt.Errorf("-transport %q: want auto, udp, tcp or http", c.transport)
	}
	if c.httpPort <= 0 || c.httpPort > 65535 {
		return nil, fmt.Errorf("-http-port %d: want 1..65535", c.httpPort)
	}
	if streams != "" {
		for _, f := range strings.Split(streams, ",") {
			n, err := strconv.ParseUint(strings.TrimSpace(f), 10, 7)
			if err != nil || n == 0 {
				return nil, fmt.Errorf("-streams: bad stream number %q (1..127)", f)
			}
			c.streams = append(c.streams, uint16(n))
		}
	}
	if c.bandwidth < 0 || c.duration < 0 || c.start < 0 {
		return nil, errors.New("-bandwidth, -duration and -start must not be negative")
	}
	if c.out == "" {
		c.out = defaultOutput(c.url)
	}
	return c, nil
}

// defaultOutput names the file after the URL's last path element.
func defaultOutput(raw string) string {
	base := filepath.Base(strings.SplitN(strings.SplitN(raw, "?", 2)[0], "#", 2)[0])
	if base == "" || base == "." || base == "/" || strings.Contains(base, ":") {
		base = "stream"
	}
	switch strings.ToLower(filepath.Ext(base)) {
	case ".asx", ".wax", ".wvx", ".wmx": // a metafile: name the stream, not it
		base = strings.TrimSuffix(base, filepath.Ext(base))
	}
	if ext := strings.ToLower(filepath.Ext(base)); ext != ".asf" && ext != ".wmv" && ext != ".wma" {
		base += ".asf"
	}
	return base
}

func main() {
	c, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "mmsget:", err)
		os.Exit(2)
	}
	// Packets are short-lived and the heap stays small: collect less often.
	debug.SetGCPercent(400)
	// MMSGET_CPUPROFILE=file writes a CPU profile (for bench/ingest work).
	if path := os.Getenv("MMSGET_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mmsget:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, c *config, stdout, stderr io.Writer) error {
	logger := slog.New(slog.DiscardHandler)
	var onEvent event.Func
	if c.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
		onEvent = func(e event.Event) {
			fmt.Fprintf(stderr, "%s %-12s %s\n", e.Time.Format("15:04:05.000"), e.Kind, e.Message)
		}
	}
	opts := mmsclient.Options{
		Transport: c.transport, HTTPPort: c.httpPort, UDPTimeout: c.udpTimeout, Username: c.user, Password: c.pass,
		Bandwidth: c.bandwidth, Streams: c.streams, Language: c.lang, Start: c.start,
		OnEvent: onEvent, Logger: logger,
	}
	rep := &report{}
	s, err := dial(ctx, c.url, opts, rep, stderr, c.verbose)
	if err != nil {
		return err
	}
	dlErr := download(ctx, s, c, stdout, stderr)
	s.Close()
	if c.stats != "" {
		rep.Stats = s.Stats()
		if err := writeStats(c.stats, rep, stdout); err != nil && dlErr == nil {
			dlErr = err
		}
	}
	return dlErr
}

// report is the JSON statistics: the session's, plus the metafile the URL
// named, if any, and its references that failed.
type report struct {
	mmsclient.Stats
	Metafile string      `json:"metafile,omitempty"`
	Title    string      `json:"title,omitempty"`
	Author   string      `json:"author,omitempty"`
	Refs     []refResult `json:"refs,omitempty"`
}

type refResult struct {
	URL   string `json:"url"`
	Error string `json:"error,omitempty"`
}

// dial plays raw; an http(s) URL is first fetched as an ASX metafile
// (issue 9 item 5) whose references are tried in order, each with the
// transport policy's rollover. An http(s) URL whose body is not a
// metafile is an MMSH stream.
func dial(ctx context.Context, raw string, opts mmsclient.Options, rep *report, stderr io.Writer, verbose bool) (*mmsclient.Session, error) {
	if !isHTTP(raw) {
		return mmsclient.Dial(ctx, raw, opts)
	}
	res, err := asx.Resolve(ctx, raw, asx.FetchOptions{})
	if errors.Is(err, asx.ErrNotMetafile) {
		return mmsclient.Dial(ctx, raw, opts)
	}
	if err != nil {
		return nil, err
	}
	rep.Metafile, rep.Title, rep.Author = raw, res.Title, res.Author
	if verbose {
		fmt.Fprintf(stderr, "metafile %q by %q: %d references\n", res.Title, res.Author, len(res.URLs))
	}
	var errs []error
	for i, ref := range res.URLs {
		s, err := mmsclient.Dial(ctx, ref, opts)
		if err == nil {
			rep.Refs = append(rep.Refs, refResult{URL: ref})
			return s, nil
		}
		rep.Refs = append(rep.Refs, refResult{URL: ref, Error: err.Error()})
		if verbose {
			fmt.Fprintf(stderr, "reference %d (%s) failed: %v\n", i+1, ref, err)
		}
		errs = append(errs, fmt.Errorf("reference %d (%s): %w", i+1, ref, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("metafile %s: no reference plays: %w", raw, errors.Join(errs...))
}

func isHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https"))
}

// output is one ASF file being written.
type output struct {
	f       *os.File
	bw      *bufio.Writer
	w       io.Writer
	header  []byte
	packets uint64
	pktSize int
}

func create(path string, header []byte, stdout io.Writer) (*output, error) {
	o := &output{header: header}
	if path == "-" {
		o.w = stdout
	} else {
		f, err := os.Create(path)
		if err != nil {
			return nil, err
		}
		o.f, o.bw = f, bufio.NewWriterSize(f, 256<<10)
		o.w = o.bw
	}
	if h, err := asf.ParseHeader(header); err == nil {
		o.pktSize = h.PacketSize()
	}
	_, err := o.w.Write(header)
	return o, err
}

func (o *output) write(pkt []byte) error {
	o.packets++
	_, err := o.w.Write(pkt)
	return err
}

// finish makes the counts in the header match what was written, so that a
// partial download is a well-formed file (ASF 3.2, 5.1).
func (o *output) finish() error {
	if o.f == nil {
		if f, ok := o.w.(interface{ Flush() error }); ok {
			return f.Flush()
		}
		return nil
	}
	defer o.f.Close()
	if err := o.bw.Flush(); err != nil {
		return err
	}
	h, err := asf.ParseHeader(o.header)
	if err != nil || len(o.header) < len(h.Raw)+asf.DataObjectHeaderSize || o.pktSize == 0 {
		return nil // not ours to fix
	}
	dataSize := uint64(asf.DataObjectHeaderSize) + o.packets*uint64(o.pktSize)
	if !h.FileProperties.Broadcast {
		h.FileProperties.DataPacketsCount = o.packets
		h.FileProperties.FileSize = uint64(len(h.Raw)) + dataSize
	}
	raw := h.Marshal()
	if len(raw) != len(h.Raw) {
		return nil
	}
	data := make([]byte, asf.DataObjectHeaderSize)
	copy(data, o.header[len(h.Raw):])
	putLE64(data[16:], dataSize)
	putLE64(data[40:], o.packets)
	if _, err := o.f.WriteAt(raw, 0); err != nil {
		return err
	}
	_, err = o.f.WriteAt(data, int64(len(raw)))
	return err
}

func putLE64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (8 * i))
	}
}

func entryPath(base string, n int) string {
	if n == 1 || base == "-" {
		return base
	}
	ext := filepath.Ext(base)
	return fmt.Sprintf("%s.%d%s", strings.TrimSuffix(base, ext), n, ext)
}

func download(ctx context.Context, s *mmsclient.Session, c *config, stdout, stderr io.Writer) error {
	out, err := create(c.out, s.HeaderBytes(), stdout)
	if err != nil {
		return err
	}
	entry := 1
	prog := newProgress(stderr, c.quiet || c.out == "-")
	defer prog.done(s)
	for {
		if c.duration > 0 && out.packets%16 == 0 && s.Played() >= c.duration {
			break
		}
		it, err := s.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			out.finish()
			return err
		}
		if it.Header != nil {
			if err := out.finish(); err != nil {
				return err
			}
			entry++
			if out, err = create(entryPath(c.out, entry), it.Header, stdout); err != nil {
				return err
			}
			continue
		}
		if err := out.write(it.Packet); err != nil {
			return err
		}
		s.Recycle(it.Packet) // written (copied into the buffered writer)
		prog.update(s)
	}
	return out.finish()
}

func writeStats(path string, st *report, stdout io.Writer) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if path == "-" {
		_, err = stdout.Write(b)
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// progress prints one status line, rewritten in place, when stderr is a terminal.
type progress struct {
	w    io.Writer
	on   bool
	last time.Time
}

func newProgress(w io.Writer, quiet bool) *progress {
	on := false
	if f, ok := w.(*os.File); ok && !quiet {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			on = true
		}
	}
	return &progress{w: w, on: on}
}

func (p *progress) update(s *mmsclient.Session) {
	if !p.on || time.Since(p.last) < 250*time.Millisecond {
		return
	}
	p.last = time.Now()
	st := s.Stats()
	fmt.Fprintf(p.w, "\r%s %8.1fs %6d packets %8.1f KiB %6.0f kbit/s lost %d recovered %d   ",
		strings.ToUpper(st.Transport), st.Played.Seconds(), st.Delivered, float64(st.BytesReceived)/1024,
		float64(st.AvgBps)/1000, st.Lost, st.Recovered)
}

func (p *progress) done(s *mmsclient.Session) {
	if p.on {
		p.last = time.Time{}
		p.update(s)
		fmt.Fprintln(p.w)
	}
}
