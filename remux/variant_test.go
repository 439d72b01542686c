package remux

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestMPEGTSVariantOnDisk: the MPEG-TS variant for old devices, with the
// segments on disk; audio-only in MPEG-TS still gets short segments.
func TestMPEGTSVariantOnDisk(t *testing.T) {
	for _, c := range []struct {
		name   string
		spec   fixture.Spec
		codecs string
	}{
		{"video", fixture.WMV2(), "audio:aac,video:h264"},
		{"audio-only", fixture.AudioOnly(), "audio:aac"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.spec.Duration = 5 * time.Second
			path := clip(t, c.spec)
			dir := filepath.Join(t.TempDir(), "segments")
			p, err := New(Options{Variant: VariantMPEGTS, Dir: dir, SegmentDuration: time.Second, SegmentCount: 30})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			f := runLive(t, p, NewFileSource(4, false, path), func() { waitIdle(t, p) })
			if len(f.errors) > 0 {
				t.Fatalf("HTTP errors: %v", f.errors)
			}
			if len(f.streams) != 1 {
				t.Fatalf("%d media playlists", len(f.streams))
			}
			s := f.streams[0]
			file := s.file(t)
			if !strings.HasSuffix(file, ".ts") {
				t.Errorf("%s is not MPEG-TS", file)
			}
			if got := ffprobe(t, file).codecs(); got != c.codecs {
				t.Errorf("codecs %s, want %s", got, c.codecs)
			}
			// audio alone: gohlslib cuts MPEG-TS segments after 100 access
			// units (2.3 s at 44.1 kHz); one access unit per write keeps it there
			if len(s.segs) < 2 {
				t.Errorf("%d segments for %v", len(s.segs), c.spec.Duration)
			}
			for msn, d := range s.durs {
				if d > 2500*time.Millisecond {
					t.Errorf("segment %d lasts %v", msn, d)
				}
			}
			ents, _ := os.ReadDir(dir)
			ts := 0
			for _, e := range ents {
				if strings.HasSuffix(e.Name(), ".ts") {
					ts++
				}
			}
			if ts < len(s.segs) {
				t.Errorf("%d .ts files on disk for %d segments", ts, len(s.segs))
			}
		})
	}
}
