package remux

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// fileDuration is the play duration of an ASF file, without the preroll.
func fileDuration(t *testing.T, path string) time.Duration {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	af, err := asf.OpenFile(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return af.Header.FileProperties.Duration()
}

// TestHLSFromSources feeds generated clips and Microsoft's files, follows the
// HLS live and checks what ffprobe reads and how much media time it carries.
func TestHLSFromSources(t *testing.T) {
	long := func(s fixture.Spec) fixture.Spec { s.Duration = 5 * time.Second; return s }
	cases := []struct {
		name   string
		path   string
		speed  float64
		codecs string // per media playlist, joined by ";"
		mode   string
		title  string
		llhls  bool
	}{
		{"h264-aac-direct", clip(t, long(fixture.H264())), 4, "video:h264;audio:aac", "direct", "", false},
		{"wma-audio-only", clip(t, long(fixture.AudioOnly())), 4, "audio:aac", "transcode", "", false},
		{"wma-audio-only-llhls", clip(t, long(fixture.AudioOnly())), 4, "audio:aac", "transcode", "", true},
		{"msmpeg4-wmav1", clip(t, long(fixture.MSMPEG4())), 4, "video:h264;audio:aac", "transcode", "", false},
		{"glass.wmv", "/work/shared/media/glass.wmv", 0, "video:h264;audio:aac", "transcode", "Glass", false},
		{"jeanne.wma", "/work/shared/media/jeanne.wma", 0, "audio:aac", "transcode", "Jeanne", false},
		{"Sire.wma", "/work/shared/media/Sire.wma", 0, "audio:aac", "transcode", "", false},
		{"laure_multi.wma-mp3", "/work/shared/media/laure_multi.wma", 0, "audio:aac", "transcode", "Laure", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ev := newEvents()
			p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 200, Outputs: Outputs{LLHLS: c.llhls}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			f := runLive(t, p, NewFileSource(c.speed, false, c.path), func() { waitIdle(t, p) })
			if len(f.errors) > 0 {
				t.Fatalf("HTTP errors: %v", f.errors)
			}
			fed := fileDuration(t, c.path)
			var got []string
			for _, s := range f.streams {
				if err := s.checkContiguous(); err != nil {
					t.Error(err)
				}
				file := s.file(t)
				pr := ffprobe(t, file)
				got = append(got, pr.codecs())
				decodeCheck(t, file)
				mt := s.mediaTime()
				t.Logf("%s: %s, EXTINF sum %v, fed %v", s.uri, pr.codecs(), mt, fed)
				// closing the last segment when the feed ends (hlsOutput.endRun)
				// holds its last frame up to a segment (1 s) beyond what was fed
				if d := fed - mt; d < -1250*time.Millisecond || d > 1500*time.Millisecond {
					t.Errorf("%s: media time %v, fed %v", s.uri, mt, fed)
				}
			}
			if g := strings.Join(got, ";"); g != c.codecs {
				t.Errorf("codecs %q, want %q", g, c.codecs)
			}
			m := p.Metadata()
			if m.Mode != c.mode {
				t.Errorf("mode %q, want %q", m.Mode, c.mode)
			}
			if c.title != "" && m.Title != c.title {
				t.Errorf("title %q, want %q", m.Title, c.title)
			}
			if t.Failed() {
				t.Log(ev.dump())
			}
		})
	}
}
