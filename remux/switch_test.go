package remux

import (
	"context"
	"io"
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
		if d := fed - s.mediaTime(); d < -200*time.Millisecond || d > 2500*time.Millisecond {
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
