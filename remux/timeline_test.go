package remux

import (
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestTimelineDay simulates 27 hours of 25 fps video and 44.1 kHz AAC whose
// MPEG-TS timestamps wrap at 33 bits (every 26.5 h), with a transcoder
// restart every 5 hours: the channel timeline only goes forward, at the
// media's pace.
func TestTimelineDay(t *testing.T) {
	var tl timeline
	const frame = clock90k / 25
	const wrap = 1 << 33
	start := int64(wrap - 3*clock90k*3600) // three hours before the wrap
	var td mpegts.TimeDecoder
	var lastV, lastA int64 = -1, -1
	var audioN int64
	audioPTS := start
	runs := 0
	for i := int64(0); i < 27*3600*25; i++ {
		if i%(5*3600*25) == 0 {
			tl.beginRun()
			td = mpegts.TimeDecoder{}
			runs++
		}
		raw := (start + i*frame) % wrap // what ffmpeg writes: 33 bits
		v := tl.video(td.Decode(raw))
		if v <= lastV {
			t.Fatalf("frame %d: video at %d after %d", i, v, lastV)
		}
		lastV = v
		for audioPTS < start+(i+1)*frame {
			a, ok := tl.audio(td.Decode(audioPTS%wrap), 44100, 1)
			if !ok || a <= lastA {
				t.Fatalf("audio at %d after %d", a, lastA)
			}
			lastA = a
			audioN++
			audioPTS = start + audioN*1024*clock90k/44100
		}
	}
	got := time.Duration(lastV) * time.Second / clock90k
	if want := 27 * time.Hour; got < want-time.Second || got > want+time.Second {
		t.Errorf("27 h of video end at %v", got)
	}
	gotA := time.Duration(lastA) * time.Second / 44100
	if d := gotA - got; d < -time.Second || d > time.Second {
		t.Errorf("audio ends at %v, video at %v", gotA, got)
	}
	if runs != 6 {
		t.Errorf("%d runs", runs)
	}
}

// TestWrapDecoder32: ASF presentation times are 32-bit milliseconds
// (49.7 days); they unwrap into a monotonic value, small steps back (B-frames)
// allowed.
func TestWrapDecoder32(t *testing.T) {
	d := wrapDecoder{bits: 32}
	prev := d.decode(1<<32 - 100)
	for _, v := range []uint64{1<<32 - 60, 1<<32 - 20, 20, 60, 40, 100} {
		got := d.decode(v)
		if v == 40 {
			if got != prev-20 {
				t.Errorf("step back: %d after %d", got, prev)
			}
		} else if got <= prev {
			t.Errorf("%d decoded to %d after %d", v, got, prev)
		}
		prev = got
	}
	if prev != 1<<32-100+200 {
		t.Errorf("end %d", prev)
	}
}

// TestTranscoderTimestampWrap runs ffmpeg with its output timestamps two
// seconds before the 33-bit wrap: the HLS stream goes on forward across it.
func TestTranscoderTimestampWrap(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 6 * time.Second
	path := clip(t, spec)
	wrapAt := time.Duration(1<<33) * time.Second / clock90k
	p, err := New(Options{SegmentDuration: time.Second, SegmentCount: 30, outputTSOffset: wrapAt - 2*time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := runLive(t, p, NewFileSource(4, false, path), func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	for _, s := range f.streams {
		file := s.file(t)
		checkForward(t, s.uri, packetTimes(t, file), 0.5)
		// up to a segment more: the closing of the last one (hlsOutput.endRun)
		if d := spec.Duration - s.mediaTime(); d < -1250*time.Millisecond || d > 1500*time.Millisecond {
			t.Errorf("%s: media time %v, fed %v", s.uri, s.mediaTime(), spec.Duration)
		}
	}
}

// TestTimelineAudioDrift: when the source's audio timestamps run 0.1 %
// fast or slow against its video, the laid-out audio stays within about a
// frame of the video for an hour.
func TestTimelineAudioDrift(t *testing.T) {
	for _, skew := range []float64{0.999, 1.001} {
		var tl timeline
		var lastV, lastA int64
		var n int64
		for i := int64(0); i < 3600*25; i++ {
			lastV = tl.video(i * clock90k / 25)
			for float64(n*1024)/44100*skew < float64(i+1)/25 {
				pts := int64(float64(n*1024) / 44100 * skew * clock90k)
				if a, ok := tl.audio(pts, 44100, 1); ok {
					lastA = a
				}
				n++
			}
		}
		v := time.Duration(lastV) * time.Second / clock90k
		a := time.Duration(lastA) * time.Second / 44100
		if d := a - v; d < -100*time.Millisecond || d > 100*time.Millisecond {
			t.Errorf("skew %v: audio at %v, video at %v", skew, a, v)
		}
	}
}
