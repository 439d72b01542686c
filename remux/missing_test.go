package remux

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// withoutStream returns an ASF file's header and its packets with every
// payload of the stream n taken out (packets left empty are dropped): a
// stream the header declares but that never sends.
func withoutStream(t *testing.T, path string, n uint8) ([]byte, [][]byte) {
	t.Helper()
	af, pkts := fixture.Packets(t, path)
	var out [][]byte
	var p asf.Packet
	removed := 0
	for _, b := range pkts {
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		kept := p.Payloads[:0:0]
		for _, pl := range p.Payloads {
			if pl.StreamNumber != n {
				kept = append(kept, pl)
			}
		}
		removed += len(p.Payloads) - len(kept)
		switch {
		case len(kept) == 0:
			continue
		case len(kept) == len(p.Payloads):
			out = append(out, b)
			continue
		}
		np := p
		np.Payloads = kept
		// the room of the removed payloads becomes padding: a WORD Padding Length holds it (5.2.2)
		np.LengthTypeFlags = np.LengthTypeFlags&^0x18 | 0x10
		nb, err := np.Append(nil, len(b))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, nb)
	}
	if removed == 0 {
		t.Fatalf("stream %d has no payloads to take out", n)
	}
	return append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...), out
}

// streamOf returns the number of the header's first stream of a kind.
func streamOf(t *testing.T, path string, video bool) uint8 {
	t.Helper()
	af, _ := fixture.Packets(t, path)
	for _, s := range af.Header.Streams {
		if (video && s.Video != nil) || (!video && s.Audio != nil) {
			return uint8(s.StreamNumber)
		}
	}
	t.Fatalf("%s: no such stream", path)
	return 0
}

// itemSource plays a header and packets at a pace.
type itemSource struct {
	hdr   []byte
	pkts  [][]byte
	i     int
	every time.Duration
}

func (s *itemSource) Next(ctx context.Context) (Item, error) {
	if s.hdr != nil {
		h := s.hdr
		s.hdr = nil
		return Item{Header: h}, nil
	}
	if s.i >= len(s.pkts) {
		return Item{}, io.EOF
	}
	if s.every > 0 {
		select {
		case <-ctx.Done():
			return Item{}, ctx.Err()
		case <-time.After(s.every):
		}
	}
	s.i++
	return Item{Packet: s.pkts[s.i-1]}, nil
}

// TestMissingDeclaredTrack: an entry whose header declares a video (or an
// audio) stream that never sends a payload still gives HLS: after the bound
// the entry restarts without it, the transcoder fills the channel's track
// with black frames (silence), ffprobe reads H.264 and AAC, and the session
// log says what happened. Through transcoding (WMV2/WMA2) and from direct
// remux (H.264/AAC, which switches to transcoding for it).
func TestMissingDeclaredTrack(t *testing.T) {
	wmv := fixture.WMV2()
	wmv.Duration = 9 * time.Second
	h264 := fixture.H264()
	h264.Duration = 9 * time.Second
	cases := []struct {
		name    string
		spec    fixture.Spec
		noVideo bool
	}{
		{"transcode-no-video", wmv, true},
		{"direct-no-video", h264, true},
		{"transcode-no-audio", wmv, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := clip(t, c.spec)
			n := streamOf(t, path, c.noVideo)
			hdr, pkts := withoutStream(t, path, n)
			ev := newEvents()
			p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 60})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			f := runLive(t, p, &itemSource{hdr: hdr, pkts: pkts}, func() { waitIdle(t, p) })
			if len(f.errors) > 0 {
				t.Fatalf("HTTP errors: %v\n%s", f.errors, ev.dump())
			}
			var got []string
			for _, s := range f.streams {
				file := s.file(t)
				pr := ffprobe(t, file)
				decodeCheck(t, file)
				got = append(got, pr.codecs())
				t.Logf("%s: %s, EXTINF sum %v", s.uri, pr.codecs(), s.mediaTime())
				// the stream that flows plays from the bound on (5 s of 9)
				if s.mediaTime() < 3*time.Second {
					t.Errorf("%s: only %v of media", s.uri, s.mediaTime())
				}
			}
			if g := strings.Join(got, ";"); g != "video:h264;audio:aac" {
				t.Errorf("codecs %q, want video:h264;audio:aac", g)
			}
			kind := "audio"
			if c.noVideo {
				kind = "video"
			}
			var msgs []string
			ev.mu.Lock()
			for _, e := range ev.all {
				if e.Kind == event.TrackMissing {
					msgs = append(msgs, e.Message)
				}
			}
			ev.mu.Unlock()
			want := kind + " stream "
			if len(msgs) != 1 || !strings.HasPrefix(msgs[0], want) || !strings.Contains(msgs[0], "declared but no data for 5") {
				t.Errorf("track_missing events %q, want one %q...", msgs, want)
			}
			t.Logf("event: %v", msgs)
			if m := p.Metadata(); m.Mode != "transcode" {
				t.Errorf("mode %q", m.Mode)
			}
			if t.Failed() {
				t.Log(ev.dump())
			}
		})
	}
}

