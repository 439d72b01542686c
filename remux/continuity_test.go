package remux

import (
	"context"
	"encoding/json"
	"io"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// packetTimes returns the decode times of every packet of a file's first stream.
func packetTimes(t *testing.T, path string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "0", "-show_entries", "packet=dts_time",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe packets: %v", err)
	}
	var v struct {
		Packets []struct {
			DTS string `json:"dts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	var ts []float64
	for _, p := range v.Packets {
		f, err := strconv.ParseFloat(p.DTS, 64)
		if err == nil {
			ts = append(ts, f)
		}
	}
	return ts
}

// checkForward fails when decode times ever go back or jump by more than gap.
func checkForward(t *testing.T, name string, ts []float64, gap float64) {
	t.Helper()
	if len(ts) < 10 {
		t.Errorf("%s: only %d packets", name, len(ts))
		return
	}
	for i := 1; i < len(ts); i++ {
		if ts[i] <= ts[i-1] {
			t.Errorf("%s: packet %d at %.3f s after %.3f s", name, i, ts[i], ts[i-1])
			return
		}
		if ts[i]-ts[i-1] > gap {
			t.Errorf("%s: jump of %.3f s at packet %d", name, ts[i]-ts[i-1], i)
			return
		}
	}
}

// TestContinuity: two playlist entries, the upstream vanishes and returns,
// then a third entry without video. Viewers see one playlist whose media
// sequence only grows, timestamps only go forward, and never an error.
func TestContinuity(t *testing.T) {
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.MSMPEG4())
	c := clip(t, fixture.AudioOnly())
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 6})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	fed := fileDuration(t, a)*2 + fileDuration(t, b) + fileDuration(t, c)
	f := runLive(t, p, &scriptSource{steps: []Source{
		NewFileSource(3, false, a, b),
		gone(time.Second),
		NewFileSource(3, false, a, c),
	}, p: p}, func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	for _, s := range f.streams {
		if err := s.checkContiguous(); err != nil {
			t.Error(err)
		}
		file := s.file(t)
		// a run's last frame may be held up to a segment (hlsOutput.endRun)
		checkForward(t, s.uri, packetTimes(t, file), 1.05)
		mt := s.mediaTime()
		t.Logf("%s: %s EXTINF sum %v fed %v, sequence %d..%d", s.uri, ffprobe(t, file).codecs(), mt, fed, s.seqs[0], s.seqs[len(s.seqs)-1])
		if last := s.seqs[len(s.seqs)-1]; last < 3 {
			t.Errorf("%s: media sequence reached only %d: segments did not roll", s.uri, last)
		}
		// each of the two ends of the upstream closes a segment (endRun): up to a segment more each
		if d := fed - mt; d < -2250*time.Millisecond || d > 2500*time.Millisecond {
			t.Errorf("%s: media time %v, fed %v", s.uri, mt, fed)
		}
	}
	if n := ev.count("transcoder_start"); n != 4 {
		t.Errorf("%d ffmpeg runs, want 4 (one per entry)\n%s", n, ev.dump())
	}
	if m := p.Metadata(); m.Entries != 4 {
		t.Errorf("entries %d", m.Entries)
	}
}

// scriptSource plays sources one after the other; gone steps make the
// pipeline see the upstream vanish.
type scriptSource struct {
	steps []Source
	p     *Pipeline
}

type goneSource time.Duration

func gone(d time.Duration) Source { return goneSource(d) }

func (g goneSource) Next(ctx context.Context) (Item, error) { return Item{}, nil }

func (s *scriptSource) Next(ctx context.Context) (Item, error) {
	for len(s.steps) > 0 {
		if g, ok := s.steps[0].(goneSource); ok {
			s.steps = s.steps[1:]
			s.p.Discontinuity()
			select {
			case <-time.After(time.Duration(g)):
			case <-ctx.Done():
				return Item{}, ctx.Err()
			}
			continue
		}
		it, err := s.steps[0].Next(ctx)
		if err == nil {
			return it, nil
		}
		s.steps = s.steps[1:]
	}
	return Item{}, io.EOF
}
