package remux

import (
	"context"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// runLive feeds src into p while a follower reads the HLS live; it returns
// the follower once the feed ended and everything was flushed.
func runLive(t *testing.T, p *Pipeline, src Source, settle func()) *hlsFollower {
	t.Helper()
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	fed := make(chan error, 1)
	go func() { fed <- Feed(ctx, src, p) }()
	f := newFollower(srv.URL + "/hls/")
	stop := make(chan struct{})
	followed := make(chan error, 1)
	go func() { followed <- f.follow(ctx, stop, 150*time.Millisecond) }()
	if err := <-fed; err != nil {
		t.Fatalf("feed: %v", err)
	}
	if settle != nil {
		settle()
	}
	close(stop)
	if err := <-followed; err != nil {
		t.Fatalf("follow: %v", err)
	}
	return f
}

// waitIdle waits until the transcoder has no ffmpeg running (the last run flushed).
func waitIdle(t *testing.T, p *Pipeline) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		tc := p.tcPtr.Load()
		if tc == nil || (tc.current() == nil && len(tc.in) == 0) {
			time.Sleep(100 * time.Millisecond)
			if tc == nil || (tc.current() == nil && len(tc.in) == 0) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("transcoder still busy")
}

func TestHLSTranscodeWMV2Live(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 6 * time.Second
	path := clip(t, spec)
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := runLive(t, p, NewFileSource(4, false, path), func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	if len(f.streams) != 2 {
		t.Fatalf("%d media playlists", len(f.streams))
	}
	for _, s := range f.streams {
		if err := s.checkContiguous(); err != nil {
			t.Error(err)
		}
		pr := ffprobe(t, s.file(t))
		mt := s.mediaTime()
		t.Logf("%s: %s, EXTINF sum %v over %d reloads", s.uri, pr.codecs(), mt, len(s.seqs))
		// up to a segment more: the closing of the last one (hlsOutput.endRun)
		if d := spec.Duration - mt; d < -1250*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("%s: media time %v, fed %v", s.uri, mt, spec.Duration)
		}
	}
	if m := p.Metadata(); m.Mode != "transcode" || m.Entries != 1 {
		t.Errorf("metadata %+v", m)
	}
	t.Log(ev.dump())
}
