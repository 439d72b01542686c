package gateway

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/store"
)

// TestStopSurvivesRestart: start/stop are stored. An always-on channel
// stopped through the API is not dialled after a restart; an on-demand
// channel started through the API is.
func TestStopSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var dials atomic.Int64
	dialed := make(chan string, 16)
	open := func() (*Gateway, store.Store) {
		st, err := store.OpenSQLite(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(ctx, Config{Store: st, NewPipeline: newRemux, BackoffMin: time.Hour, BackoffActive: time.Hour,
			BackoffIdle: time.Hour,
			Dial: func(ctx context.Context, req DialRequest) (Upstream, error) {
				dials.Add(1)
				select {
				case dialed <- req.Channel.Name:
				default:
				}
				return nil, errors.New("no upstream in this test")
			}})
		if err != nil {
			t.Fatal(err)
		}
		return g, st
	}
	g, st := open()
	if _, err := g.Create(ctx, Channel{Name: "always", URL: "mms://example.com/a", OnDemand: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Create(ctx, Channel{Name: "ondemand", URL: "mms://example.com/b", OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	if err := g.Stop("always"); err != nil {
		t.Fatal(err)
	}
	if err := g.Start("ondemand"); err != nil {
		t.Fatal(err)
	}
	// A configuration change keeps the stop.
	c, _ := g.Get("always")
	c.Language = "en"
	if _, err := g.Update(ctx, c); err != nil {
		t.Fatal(err)
	}
	g.Close(ctx)
	st.Close()
	for len(dialed) > 0 {
		<-dialed
	}

	g, st = open()
	defer st.Close()
	defer g.Close(ctx)
	// The started on-demand channel dials without a viewer; by then the
	// stopped one would have been started too (both start in New).
	select {
	case name := <-dialed:
		if name != "ondemand" {
			t.Fatalf("%s dialled after the restart", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the started on-demand channel was not dialled after the restart")
	}
	s, err := g.Status("always")
	if err != nil {
		t.Fatal(err)
	}
	if !s.Stopped || s.State != Idle {
		t.Fatalf("stopped channel after restart: %+v", s)
	}
	if err := g.Start("always"); err != nil {
		t.Fatal(err)
	}
	select {
	case name := <-dialed:
		if name != "always" {
			t.Fatalf("dialled %s", name)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("started channel not dialled")
	}
}
