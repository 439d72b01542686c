package remux

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestTranscoderWholeFile feeds a WMV2+WMA2 file's bytes through ffmpeg into
// gohlslib and reads the HLS back with ffprobe.
func TestTranscoderWholeFile(t *testing.T) {
	data, err := os.ReadFile(clip(t, fixture.WMV2()))
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	opts := Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 20}.withDefaults()
	hls := newHLSOutput(opts)
	defer hls.close()
	hls.setTracks(true, true)
	out := outParams{video: true, audio: true, width: 320, height: 240, fps: 25, sampleRate: 44100, channels: 2,
		videoBitrate: 500_000, audioBitrate: 96_000, segment: time.Second}
	tc := newTranscoder(opts, out, hls)
	defer tc.close()

	tc.send(tcItem{header: data[:1], in: runInput{hasVideo: true, hasAudio: true}})
	for off := 1; off < len(data); off += 3200 {
		tc.send(tcItem{packet: data[off:min(off+3200, len(data))]})
	}
	tc.send(tcItem{flush: true})

	srv := hlsServer(t, hls.serve, nil)
	f := newFollower(srv.URL + "/hls/")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	stop := make(chan struct{})
	close(stop)
	if err := f.follow(ctx, stop, 0); err != nil {
		t.Fatalf("%v\nevents:\n%s", err, ev.dump())
	}
	if len(f.streams) != 2 {
		t.Fatalf("streams %d", len(f.streams))
	}
	got := ""
	for _, s := range f.streams {
		p := ffprobe(t, s.file(t))
		t.Logf("%s: %s %v, EXTINF sum %v", s.uri, p.codecs(), p.duration(), s.mediaTime())
		got += p.codecs() + ";"
		if s.mediaTime() < time.Second {
			t.Errorf("%s: only %v of media", s.uri, s.mediaTime())
		}
	}
	if got != "video:h264;audio:aac;" {
		t.Errorf("codecs %q", got)
	}
}

// TestTranscoderClosesTail: when the upstream is gone (Feed ends with a
// discontinuity), the transcoder lets ffmpeg drain and closes the open HLS
// segment itself, so viewers get the whole file without further media.
// The clip is 4.5 s with a key frame every second: its last segment is
// half full when the feed ends.
func TestTranscoderClosesTail(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 4500 * time.Millisecond
	path := clip(t, spec)
	fed := fileDuration(t, path)
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Feed(ctx, NewFileSource(0, false, path), p); err != nil {
		t.Fatal(err)
	}
	f := newFollower(srv.URL + "/hls/")
	if err := f.start(ctx); err != nil {
		t.Fatal(err)
	}
	f.pollUntil(t, ctx, fed, time.Now().Add(time.Minute))
	for _, s := range f.streams {
		if mt := s.mediaTime(); mt < fed {
			t.Errorf("%s: EXTINF sum %v, fed %v: the last segment stayed open\n%s\nevents:\n%s", s.uri, mt, fed, s.contents, ev.dump())
		}
	}
	if n := p.hls.closingCount(); n != 1 {
		t.Errorf("%d segments closed by endRun, want 1", n)
	}
}

// TestTranscoderClosesTailAfterCrash: ffmpeg dies and no input comes to
// restart it: after the idle timeout the open segment with what the dead
// run wrote is closed for viewers.
func TestTranscoderClosesTailAfterCrash(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 4500 * time.Millisecond
	hdr, pkts := readClip(t, clip(t, spec))
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, IdleTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	for _, pk := range pkts {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
	}
	tc := p.tcPtr.Load()
	if tc == nil {
		t.Fatal("not transcoding")
	}
	// once ffmpeg's output reaches HLS, kill it (its input is still open)
	deadline := time.Now().Add(time.Minute)
	for p.hls.sampleCount() < 25 {
		if time.Now().After(deadline) {
			t.Fatalf("no output from ffmpeg\n%s", ev.dump())
		}
		time.Sleep(10 * time.Millisecond)
	}
	run := tc.current()
	if run == nil {
		t.Fatalf("no ffmpeg running\n%s", ev.dump())
	}
	run.kill("killed by the test")
	<-run.done
	if n := p.hls.closingCount(); n != 0 {
		t.Fatalf("%d segments closed before the idle timeout", n)
	}
	for p.hls.closingCount() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("open segment never closed after the crash\n%s", ev.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if ev.count(event.TranscoderRestart) == 0 {
		t.Errorf("no restart event:\n%s", ev.dump())
	}
}

// TestPipeReaderWriter: the raw pipe reader and writer move 4 MB through a
// real process (cat) intact, in both directions' odd sizes, and end with
// io.EOF; what is not a non-blocking pipe is used as it is.
func TestPipeReaderWriter(t *testing.T) {
	cmd := exec.Command("cat")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 4<<20)
	for i := range data {
		data[i] = byte(i*7 + i>>13)
	}
	w, r := newPipeWriter(stdin), newPipeReader(stdout)
	if runtime.GOOS == "linux" {
		if _, ok := w.(*pipeWriter); !ok {
			t.Errorf("writer %T, want the raw pipe writer", w)
		}
		if _, ok := r.(*pipeReader); !ok {
			t.Errorf("reader %T, want the raw pipe reader", r)
		}
	}
	werr := make(chan error, 1)
	go func() {
		var err error
		for off, n := 0, 1; off < len(data) && err == nil; off, n = off+n, n*3%70001+1 {
			_, err = w.Write(data[off:min(off+n, len(data))])
		}
		stdin.Close()
		werr <- err
	}()
	var got bytes.Buffer
	buf := make([]byte, 5000)
	for {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), data) {
		t.Fatalf("%d bytes back, differ from the %d written", got.Len(), len(data))
	}
	// a write to a pipe whose reader is gone fails (EPIPE), it does not hang
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	if _, err := newPipeWriter(pw).Write([]byte("x")); err == nil {
		t.Error("write to a closed pipe succeeded")
	}
	pw.Close()
	// a regular file is blocking: used as it is
	f, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if r := newPipeReader(f); r != io.Reader(f) {
		t.Errorf("regular file wrapped as %T", r)
	}
	var bb bytes.Buffer
	if w := newPipeWriter(&bb); w != io.Writer(&bb) {
		t.Errorf("buffer wrapped as %T", w)
	}
}
