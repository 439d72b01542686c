package remux

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// handlerLog records when each HLS request's handler returned.
type handlerLog struct {
	mu   sync.Mutex
	done map[string]time.Time // by the request's X-Test-ID header
}

func (l *handlerLog) wrap(serve func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, file string) {
		serve(w, r, file)
		if id := r.Header.Get("X-Test-ID"); id != "" {
			l.mu.Lock()
			l.done[id] = time.Now()
			l.mu.Unlock()
		}
	}
}

func (l *handlerLog) returned(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	t, ok := l.done[id]
	return t, ok
}

// TestLLHLSBlockingRequests: LL-HLS requests that gohlslib holds (blocking
// playlist reloads, the preload-hinted part) are answered from our side:
// a client that goes away frees its handler at once, a stalled upstream
// gets 503 after three Target Durations, a flood is bounded, and the
// handlers left inside gohlslib end when the next part comes or the
// channel closes.
func TestLLHLSBlockingRequests(t *testing.T) {
	spec := fixture.H264()
	spec.Duration = 8 * time.Second
	af, pkts := fixture.Packets(t, clip(t, spec))
	const bound = 8 // held requests; 256 by default
	// 2 s segments: the limit (6 s) stays well apart from "promptly" below
	p, err := New(Options{Outputs: Outputs{LLHLS: true}, SegmentDuration: 2 * time.Second, PartDuration: 200 * time.Millisecond,
		maxBlocked: bound})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	hl := &handlerLog{done: map[string]time.Time{}}
	srv := hlsServer(t, hl.wrap(p.ServeHLS), nil)
	base := srv.URL + "/hls/"
	goroutines := runtime.NumGoroutine()

	// the first half, then the upstream stalls (no Discontinuity: it just stops)
	if err := p.WriteHeader(append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...)); err != nil {
		t.Fatal(err)
	}
	half := len(pkts) / 2
	for _, b := range pkts[:half] {
		if err := p.WritePacket(b); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	f := newFollower(base)
	if err := f.start(ctx); err != nil {
		t.Fatal(err)
	}
	media := f.streams[0].uri
	get := func(ctx context.Context, id, uri string) (int, string, http.Header, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+uri, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-Test-ID", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", nil, err
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header, nil
	}
	code, text, _, err := get(ctx, "", media)
	if err != nil || code != http.StatusOK {
		t.Fatalf("%s: %d %v %s", media, code, err, text)
	}
	pl, err := playlist.Unmarshal([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	mp := pl.(*playlist.Media)
	next := fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", media, mp.MediaSequence+len(mp.Segments), len(mp.Parts))
	hint := strings.SplitN(mp.PreloadHint.URI, "?", 2)[0]
	limit := p.hls.blockLimit()

	// stalled upstream: 503 with Retry-After after the limit
	start := time.Now()
	code, text, hdr, err := get(ctx, "stalled", next)
	took := time.Since(start)
	t.Logf("blocking reload on a stalled upstream: %d after %v (limit %v)", code, took.Round(time.Millisecond), limit)
	if err != nil || code != http.StatusServiceUnavailable || hdr.Get("Retry-After") == "" {
		t.Fatalf("%s: %d %v %q, want 503 with Retry-After", next, code, err, text)
	}
	if took < limit-100*time.Millisecond || took > limit+10*time.Second {
		t.Errorf("503 after %v, the limit is %v", took, limit)
	}

	// clients that go away: their handlers return at once, for the
	// preload-hinted part and for a blocking reload
	for _, uri := range []string{hint, next} {
		before := len(p.hls.blocked)
		cctx, ccancel := context.WithCancel(ctx)
		got := make(chan error, 1)
		go func() {
			_, _, _, err := get(cctx, "cancel "+uri, uri)
			got <- err
		}()
		waitFor(t, uri+" to be held", func() bool { return len(p.hls.blocked) > before })
		ccancel()
		cancelled := time.Now()
		if err := <-got; !errors.Is(err, context.Canceled) {
			t.Fatalf("%s answered on a stalled upstream: %v", uri, err)
		}
		waitFor(t, "handler of "+uri+" to return", func() bool { _, ok := hl.returned("cancel " + uri); return ok })
		ret, _ := hl.returned("cancel " + uri)
		t.Logf("%s: handler returned %v after the client left", uri, ret.Sub(cancelled).Round(time.Millisecond))
		if d := ret.Sub(cancelled); d > limit/2 {
			t.Errorf("%s: handler returned %v after the client left", uri, d)
		}
	}
	if n := len(p.hls.blocked); n != 3 {
		t.Errorf("%d handlers held inside gohlslib, want 3 (stalled, cancelled x2)", n)
	}

	// a flood: beyond the bound, 503 at once
	var wg sync.WaitGroup
	fctx, fcancel := context.WithCancel(ctx)
	for i := len(p.hls.blocked); i < bound; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, _, _ = get(fctx, fmt.Sprint("flood ", i), next)
		}()
	}
	waitFor(t, "a full bound of held requests", func() bool { return len(p.hls.blocked) == bound })
	code, text, _, err = get(ctx, "over", next)
	if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(text, "too many") {
		t.Errorf("request over the bound: %d %v %q, want 503 too many", code, err, text)
	}
	fcancel()
	wg.Wait()
	held := len(p.hls.blocked)

	// the upstream comes back: the part arrives and every held handler ends
	fed := make(chan error, 1)
	go func() {
		for _, b := range pkts[half:] {
			if err := p.WritePacket(b); err != nil {
				fed <- err
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		fed <- nil
	}()
	waitFor(t, "held handlers to end", func() bool { return len(p.hls.blocked) == 0 })
	t.Logf("held handlers: %d during the stall, 0 after the next part", held)
	for _, uri := range []string{next, hint} {
		if code, _, _, err := get(ctx, "", uri); err != nil || code != http.StatusOK {
			t.Errorf("%s after the upstream came back: %d %v", uri, code, err)
		}
	}
	if err := <-fed; err != nil {
		t.Fatal(err)
	}

	// one more held by a client that left, then the channel closes: it ends
	code, text, _, err = get(ctx, "", media)
	if err != nil || code != http.StatusOK {
		t.Fatalf("%d %v", code, err)
	}
	pl, _ = playlist.Unmarshal([]byte(text))
	mp = pl.(*playlist.Media)
	next = fmt.Sprintf("%s?_HLS_msn=%d&_HLS_part=%d", media, mp.MediaSequence+len(mp.Segments), len(mp.Parts))
	cctx, ccancel := context.WithCancel(ctx)
	for _, uri := range []string{next, strings.SplitN(mp.PreloadHint.URI, "?", 2)[0]} {
		go func() { _, _, _, _ = get(cctx, "", uri) }()
	}
	waitFor(t, "2 held requests", func() bool { return len(p.hls.blocked) == 2 })
	ccancel()
	p.Close()
	waitFor(t, "held handlers to end at close", func() bool { return len(p.hls.blocked) == 0 })
	http.DefaultClient.CloseIdleConnections()
	srv.CloseClientConnections()
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= goroutines+2 })
	t.Logf("goroutines: %d at the start, %d at the end", goroutines, runtime.NumGoroutine())
}

// FuzzPartID: request file names (network input) never panic the part
// name parser, and what it accepts names a stream and a part.
func FuzzPartID(f *testing.F) {
	for _, s := range []string{"0eac4a66c12a_audio2_part46.mp4", "a_video1_part0.mp4", "index.m3u8",
		"x_video1_seg3.mp4", "a_b_part.mp4", "a_b_part-1.mp4", "_ _part99999999999999999999.mp4", "a_b_c_part1.mp4"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, file string) {
		stream, _, ok := partID(file)
		if ok && (strings.Contains(stream, "_") || !strings.Contains(file, "_"+stream+"_part")) {
			t.Errorf("%q accepted as stream %q", file, stream)
		}
	})
}
