package remux

import (
	"context"
	"os"
	"testing"
	"time"

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
