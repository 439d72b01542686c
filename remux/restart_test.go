package remux

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// waitFor polls cond until it holds or a minute passed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *hlsOutput) sampleCount() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.samples
}

// restartCase runs a clip live and does something to ffmpeg in the middle.
func restartCase(t *testing.T, opts Options, act func(t *testing.T, r *ffmpegRun)) (*hlsFollower, *events) {
	spec := fixture.WMV2()
	spec.Duration = 12 * time.Second
	path := clip(t, spec)
	ev := newEvents()
	opts.OnEvent, opts.SegmentDuration, opts.SegmentCount = ev.fn(), time.Second, 60
	p, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var before int64
	go func() {
		waitFor(t, "HLS samples", func() bool { return p.hls.sampleCount() > 40 })
		r := p.tcPtr.Load().current()
		before = p.hls.sampleCount()
		if r != nil {
			act(t, r)
		}
	}()
	f := runLive(t, p, NewFileSource(3, false, path), func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	if after := p.hls.sampleCount(); after < before+100 {
		t.Errorf("HLS did not continue: %d samples before, %d after\n%s", before, after, ev.dump())
	}
	for _, s := range f.streams {
		if err := s.checkContiguous(); err != nil {
			t.Error(err)
		}
		file := s.file(t)
		checkForward(t, s.uri, packetTimes(t, file), 1.5)
		t.Logf("%s: EXTINF sum %v", s.uri, s.mediaTime())
	}
	return f, ev
}

func TestTranscoderRestartsAfterKill(t *testing.T) {
	_, ev := restartCase(t, Options{}, func(t *testing.T, r *ffmpegRun) {
		if err := syscall.Kill(r.cmd.Process.Pid, syscall.SIGKILL); err != nil {
			t.Error(err)
		}
	})
	if ev.count("transcoder_restart") < 1 || ev.count("transcoder_start") < 2 {
		t.Errorf("no restart:\n%s", ev.dump())
	}
}

func TestTranscoderRestartsAfterStall(t *testing.T) {
	_, ev := restartCase(t, Options{StallTimeout: time.Second}, func(t *testing.T, r *ffmpegRun) {
		// a frozen process: it reads nothing and writes nothing
		if err := syscall.Kill(r.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
			t.Error(err)
		}
	})
	if ev.count("transcoder_restart") < 1 || ev.count("transcoder_start") < 2 {
		t.Errorf("no restart:\n%s", ev.dump())
	}
	found := false
	ev.mu.Lock()
	for _, e := range ev.all {
		if e.Kind == "transcoder_exit" && e.Fields["reason"] != nil {
			if s, _ := e.Fields["reason"].(string); len(s) > 7 && s[:7] == "stalled" {
				found = true
			}
		}
	}
	ev.mu.Unlock()
	if !found {
		t.Errorf("no stall reported:\n%s", ev.dump())
	}
}

// TestSourceStopsMidPacket: the upstream stops in the middle of a packet
// for longer than the idle timeout, then goes on. What ffmpeg held reaches
// HLS during the pause, and the stream continues on the same timeline.
func TestSourceStopsMidPacket(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 6 * time.Second
	data, err := os.ReadFile(clip(t, spec))
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 60, IdleTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pr, pw := io.Pipe()
	half := len(data)/2 + 1600 // somewhere inside a packet
	var during int64
	go func() {
		pw.Write(data[:half])
		// stalled upstream: wait until the idle flush happened
		waitFor(t, "idle flush", func() bool { return ev.count("transcoder_exit") >= 1 })
		during = p.hls.sampleCount()
		time.Sleep(300 * time.Millisecond)
		pw.Write(data[half:])
		pw.Close()
	}()
	f := runLive(t, p, &trimSource{NewReaderSource(pr)}, func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	after := p.hls.sampleCount()
	if during < 100 || after < during+100 {
		t.Errorf("samples: %d at the pause, %d at the end\n%s", during, after, ev.dump())
	}
	for _, s := range f.streams {
		checkForward(t, s.uri, packetTimes(t, s.file(t)), 1.5)
	}
	if n := ev.count("transcoder_start"); n != 2 {
		t.Errorf("%d ffmpeg runs, want 2\n%s", n, ev.dump())
	}
}

// trimSource ends a ReaderSource at the first error (a file has index
// objects after its packets, which are no packets).
type trimSource struct{ s *ReaderSource }

func (t *trimSource) Next(ctx context.Context) (Item, error) {
	it, err := t.s.Next(ctx)
	if err != nil {
		return Item{}, io.EOF
	}
	return it, nil
}

// TestCloseLeavesNothing: Close while ffmpeg runs kills and reaps it (no
// zombie), ends viewers, and leaves no goroutine behind.
func TestCloseLeavesNothing(t *testing.T) {
	hdr, pkts := readClip(t, clip(t, fixture.WMV2()))
	base := runtime.NumGoroutine()
	p, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	if err := p.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(srv.URL + "/asf")
	if err != nil {
		t.Fatal(err)
	}
	for _, pk := range pkts[:len(pkts)/2] {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "ffmpeg", func() bool { return p.tcPtr.Load().current() != nil })
	pid := p.tcPtr.Load().current().cmd.Process.Pid
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// ESRCH: not even a zombie is left
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("ffmpeg %d still there after Close: %v", pid, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err := p.WritePacket(pkts[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("WritePacket after Close: %v", err)
	}
	srv.Close()
	http.DefaultClient.CloseIdleConnections()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}
