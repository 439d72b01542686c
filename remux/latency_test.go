package remux

import (
	"context"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestLatency: the HLS edge's age is 0 before the first segment, small while
// media arrives, and grows while the upstream is silent.
func TestLatency(t *testing.T) {
	path := clip(t, fixture.H264())
	p, err := New(Options{Outputs: Outputs{HLS: true}, Transcode: TranscodeNever, SegmentDuration: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if l := p.Latency(); l != 0 {
		t.Fatalf("latency before any media: %v", l)
	}
	start := time.Now()
	if err := Feed(context.Background(), NewFileSource(0, false, path), p); err != nil {
		t.Fatal(err)
	}
	fed := time.Since(start)
	l := p.Latency()
	if l <= 0 || l > fed {
		t.Fatalf("latency %v right after a feed of %v: no segment cut during it", l, fed)
	}
	// The upstream is now silent: the edge only gets older.
	const stall = 1200 * time.Millisecond
	time.Sleep(stall)
	if l2 := p.Latency(); l2 < stall || l2 < l {
		t.Fatalf("latency %v after a %v stall (was %v)", l2, stall, l)
	}

	asfOnly, err := New(Options{Outputs: Outputs{ASF: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer asfOnly.Close()
	if l := asfOnly.Latency(); l != 0 {
		t.Fatalf("latency without HLS: %v", l)
	}
}
