package mmsclient

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsh"
)

// isHTTPURL reports whether raw names an MMSH stream (mmsh://, http://,
// https://), which only package mmsh plays.
func isHTTPURL(raw string) bool {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return false
	}
	switch strings.ToLower(u.Scheme) {
	case "mmsh", "http", "https":
		return true
	}
	return false
}

// httpURL is the MMSH rung of an mms:// URL: the same host and path on
// port (80 by default), without credentials.
func httpURL(u *url.URL, port int) string {
	if port == 0 {
		port = 80
	}
	v := *u
	v.Scheme = "mmsh"
	v.User = nil
	v.Host = net.JoinHostPort(u.Hostname(), strconv.Itoa(port))
	return v.String()
}

// dialHTTP plays raw over MMSH. prior holds the attempts and redirects of
// the MMS rungs before it (nil when MMSH is the only rung); a failed MMSH
// attempt is added to it. mmsh reports its own attempt events; its error
// event is held back while it is one rung of several (Dial reports the
// final error itself, as for the MMS rungs).
func dialHTTP(ctx context.Context, raw string, o Options, user, pass string, prior *Stats, only bool) (*Session, error) {
	ev := &rungEvents{f: o.OnEvent}
	ev.dialing.Store(!only)
	var onEvent event.Func
	if o.OnEvent != nil {
		onEvent = ev.emit
	}
	t0 := time.Now()
	h, err := mmsh.Dial(ctx, raw, mmsh.Options{
		Username: user, Password: pass, Bandwidth: o.Bandwidth, MaxBandwidth: o.MaxBandwidth,
		Streams: o.Streams, Language: o.Language, Start: o.Start, MaxRedirects: o.MaxRedirects,
		AllowHost: o.AllowHost, DialContext: o.DialContext, StepTimeout: o.StepTimeout,
		IdleTimeout: o.IdleTimeout, MaxHeaderSize: o.MaxHeaderSize, OnEvent: onEvent, Logger: o.Logger,
	})
	ev.dialing.Store(false)
	if err != nil {
		if prior != nil {
			prior.Attempts = append(prior.Attempts, Attempt{URL: redacted(raw), Transport: TransportHTTP,
				Outcome: "failed", Reason: err.Error(), Duration: time.Since(t0)})
		}
		return nil, err
	}
	s := &Session{h: h, transport: TransportHTTP}
	if prior != nil {
		s.prior = Stats{Attempts: slices.Clone(prior.Attempts), Redirects: slices.Clone(prior.Redirects)}
	}
	return s, nil
}

// redacted drops credentials from a URL for statistics.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// rungEvents passes mmsh's events on, except its error event while Dial
// may still fall back to another rung.
type rungEvents struct {
	f       event.Func
	dialing atomic.Bool
}

func (r *rungEvents) emit(e event.Event) {
	if e.Kind == event.Error && r.dialing.Load() {
		return
	}
	r.f(e)
}

// HTTP returns the MMSH session behind s when it plays over MMSH (for
// what only MMSH has: Metadata, Live, KeepAlive), else nil.
func (s *Session) HTTP() *mmsh.Session { return s.h }

// fromMMSH converts mmsh's statistics (the same fields and JSON names,
// without the UDP loss counters), with the MMS rungs' attempts and
// redirects in front.
func fromMMSH(st mmsh.Stats, prior Stats) Stats {
	out := Stats{URL: st.URL, Transport: st.Transport, ServerVersion: st.ServerVersion,
		AuthScheme: st.AuthScheme, Bandwidth: st.Bandwidth, BandwidthMethod: st.BandwidthMethod, Streams: st.Streams,
		StreamsBitrate: st.StreamsBitrate, HeaderBytes: st.HeaderBytes, Entries: st.Entries,
		PacketsReceived: st.PacketsReceived, BytesReceived: st.BytesReceived, Delivered: st.Delivered,
		StartTime: st.StartTime, Played: st.Played, Elapsed: st.Elapsed, AvgBps: st.AvgBps, Quality: st.Quality,
		EndReason: st.EndReason}
	out.Attempts = slices.Clone(prior.Attempts)
	for _, a := range st.Attempts {
		out.Attempts = append(out.Attempts, Attempt(a))
	}
	out.Redirects = append(slices.Clone(prior.Redirects), st.Redirects...)
	return out
}
