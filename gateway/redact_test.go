package gateway

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/mmsgate/mmsgate/event"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor()
	const pw = "hünter2-secret"
	r.Set("ch", "bob", pw)
	basic := base64.StdEncoding.EncodeToString([]byte("bob:" + pw))
	e := r.Event(event.New(event.Auth, "sent Basic "+basic, map[string]any{
		"token": utf16le(pw), "nested": map[string]any{"list": []any{"x" + pw + "y"}}, "n": 3, "strs": []string{pw}}))
	if strings.Contains(e.Message, basic) || e.Fields["token"] != "[redacted]" || e.Fields["n"] != 3 {
		t.Fatalf("%+v", e)
	}
	if got := e.Fields["nested"].(map[string]any)["list"].([]any)[0]; got != "x[redacted]y" {
		t.Fatalf("nested %v", got)
	}
	var buf bytes.Buffer
	log := slog.New(r.Handler(slog.NewJSONHandler(&buf, nil))).With("pw", pw)
	log.Info("login with "+pw, "err", errors.New("bad password "+pw), "b64", base64.StdEncoding.EncodeToString([]byte(pw)),
		slog.Group("g", "inner", pw))
	for _, sp := range Spellings("bob", pw) {
		if strings.Contains(buf.String(), sp) {
			t.Fatalf("log has %q: %s", sp, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Fatalf("nothing redacted: %s", buf.String())
	}
	r.Set("ch", "", "")
	if r.String(pw) != pw {
		t.Fatal("removed secret still redacted")
	}
	r.Set("short", "u", "ab")
	if r.String("tab") != "tab" {
		t.Fatal("short passwords are not redacted (they would blank ordinary words)")
	}
}

func TestRateMeter(t *testing.T) {
	var m rateMeter
	now := timeAt(100)
	for s := 95; s < 100; s++ {
		m.add(timeAt(int64(s)), 1000)
	}
	if got := m.bitsPerSecond(now); got != 8000 {
		t.Fatalf("%d bit/s", got)
	}
	if got := m.bitsPerSecond(timeAt(200)); got != 0 {
		t.Fatalf("stale: %d", got)
	}
}

func timeAt(sec int64) time.Time { return time.Unix(sec, 0) }

func TestLossCounters(t *testing.T) {
	m, err := newMetrics(&Gateway{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[event.Kind]float64{}
	for _, e := range []event.Event{
		event.New(event.Loss, "", map[string]any{"count": uint32(5), "lost": uint32(1)}),
		event.New(event.Recovered, "", map[string]any{"count": uint32(4)}),
		event.New(event.Loss, "", map[string]any{"count": uint32(9), "lost": uint32(3)}),
		event.New(event.Recovered, "", map[string]any{"count": uint32(6)}),
		event.New(event.Loss, "", map[string]any{"count": uint32(9), "lost": uint32(3)}),
	} {
		m.observe("c", e, seen)
	}
	if got := counterValue(m.packetsLost.WithLabelValues("c")); got != 3 {
		t.Errorf("lost %v, want 3 (running totals are not summed)", got)
	}
	if got := counterValue(m.packetsRecovered.WithLabelValues("c")); got != 6 {
		t.Errorf("recovered %v, want 6", got)
	}
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	return m.GetCounter().GetValue()
}