// TestMissingTrackComesBack: a declared video stream that starts only after
// the bound (a slideshow with a late first picture) brings the entry back
// to it.
func TestMissingTrackComesBack(t *testing.T) {
	// audio only for the first 7 s, then everything
	ev, f, _ := runSpliced(t, false, 7000)
	if n := ev.count(event.TrackMissing); n != 2 {
		t.Errorf("%d track_missing events, want 2 (missing, back)\n%s", n, ev.dump())
	}
	if n := ev.count(event.TranscoderStart); n != 3 {
		t.Errorf("%d ffmpeg runs, want 3 (with video, black frames, with video again)\n%s", n, ev.dump())
	}
	for _, s := range f.streams {
		file := s.file(t)
		pr := ffprobe(t, file)
		decodeCheck(t, file)
		checkForward(t, s.uri, packetTimes(t, file), 1.05)
		t.Logf("%s: %s, EXTINF sum %v", s.uri, pr.codecs(), s.mediaTime())
	}
}

// TestTrackDiesMidStream: a camera whose video dies in the middle of an
// entry (payloads stop, audio goes on): after the bound the entry restarts
// with black frames and the stream goes on with both tracks.
func TestTrackDiesMidStream(t *testing.T) {
	// everything for the first 3 s, then audio only
	ev, f, dur := runSpliced(t, true, 3000)
	var msgs []string
	ev.mu.Lock()
	for _, e := range ev.all {
		if e.Kind == event.TrackMissing {
			msgs = append(msgs, e.Message)
		}
	}
	ev.mu.Unlock()
	t.Logf("events: %q", msgs)
	if len(msgs) != 1 || !strings.HasPrefix(msgs[0], "video stream 1 sent no data for 5") {
		t.Errorf("track_missing events %q, want one \"video stream 1 sent no data for 5...\"", msgs)
	}
	var got []string
	for _, s := range f.streams {
		file := s.file(t)
		pr := ffprobe(t, file)
		decodeCheck(t, file)
		got = append(got, pr.codecs())
		t.Logf("%s: %s, EXTINF sum %v", s.uri, pr.codecs(), s.mediaTime())
		// the whole clip: what came before, the wait, the black frames
		if mt := s.mediaTime(); mt < dur-1500*time.Millisecond {
			t.Errorf("%s: %v of media, fed %v", s.uri, mt, dur)
		}
	}
	if g := strings.Join(got, ";"); g != "video:h264;audio:aac" {
		t.Errorf("codecs %q", g)
	}
	if n := ev.count(event.TranscoderStart); n != 2 {
		t.Errorf("%d ffmpeg runs, want 2 (with video, black frames)\n%s", n, ev.dump())
	}
}

// runSpliced feeds live a 12 s WMV2 clip whose packets switch at send time
// at (ms) between the whole clip and the clip without its video stream:
// video first when videoFirst. It returns the events, the follower (after
// checking it saw no HTTP errors) and the clip's duration.
func runSpliced(t *testing.T, videoFirst bool, at uint32) (*events, *hlsFollower, time.Duration) {
	t.Helper()
	spec := fixture.WMV2()
	spec.Duration = 12 * time.Second
	path := clip(t, spec)
	hdr, noVideo := withoutStream(t, path, streamOf(t, path, true))
	_, all := fixture.Packets(t, path)
	before, after := noVideo, all
	if videoFirst {
		before, after = all, noVideo
	}
	var pkts [][]byte
	var pp asf.Packet
	for _, b := range before {
		if pp.Unmarshal(b) == nil && pp.SendTime < at {
			pkts = append(pkts, b)
		}
	}
	for _, b := range after {
		if pp.Unmarshal(b) == nil && pp.SendTime >= at {
			pkts = append(pkts, b)
		}
	}
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 60})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	f := runLive(t, p, &itemSource{hdr: hdr, pkts: pkts}, func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	return ev, f, spec.Duration
}
