package app

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

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
}

func (d *dialer) dial(ctx context.Context, req gateway.DialRequest) (gateway.Upstream, error) {
	c := req.Channel
	opts := mmsclient.Options{
		Transport:    c.Transport,
		Username:     c.Username,
		Password:     c.Password,
		MaxBandwidth: c.MaxBandwidth,
		Language:     c.Language,
		AllowHost:    req.AllowHost,
		DialContext:  req.DialContext,
		OnEvent:      req.OnEvent,
		Logger:       req.Logger,
	}
	switch c.Transport {
	case "auto":
		// Try first what worked last (the client's own policy tries UDP
		// then TCP; a preference for TCP skips the UDP wait).
		if req.PreferTransport == mmsclient.TransportTCP {
			opts.Transport = mmsclient.TransportTCP
		}
	case "http":
		return nil, errors.New("MMSH (http transport) is not supported by the client yet")
	}
	raw := c.URL
	if u, err := url.Parse(raw); err == nil && strings.EqualFold(u.Hostname(), demoHost) {
		addr := ""
		if d.demoAddr != nil {
			addr = d.demoAddr()
		}
		if addr == "" {
			return nil, errors.New("the embedded demo server is not running")
		}
		var nd net.Dialer
		opts.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
			return nd.DialContext(ctx, network, addr)
		}
		// Redirects from the demo server stay under the policy.
	}
	s, err := mmsclient.Dial(ctx, raw, opts)
	if err != nil {
		return nil, err
	}
	return upstream{s}, nil
}

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
func (u upstream) Stats() map[string]any {
	b, err := json.Marshal(u.s.Stats())
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
