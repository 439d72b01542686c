package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/mmsgate/mmsgate/asx"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/mmsclient"
	"github.com/mmsgate/mmsgate/remux"
)

// demoHost is the host name of the embedded demo server in channel URLs. The
// dialer connects it to the in-process server directly, so the demo needs no
// allow-list exception for loopback.
const demoHost = "mmsgate-demo.invalid"

// dialer adapts mmsclient to gateway.Dialer.
type dialer struct {
	demoAddr func() string // address of the embedded demo server, "" when none
	httpPort int           // MMSH rung of the mms:// rollover (0: 80)
}

func (d *dialer) dial(ctx context.Context, req gateway.DialRequest) (gateway.Upstream, error) {
	c := req.Channel
	opts := mmsclient.Options{
		Transport:    c.Transport,
		Username:     c.Username,
		Password:     c.Password,
		MaxBandwidth: c.MaxBandwidth,
		HTTPPort:     d.httpPort,
		Language:     c.Language,
		AllowHost:    req.AllowHost,
		DialContext:  req.DialContext,
		OnEvent:      req.OnEvent,
		Logger:       req.Logger,
	}
	if c.MMSHPort != 0 {
		opts.HTTPPort = c.MMSHPort // the channel's own MMSH port beats the gateway's
	}
	if c.Transport == "auto" {
		// Try first what worked last (the client's policy tries UDP, TCP,
		// then MMSH; Prefer puts that rung first, the others follow).
		switch req.PreferTransport {
		case mmsclient.TransportUDP, mmsclient.TransportTCP, mmsclient.TransportHTTP:
			opts.Prefer = req.PreferTransport
		}
	}
	if isHTTP(c.URL) {
		up, err := d.dialMetafile(ctx, req, opts)
		if !errors.Is(err, asx.ErrNotMetafile) {
			return up, err
		}
		// Not a metafile: the URL is an MMSH stream.
	}
	return d.dialURL(ctx, c.URL, opts)
}

func isHTTP(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && (strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "https"))
}

// maxMetafile caps an ASX metafile fetched for a channel.
const maxMetafile = 256 << 10

// dialMetafile resolves an ASX/WAX/WVX metafile at an http(s) URL (through
// the upstream policy, size-capped) and plays the first of its references
// that answers, in the metafile's order (issue 9 item 5). A URL whose body is
// not a metafile gives asx.ErrNotMetafile after at most 512 bytes.
func (d *dialer) dialMetafile(ctx context.Context, req gateway.DialRequest, opts mmsclient.Options) (gateway.Upstream, error) {
	res, err := asx.Resolve(ctx, req.Channel.URL, asx.FetchOptions{MaxSize: maxMetafile, AllowHost: req.AllowHost,
		DialContext: req.DialContext})
	if err != nil {
		if errors.Is(err, asx.ErrNotMetafile) {
			return nil, err
		}
		return nil, fmt.Errorf("metafile: %w", err)
	}
	req.OnEvent.Emit(metafileEvent, "ASX metafile", map[string]any{"title": res.Title, "author": res.Author, "refs": len(res.URLs)})
	if opts.Transport == "http" {
		// The channel's transport came from the metafile's http URL; its
		// references choose their own (rollover for mms://).
		opts.Transport = "auto"
	}
	var errs []error
	for i, ref := range res.URLs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		up, err := d.dialURL(ctx, ref, opts)
		if err == nil {
			return &described{Upstream: up, title: res.Title, author: res.Author}, nil
		}
		req.OnEvent.Emit(event.Attempt, "metafile reference failed", map[string]any{"ref": i + 1, "outcome": "failed", "reason": err.Error()})
		errs = append(errs, fmt.Errorf("reference %d: %w", i+1, err))
	}
	return nil, fmt.Errorf("metafile: no reference plays: %w", errors.Join(errs...))
}

// metafileEvent is the session log entry of a resolved metafile.
const metafileEvent event.Kind = "metafile"

