package remux

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestDirectSwitchesToTranscoding: a channel remuxes H.264/AAC directly;
// when the next entry's H.264 parameters differ (another size), the channel
// switches to transcoding onto the same tracks and timeline instead of
// breaking the fMP4 init segment.
func TestDirectSwitchesToTranscoding(t *testing.T) {
	a := fixture.H264()
	a.Duration = 4 * time.Second
	b := fixture.H264()
	b.Duration = 4 * time.Second
	b.Width, b.Height = 480, 360
	pa, pb := clip(t, a), clip(t, b)
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	var modes []string
	src := &scriptSource{p: p, steps: []Source{NewFileSource(3, false, pa), &modeProbe{p: p, modes: &modes}, NewFileSource(3, false, pb)}}
	f := runLive(t, p, src, func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	if m := p.Metadata(); len(modes) != 1 || modes[0] != "direct" || m.Mode != "transcode" {
		t.Errorf("modes: %v then %q", modes, m.Mode)
	}
	if ev.count(event.State) != 1 {
		t.Errorf("no switch event:\n%s", ev.dump())
	}
	fed := fileDuration(t, pa) + fileDuration(t, pb)
	for _, s := range f.streams {
		file := s.file(t)
		pr := ffprobe(t, file)
		checkForward(t, s.uri, packetTimes(t, file), 0.5)
		t.Logf("%s: %s %dx%d, EXTINF sum %v, fed %v", s.uri, pr.codecs(), pr.Streams[0].Width, pr.Streams[0].Height, s.mediaTime(), fed)
		if pr.Streams[0].CodecType == "video" && (pr.Streams[0].Width != 320 || pr.Streams[0].Height != 240) {
			t.Errorf("video is %dx%d, the channel's size is 320x240", pr.Streams[0].Width, pr.Streams[0].Height)
		}
		// up to a segment more: the closing of the last one (hlsOutput.endRun)
		if d := fed - s.mediaTime(); d < -1250*time.Millisecond || d > 2500*time.Millisecond {
			t.Errorf("%s: media time %v, fed %v", s.uri, s.mediaTime(), fed)
		}
	}
}

// modeProbe records the pipeline's mode between two entries.
type modeProbe struct {
	p     *Pipeline
	modes *[]string
	done  bool
}

func (m *modeProbe) Next(ctx context.Context) (Item, error) {
	if !m.done {
		m.done = true
		*m.modes = append(*m.modes, m.p.Metadata().Mode)
	}
	return Item{}, io.EOF
}

// lossySource drops packets [from, to) of a source: an upstream that lost them.
type lossySource struct {
	src      Source
	n        int
	from, to int
}

func (l *lossySource) Next(ctx context.Context) (Item, error) {
	for {
		it, err := l.src.Next(ctx)
		if err != nil || it.Packet == nil {
			return it, err
		}
		l.n++
		if l.n <= l.from || l.n > l.to {
			return it, nil
		}
	}
}

// TestDirectRemuxAfterLoss: lost packets in a direct-remuxed channel: video
// resumes at the next key frame, so what HLS carries decodes without errors.
func TestDirectRemuxAfterLoss(t *testing.T) {
	spec := fixture.H264()
	spec.Duration = 5 * time.Second
	path := clip(t, spec)
	_, pkts := readClip(t, path)
	p, err := New(Options{SegmentDuration: time.Second, SegmentCount: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	n := len(pkts)
	f := runLive(t, p, &lossySource{src: NewFileSource(4, false, path), from: n * 2 / 5, to: n*2/5 + 3}, nil)
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	if m := p.Metadata(); m.Mode != "direct" {
		t.Fatalf("mode %q", m.Mode)
	}
	for _, s := range f.streams {
		file := s.file(t)
		decodeCheck(t, file)
		checkForward(t, s.uri, packetTimes(t, file), 1.5)
		if strings.HasPrefix(s.uri, "video") {
			// where frames are missing, the next one is a key frame
			pr := ffprobe(t, file, "-show_entries", "frame=key_frame,pts_time")
			gaps := 0
			var prev float64
			for i, fr := range pr.Frames {
				ts, _ := strconv.ParseFloat(fr.PTSTime, 64)
				if i > 0 && ts-prev > 0.06 { // 25 fps: 0.04 s per frame
					gaps++
					if fr.KeyFrame != 1 {
						t.Errorf("frame at %.3f s after a gap from %.3f s is not a key frame", ts, prev)
					}
				}
				prev = ts
			}
			if gaps == 0 {
				t.Error("no gap in the video: the loss did not hit it")
			}
		}
		if s.mediaTime() < 2*time.Second {
			t.Errorf("%s: %v", s.uri, s.mediaTime())
		}
	}
}
