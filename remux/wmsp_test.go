package remux

import (
	"context"
	"errors"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsh"
)

// TestPassthroughWMSP: an MMSH client (MS-WMSP) on the passthrough gets
// the header, the packets, the next entry's header in the stream (no
// reconnect), and an End at Close; FFmpeg's mmsh reader plays it.
func TestPassthroughWMSP(t *testing.T) {
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.MSMPEG4())
	p, err := New(Options{Outputs: Outputs{ASF: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	url := "mmsh://" + strings.TrimPrefix(srv.URL, "http://") + "/asf"
	ha, pa := readClip(t, a)
	hb, pb := readClip(t, b)
	if err := p.WriteHeader(ha); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := mmsh.Dial(ctx, url, mmsh.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out := filepath.Join(t.TempDir(), "ffmpeg.asf")
	ff := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", url, "-c", "copy", "-f", "asf", out)
	ffOut := &strings.Builder{}
	ff.Stderr = ffOut
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "two viewers", func() bool { return p.Viewers() == 2 })

	type result struct {
		headers, packets int
		err              error
	}
	got := make(chan result, 1)
	go func() {
		var r result
		for {
			it, err := s.Next(ctx)
			if err != nil {
				if !errors.Is(err, io.EOF) {
					r.err = err
				}
				got <- r
				return
			}
			if it.Header != nil {
				r.headers++
			}
			if it.Packet != nil {
				r.packets++
			}
		}
	}()
	for _, pk := range pa {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err := p.WriteHeader(hb); err != nil {
		t.Fatal(err)
	}
	for _, pk := range pb {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if n := p.Viewers(); n != 2 {
		t.Errorf("%d viewers after the entry change, want both MMSH viewers kept", n)
	}
	p.Close()
	r := <-got
	if r.err != nil || r.headers != 1 || r.packets < len(pb)+len(pa)/2 {
		t.Errorf("MMSH client: %d headers, %d packets (of %d+%d), %v", r.headers, r.packets, len(pa), len(pb), r.err)
	}
	if err := ff.Wait(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, ffOut)
	}
	if c := ffprobe(t, out).codecs(); !strings.Contains(c, "video:") {
		t.Errorf("ffmpeg over mmsh recorded %s", c)
	}
}