// dialURL opens one MMS or MMSH URL.
func (d *dialer) dialURL(ctx context.Context, raw string, opts mmsclient.Options) (gateway.Upstream, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	if opts.AllowHost != nil && !strings.EqualFold(u.Hostname(), demoHost) {
		if err := opts.AllowHost(u.Hostname()); err != nil {
			return nil, err
		}
	}
	if strings.EqualFold(u.Hostname(), demoHost) {
		addr := ""
		if d.demoAddr != nil {
			addr = d.demoAddr()
		}
		if addr == "" {
			return nil, fmt.Errorf("%w: the embedded demo server is not running (the gateway runs with -no-demo or its demo failed to start); delete the channel or restart without -no-demo", gateway.ErrPermanent)
		}
		var nd net.Dialer
		opts.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		}
		// Redirects from the demo server stay under the policy.
	}
	// mmsclient.Dial plays every form: mms:// with its rollover (MMS over
	// UDP, over TCP, then MMSH), mmsu://, mmst://, and mmsh:// or http(s)://
	// through MMSH.
	s, err := mmsclient.Dial(ctx, raw, opts)
	if err != nil {
		return nil, err
	}
	return upstream{s}, nil
}

// described adds a metafile's title and author to an upstream.
type described struct {
	gateway.Upstream
	title, author string
}

func (d *described) Describe() (title, author string) { return d.title, d.author }

type upstream struct{ s *mmsclient.Session }

func (u upstream) HeaderBytes() []byte { return u.s.HeaderBytes() }
func (u upstream) Transport() string   { return u.s.Transport() }
func (u upstream) Bandwidth() int64    { return u.s.Bandwidth() }
func (u upstream) Close() error        { return u.s.Close() }

func (u upstream) Next(ctx context.Context) (gateway.Item, error) {
	it, err := u.s.Next(ctx)
	return gateway.Item{Header: it.Header, Packet: it.Packet}, err
}

// Stats returns the CLIENT_LOG figures as a JSON object.
func (u upstream) Stats() map[string]any { return jsonObject(u.s.Stats()) }

// jsonObject turns a statistics struct into a JSON object.
func jsonObject(v any) map[string]any {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// newPipeline adapts remux to gateway.PipelineFactory.
func newPipeline(ffmpeg string, maxViewers int, segment time.Duration) gateway.PipelineFactory {
	return func(c gateway.Channel, onEvent event.Func, logger *slog.Logger) (gateway.Pipeline, error) {
		has := func(o string) bool {
			for _, x := range c.Outputs {
				if x == o {
					return true
				}
			}
			return false
		}
		p, err := remux.New(remux.Options{
			Outputs:         remux.Outputs{HLS: has("hls"), LLHLS: has("llhls"), ASF: has("asf")},
			Transcode:       c.Transcode,
			SegmentDuration: segment,
			FFmpegPath:      ffmpeg,
			MaxViewers:      maxViewers,
			OnEvent:         onEvent,
			Logger:          logger,
		})
		if err != nil {
			return nil, err
		}
		return &pipeline{Pipeline: p}, nil
	}
}

type pipeline struct {
	*remux.Pipeline
}

// WriteHeader does not fail the session for a content error (an entry
// without HLS: encrypted, unsupported codec): the pipeline has logged it,
// ASF passthrough still carries the entry and the next entry may play; HLS
// viewers are told the reason (Metadata.Error).
func (p *pipeline) WriteHeader(hdr []byte) error {
	err := p.Pipeline.WriteHeader(hdr)
	var ce *remux.ContentError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

func (p *pipeline) Metadata() gateway.Metadata {
	m := p.Pipeline.Metadata()
	out := gateway.Metadata{Title: m.Title, Author: m.Author, Copyright: m.Copyright, Description: m.Description,
		NowPlaying: m.NowPlaying, Bitrate: int64(m.Bitrate), Mode: m.Mode, Error: m.Error}
	for _, s := range m.Streams {
		out.Streams = append(out.Streams, s.Type+" "+s.Codec)
	}
	return out
}
