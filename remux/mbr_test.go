package remux

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// mbrClip writes a multi-bit-rate file as an upstream delivers it: the
// header declares two video streams of a bitrate mutual exclusion (1 and
// 3) and an audio stream (2); the packets carry only 3 and 2, the streams
// the server chose.
func mbrClip(t *testing.T) string {
	t.Helper()
	spec := fixture.WMV2()
	spec.Duration = 5 * time.Second
	hdr, pkts := readClip(t, clip(t, spec))
	h, err := asf.ParseHeader(bytes.Clone(hdr))
	if err != nil {
		t.Fatal(err)
	}
	v, a := h.Stream(1), h.Stream(2)
	var buf bytes.Buffer
	w, err := asf.NewWriter(&buf, asf.WriterConfig{
		Preroll: uint32(h.FileProperties.Preroll),
		Streams: []asf.WriterStream{
			{Number: 1, Type: asf.StreamTypeVideo, Video: v.Video, Bitrate: 600_000},
			{Number: 2, Type: asf.StreamTypeAudio, Audio: a.Audio, Bitrate: 64_000},
			{Number: 3, Type: asf.StreamTypeVideo, Video: v.Video, Bitrate: 300_000},
		},
		MutualExclusions: []asf.MutualExclusion{{Type: asf.MutexBitrate, Streams: []uint16{1, 3}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	ra := asf.NewReassembler(h)
	var pkt asf.Packet
	for _, b := range pkts {
		if err := pkt.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		objs, _ := ra.Push(&pkt)
		for _, o := range objs {
			if o.StreamNumber == 1 {
				o.StreamNumber = 3
			}
			if err := w.WriteObject(o); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mbr.wmv")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestMultiBitrateEntry: ffmpeg is told to decode the video stream that
// flows, not the first one the header lists.
func TestMultiBitrateEntry(t *testing.T) {
	path := mbrClip(t)
	ev := newEvents()
	p, err := New(Options{OnEvent: ev.fn(), SegmentDuration: time.Second, SegmentCount: 30})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	f := runLive(t, p, NewFileSource(4, false, path), func() { waitIdle(t, p) })
	if len(f.errors) > 0 {
		t.Fatalf("HTTP errors: %v", f.errors)
	}
	if len(f.streams) != 2 {
		t.Fatalf("%d media playlists\n%s", len(f.streams), ev.dump())
	}
	for _, s := range f.streams {
		if s.mediaTime() < 3*time.Second {
			t.Errorf("%s: %v of media\n%s", s.uri, s.mediaTime(), ev.dump())
		}
		ffprobe(t, s.file(t))
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	for _, e := range ev.all {
		if e.Kind == "transcoder_start" {
			if args, _ := e.Fields["args"].(string); !bytes.Contains([]byte(args), []byte("-map 0:i:3")) {
				t.Errorf("ffmpeg does not map stream 3: %s", args)
			}
		}
	}
}
