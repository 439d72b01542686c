package remux

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestSilentAAC: the silent frames endRun writes decode, with ffmpeg, to
// exact silence for every channel configuration that has one.
func TestSilentAAC(t *testing.T) {
	for cc := uint8(1); cc <= 7; cc++ {
		frame := silentAAC(cc)
		if frame == nil {
			t.Fatalf("no frame for %d channels", cc)
		}
		// 10 frames in ADTS (ISO/IEC 14496-3 1.A.2.2), 44100 Hz, AAC-LC
		var adts bytes.Buffer
		for range 10 {
			n := 7 + len(frame)
			h := [7]byte{0xff, 0xf1,
				byte(1<<6 | 4<<2 | cc>>2), // profile LC-1, sampling index 4, channel config high bit
				byte(cc&3<<6 | byte(n>>11)),
				byte(n >> 3),
				byte(n&7<<5 | 0x1f),
				0xfc}
			adts.Write(h[:])
			adts.Write(frame)
		}
		cmd := exec.Command("ffmpeg", "-v", "error", "-f", "aac", "-i", "pipe:0", "-f", "s16le", "pipe:1")
		cmd.Stdin = &adts
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		pcm, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("%d channels: %v %s", cc, err, stderr.Bytes())
		}
		chans := map[uint8]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8}[cc]
		if want := 10 * 1024 * chans * 2; len(pcm) != want {
			t.Errorf("%d channels: %d bytes of PCM, want %d", cc, len(pcm), want)
		}
		for i := 0; i+1 < len(pcm); i += 2 {
			if v := int16(binary.LittleEndian.Uint16(pcm[i:])); v != 0 {
				t.Fatalf("%d channels: sample %d is %d, not silence", cc, i/2, v)
			}
		}
	}
	if silentAAC(0) != nil || silentAAC(8) != nil {
		t.Error("frames for configurations without a fixed layout")
	}
}

