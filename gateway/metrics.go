package gateway

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsgate/mmsgate/event"
)

// metrics are named after what they count (MediaMTX style).
type metrics struct {
	g                  *Gateway
	upstreamBytes      *prometheus.CounterVec
	packetsLost        *prometheus.CounterVec
	packetsRecovered   *prometheus.CounterVec
	reconnects         *prometheus.CounterVec
	transcoderRestarts *prometheus.CounterVec
	viewerRequests     *prometheus.CounterVec
	channelsDesc       *prometheus.Desc
	viewersDesc        *prometheus.Desc
}

func newMetrics(g *Gateway, reg prometheus.Registerer) (*metrics, error) {
	cv := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "mmsgate", Name: name, Help: help}, labels)
	}
	m := &metrics{
		g:                  g,
		upstreamBytes:      cv("upstream_bytes_total", "ASF data packet bytes received from upstreams.", "channel"),
		packetsLost:        cv("packets_lost_total", "Data packets reported lost by upstream sessions.", "channel"),
		packetsRecovered:   cv("packets_recovered_total", "Lost data packets recovered by resend.", "channel"),
		reconnects:         cv("reconnects_total", "Upstream reconnect attempts after a session was lost.", "channel"),
		transcoderRestarts: cv("transcoder_restarts_total", "Transcoder (ffmpeg) restarts.", "channel"),
		viewerRequests:     cv("viewer_requests_total", "Media requests by viewers, by output.", "channel", "output"),
		channelsDesc:       prometheus.NewDesc("mmsgate_channels", "Channels by health state.", []string{"state"}, nil),
		viewersDesc:        prometheus.NewDesc("mmsgate_viewers", "Current viewers per channel.", []string{"channel"}, nil),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m, m.upstreamBytes, m.packetsLost, m.packetsRecovered, m.reconnects,
		m.transcoderRestarts, m.viewerRequests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("gateway: metrics: %w", err)
		}
	}
	return m, nil
}

// Describe and Collect make metrics a collector of the gauges that are
// computed at scrape time.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.channelsDesc
	ch <- m.viewersDesc
}

func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	counts := map[State]int{Idle: 0, Starting: 0, Live: 0, Reconnecting: 0, Failed: 0}
	for _, s := range m.g.Statuses() {
		counts[s.State]++
		ch <- prometheus.MustNewConstMetric(m.viewersDesc, prometheus.GaugeValue, float64(s.Viewers), s.Name)
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(m.channelsDesc, prometheus.GaugeValue, float64(n), string(s))
	}
}

// observe turns the client's loss reports into counters. The client reports
// running totals of its session ("so far"), so the counters get the growth
// since the session's previous report; seen holds those totals.
func (m *metrics) observe(channel string, e event.Event, seen map[event.Kind]float64) {
	var c *prometheus.CounterVec
	var n float64
	switch e.Kind {
	case event.Loss:
		// "lost": never arrived, not even by resend; "count": went missing.
		c, n = m.packetsLost, number(e.Fields, "lost", "count")
	case event.Recovered:
		c, n = m.packetsRecovered, number(e.Fields, "count")
	default:
		return
	}
	if d := n - seen[e.Kind]; d > 0 {
		c.WithLabelValues(channel).Add(d)
		seen[e.Kind] = n
	}
}

// number returns the first of keys present in f as a number.
func number(f map[string]any, keys ...string) float64 {
	for _, k := range keys {
		if _, ok := f[k]; ok {
			return count(f, k)
		}
	}
	return 0
}

func count(f map[string]any, key string) float64 {
	switch v := f[key].(type) {
	case int:
		return float64(v)
	case int64:
		return float64(v)
	case uint32:
		return float64(v)
	case uint64:
		return float64(v)
	case float64:
		return v
	}
	return 0
}

// forget drops the series of a deleted channel.
func (m *metrics) forget(channel string) {
	for _, c := range []*prometheus.CounterVec{m.upstreamBytes, m.packetsLost, m.packetsRecovered, m.reconnects,
		m.transcoderRestarts} {
		c.DeleteLabelValues(channel)
	}
	m.viewerRequests.DeletePartialMatch(prometheus.Labels{"channel": channel})
}
