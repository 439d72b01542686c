package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/remux"
	"github.com/mmsgate/mmsgate/store"
)

// remuxPipeline adapts a real remux.Pipeline (the production one is in app).
type remuxPipeline struct{ *remux.Pipeline }

func (p remuxPipeline) Metadata() Metadata {
	m := p.Pipeline.Metadata()
	return Metadata{Title: m.Title, NowPlaying: m.NowPlaying}
}

func newRemux(c Channel, onEvent event.Func, logger *slog.Logger) (Pipeline, error) {
	p, err := remux.New(remux.Options{OnEvent: onEvent, Logger: logger})
	if err != nil {
		return nil, err
	}
	return remuxPipeline{p}, nil
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestRetentionAndBackoff: an always-on channel whose upstream refuses
// connections is retried with backoff, fails with the reason, and keeps
// only the newest session logs, each cut at the entry limit.
func TestRetentionAndBackoff(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	addr := closedPort(t)
	dials := make(chan time.Time, 100)
	g, err := New(ctx, Config{Store: st, NewPipeline: newRemux,
		Policy:     Policy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		BackoffMin: 20 * time.Millisecond, BackoffActive: 160 * time.Millisecond, KeepSessions: 3, MaxLogEntries: 5,
		Dial: func(ctx context.Context, req DialRequest) (Upstream, error) {
			for i := 0; i < 20; i++ {
				req.OnEvent.Emit(event.Attempt, fmt.Sprintf("attempt step %d", i), nil)
			}
			select {
			case dials <- time.Now():
			default:
			}
			c, err := req.DialContext(ctx, "tcp", addr)
			if err == nil {
				c.Close()
				return nil, fmt.Errorf("unexpected listener at %s", addr)
			}
			return nil, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	if _, err := g.Create(ctx, Channel{Name: "down", URL: "mms://example.com/x"}); err != nil {
		t.Fatal(err)
	}
	// Always-on: the channel starts by itself.
	var times []time.Time
	for len(times) < 8 {
		select {
		case at := <-dials:
			times = append(times, at)
		case <-time.After(20 * time.Second):
			t.Fatalf("only %d dials", len(times))
		}
	}
	// The gaps reach the cap and stay near it (with slack for a loaded
	// machine): the timer never fires early.
	if last := times[7].Sub(times[6]); last < 150*time.Millisecond || last > 3*time.Second {
		t.Errorf("backoff gap after 7 failures: %v, want about 160ms", last)
	}
	stt, _ := g.Status("down")
	for deadline := time.Now().Add(10 * time.Second); stt.State != Failed && time.Now().Before(deadline); {
		time.Sleep(5 * time.Millisecond)
		stt, _ = g.Status("down")
	}
	if stt.State != Failed || !strings.Contains(stt.Reason, "refused") {
		t.Errorf("status %+v", stt)
	}
	g.Close(ctx)
	sessions, total, err := st.ListSessions(ctx, "down", 100, 0)
	if err != nil {
		t.Fatal(err)
	}
	if total > 4 || total < 3 {
		t.Errorf("%d sessions kept, want the newest 3 (+1 pruned at the next start)", total)
	}
	for _, s := range sessions {
		if s.Outcome == "running" {
			continue
		}
		if s.Outcome != "failed" || !strings.Contains(s.Reason, "refused") {
			t.Errorf("session %+v", s)
		}
		entries, err := st.SessionLog(ctx, s.ID, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 6 || entries[5].Kind != "truncated" {
			t.Errorf("session %d has %d entries (want 5 and a truncation note): %+v", s.ID, len(entries), entries)
		}
	}
}

// TestViewerShortensBackoff: an on-demand channel that failed without
// viewers waits BackoffIdle, but a viewer arriving cuts the wait to
// BackoffActive.
func TestViewerShortensBackoff(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dials := make(chan struct{}, 100)
	first := true
	g, err := New(ctx, Config{Store: st, NewPipeline: newRemux, Grace: time.Hour, ViewerTimeout: time.Millisecond,
		BackoffMin: time.Hour, BackoffActive: 50 * time.Millisecond, BackoffIdle: time.Hour,
		Dial: func(ctx context.Context, req DialRequest) (Upstream, error) {
			dials <- struct{}{}
			if first {
				// Fail only after the first viewer has given up.
				first = false
				time.Sleep(300 * time.Millisecond)
			}
			return nil, fmt.Errorf("upstream down")
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	if _, err := g.Create(ctx, Channel{Name: "od", URL: "mms://example.com/x", OnDemand: true}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	if _, err := g.Watch(wctx, "od", "hls", "k1", false); err == nil {
		t.Fatal("watch of a channel that cannot start succeeded")
	}
	cancel()
	<-dials
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s, _ := g.Status("od"); s.State == Failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// No viewer: the channel sleeps its idle backoff (an hour).
	select {
	case <-dials:
		t.Fatal("retried without a viewer")
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	g.Watch(ctx, "od", "hls", "k2", false)
	select {
	case <-dials:
		t.Logf("retried %v after the viewer came", time.Since(start))
	case <-time.After(10 * time.Second):
		t.Fatal("a viewer did not shorten the backoff")
	}
}

// TestConcurrentOperations runs creates, updates, deletes, starts, stops,
// watches and status reads at once (under -race in CI), then closes the
// gateway: no deadlock, no race, every supervisor gone.
func TestConcurrentOperations(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, err := New(ctx, Config{Store: st, NewPipeline: newRemux, BackoffMin: time.Millisecond, BackoffActive: 5 * time.Millisecond,
		BackoffIdle: 10 * time.Millisecond, Grace: 10 * time.Millisecond, ViewerTimeout: 10 * time.Millisecond,
		StartTimeout: 50 * time.Millisecond,
		Dial: func(ctx context.Context, req DialRequest) (Upstream, error) {
			req.OnEvent.Emit(event.Attempt, "try", nil)
			return nil, fmt.Errorf("down")
		}})
	if err != nil {
		t.Fatal(err)
	}
	sub, cancelSub := g.Subscribe()
	go func() {
		for range sub {
		}
	}()
	deadline := time.Now().Add(2 * time.Second)
	done := make(chan struct{})
	for w := 0; w < 8; w++ {
		go func() {
			defer func() { done <- struct{}{} }()
			for i := 0; time.Now().Before(deadline); i++ {
				name := fmt.Sprintf("c%d", (w+i)%4)
				switch i % 7 {
				case 0:
					g.Create(ctx, Channel{Name: name, URL: "mms://example.com/" + name, OnDemand: i%2 == 0})
				case 1:
					g.Update(ctx, Channel{Name: name, URL: "mmst://example.com/" + name, Password: "pw-123"})
				case 2:
					g.Delete(ctx, name)
				case 3:
					g.Start(name)
				case 4:
					g.Stop(name)
				case 5:
					if v, err := g.Watch(ctx, name, "hls", fmt.Sprint(w), i%3 == 0); err == nil {
						v.Release()
					}
				case 6:
					g.Statuses()
					g.Sessions(ctx, name, 10, 0)
				}
			}
		}()
	}
	for w := 0; w < 8; w++ {
		<-done
	}
	cancelSub()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := g.Close(cctx); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Create(ctx, Channel{Name: "late", URL: "mms://example.com/x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("create after close: %v", err)
	}
}

// TestViewerOfFailedChannelGetsReason: a viewer of a channel whose upstream
// fails at once, permanently, gets that failure as the answer however fast
// the attempt its arrival triggers ends (even before the viewer starts to
// wait), never the start timeout.
func TestViewerOfFailedChannelGetsReason(t *testing.T) {
	ctx := context.Background()
	st, err := store.OpenSQLite(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	g, err := New(ctx, Config{Store: st, NewPipeline: newRemux, StartTimeout: 5 * time.Second,
		Dial: func(ctx context.Context, req DialRequest) (Upstream, error) {
			return nil, fmt.Errorf("%w: upstream gone for good", ErrPermanent)
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close(ctx)
	if _, err := g.Create(ctx, Channel{Name: "gone", URL: "mms://example.com/x", OnDemand: false}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s, _ := g.Status("gone"); s.State == Failed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not failed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i := range 40 {
		start := time.Now()
		_, err := g.Watch(ctx, "gone", "hls", fmt.Sprint("k", i), false)
		if err == nil || !strings.Contains(err.Error(), "gone for good") {
			t.Fatalf("viewer %d after %v: %v, want the upstream's failure", i, time.Since(start), err)
		}
	}
}