// TestEndRunClosesLastSegment: a file fed to its end reaches the playlist
// whole without any further media: the open segment is closed when the run
// ends (direct remux at Discontinuity, the transcoder after ffmpeg drained).
// A second run then follows on the same timeline, and viewers see one
// contiguous, forward-going stream. The clip is 4.5 s with a key frame
// every second, so that the last segment is half full when the feed ends;
// before endRun the EXTINF sum was 4 s.
func TestEndRunClosesLastSegment(t *testing.T) {
	h264 := fixture.H264()
	h264.Duration = 4500 * time.Millisecond
	wmv := fixture.WMV2()
	wmv.Duration = 4500 * time.Millisecond
	wma := fixture.AudioOnly()
	wma.Duration = 4500 * time.Millisecond
	aac := fixture.Spec{Audio: fixture.AudioAAC, Duration: 4500 * time.Millisecond, AudioBitrate: 64_000}
	cases := []struct {
		name    string
		spec    fixture.Spec
		variant string
		llhls   bool
		mode    string
	}{
		{"direct-fmp4", h264, VariantFMP4, false, "direct"},
		{"direct-mpegts", h264, VariantMPEGTS, false, "direct"},
		{"direct-llhls", h264, VariantFMP4, true, "direct"},
		{"direct-audio-fmp4", aac, VariantFMP4, false, "direct"},
		{"direct-audio-mpegts", aac, VariantMPEGTS, false, "direct"},
		{"direct-audio-llhls", aac, VariantFMP4, true, "direct"},
		{"transcode-fmp4", wmv, VariantFMP4, false, "transcode"},
		{"transcode-audio-mpegts", wma, VariantMPEGTS, false, "transcode"},
		{"transcode-audio-llhls", wma, VariantFMP4, true, "transcode"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := clip(t, c.spec)
			fed := fileDuration(t, path)
			ev := newEvents()
			p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 30,
				Variant: c.variant, Outputs: Outputs{LLHLS: c.llhls}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			srv := hlsServer(t, p.ServeHLS, nil)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			feed := func() {
				t.Helper()
				if err := Feed(ctx, NewFileSource(0, false, path), p); err != nil {
					t.Fatal(err)
				}
			}
			feed()
			if m := p.Metadata(); m.Mode != c.mode {
				t.Fatalf("mode %q, want %q", m.Mode, c.mode)
			}
			f := newFollower(srv.URL + "/hls/")
			if err := f.start(ctx); err != nil {
				t.Fatal(err)
			}
			// no more media comes: the whole file must show up by itself
			deadline := time.Now().Add(time.Minute)
			f.pollUntil(t, ctx, fed, deadline)
			for _, s := range f.streams {
				mt := s.mediaTime()
				t.Logf("%s: EXTINF sum %v after the first run, fed %v", s.uri, mt, fed)
				if mt < fed || mt > fed+time.Second+100*time.Millisecond {
					t.Errorf("%s: EXTINF sum %v, fed %v: want the fed media and at most one segment more", s.uri, mt, fed)
				}
				last := s.segs[s.lastMSN]
				if pr := ffprobe(t, s.lastFile(t)); len(pr.Streams) == 0 || len(last) == 0 {
					t.Errorf("%s: last segment unreadable", s.uri)
				}
				if c.llhls {
					checkPartTarget(t, s.uri, s.contents)
				}
			}
			first := f.streams[0].mediaTime()

			// a second run follows on the same timeline
			feed()
			f.pollUntil(t, ctx, first+fed, deadline)
			if len(f.errors) > 0 {
				t.Fatalf("HTTP errors: %v", f.errors)
			}
			for _, s := range f.streams {
				if err := s.checkContiguous(); err != nil {
					t.Error(err)
				}
				file := s.file(t)
				pr := ffprobe(t, file)
				decodeCheck(t, file)
				// the first run's last frame is held up to 1 s (the freeze)
				ts := packetTimes(t, file)
				checkForward(t, s.uri, ts, 1.05)
				span := time.Duration((ts[len(ts)-1] - ts[0]) * float64(time.Second))
				mt := s.mediaTime()
				t.Logf("%s: %s, EXTINF sum %v after two runs, fed %v, packets over %v", s.uri, pr.codecs(), mt, 2*fed, span)
				if mt < 2*fed || mt > 2*fed+2*time.Second+100*time.Millisecond {
					t.Errorf("%s: EXTINF sum %v, fed %v", s.uri, mt, 2*fed)
				}
				if span < 2*fed-200*time.Millisecond {
					t.Errorf("%s: packets span %v, fed %v", s.uri, span, 2*fed)
				}
			}
			if n := p.hls.closingCount(); n < 2 {
				t.Errorf("%d segments closed by endRun, want 2", n)
			}
			if t.Failed() {
				for _, s := range f.streams {
					t.Log(s.contents)
				}
				t.Log(ev.dump())
			}
		})
	}
}

// lastFile writes init + the last segment to a file and returns its path.
func (s *followedStream) lastFile(t testing.TB) string {
	t.Helper()
	one := &followedStream{uri: fmt.Sprintf("last-%s", s.uri), init: s.init,
		segs: map[int][]byte{s.lastMSN: s.segs[s.lastMSN]}}
	return one.file(t)
}

func (h *hlsOutput) closingCount() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closings
}

// checkPartTarget: the closing samples keep every part within the part
// target that the channel started with (200 ms parts: at most 0.3 s after
// gohlslib's rounding to sample durations), and no part is longer than it.
func checkPartTarget(t *testing.T, uri, pl string) {
	t.Helper()
	var target float64
	for _, line := range strings.Split(pl, "\n") {
		if v, ok := strings.CutPrefix(line, "#EXT-X-PART-INF:PART-TARGET="); ok {
			target, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	if target <= 0 || target > 0.3 {
		t.Errorf("%s: PART-TARGET %v, want the channel's 200 ms parts (the held frame must not stretch a part)", uri, target)
	}
	for _, line := range strings.Split(pl, "\n") {
		v, ok := strings.CutPrefix(line, "#EXT-X-PART:DURATION=")
		if !ok {
			continue
		}
		d, _ := strconv.ParseFloat(strings.SplitN(v, ",", 2)[0], 64)
		if d > target+0.001 {
			t.Errorf("%s: part of %v s beyond PART-TARGET %v", uri, d, target)
		}
	}
}
