package asf

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// multiSource makes an ASF file with two video renditions (300 and 100
// kbit/s) and two audio streams, which FFmpeg writes without any
// multi-bit-rate objects.
func multiSource(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-y",
		"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-f", "lavfi", "-i", "sine=frequency=880:sample_rate=22050", "-t", "2",
		"-map", "0:v", "-map", "0:v", "-map", "1:a", "-map", "2:a",
		"-c:v", "wmv2", "-b:v:0", "300k", "-b:v:1", "100k", "-c:a", "wmav2", "-b:a:0", "64k", "-b:a:1", "32k",
		"-f", "asf", p).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	return p
}

// TestWriterMultiBitrate rewrites an FFmpeg file with Stream Bitrate
// Properties, a Bitrate Mutual Exclusion for the two video renditions,
// an Advanced Mutual Exclusion by language for the two audio streams and
// Extended Stream Properties; FFmpeg must open it with all streams and the
// same media objects, and our reader must find the exclusions.
func TestWriterMultiBitrate(t *testing.T) {
	src, _ := openTestFile(t, multiSource(t))
	objs := readObjects(t, src)
	h := src.Header
	if len(h.Streams) != 4 {
		t.Fatalf("source has %d streams", len(h.Streams))
	}
	cfg := WriterConfig{PacketSize: 1500, Preroll: uint32(h.FileProperties.Preroll),
		ContentDescription: &ContentDescription{Title: "multi", Author: "mmsgate"}}
	bitrates := []uint32{300000, 100000, 64000, 32000}
	langs := []string{"", "", "en-us", "fr-fr"}
	var video, audio []uint16
	for i, s := range h.Streams {
		ws := WriterStream{Number: s.StreamNumber, Type: s.Type, Audio: s.Audio, Video: s.Video,
			Bitrate: bitrates[i], Language: langs[i]}
		if s.IsVideo() {
			video = append(video, s.StreamNumber)
			ws.AvgTimePerFrame = 400000
		} else {
			audio = append(audio, s.StreamNumber)
		}
		cfg.Streams = append(cfg.Streams, ws)
	}
	cfg.MutualExclusions = []MutualExclusion{{Type: MutexBitrate, Streams: video}, {Type: MutexLanguage, Streams: audio}}
	cfg.SimpleIndexStream = video[0]
	var all []MediaObject
	for _, s := range h.Streams {
		all = append(all, objs[uint8(s.StreamNumber)]...)
	}
	slices.SortStableFunc(all, func(a, b MediaObject) int { return int(a.PresentationTime) - int(b.PresentationTime) })

	var out bytes.Buffer
	w, err := NewWriter(&out, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range all {
		if err := w.WriteObject(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "multi.asf")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}

	// FFmpeg: all four streams, every media object as written.
	checkAgainstFFprobe(t, path)

	f, _ := openTestFile(t, path)
	got := f.Header
	if len(got.MutualExclusions) != 2 ||
		got.MutualExclusions[0].Type != MutexBitrate || !slices.Equal(got.MutualExclusions[0].Streams, video) ||
		got.MutualExclusions[1].Type != MutexLanguage || !slices.Equal(got.MutualExclusions[1].Streams, audio) {
		t.Errorf("mutual exclusions: %+v", got.MutualExclusions)
	}
	for i, s := range got.Streams {
		if s.Bitrate != bitrates[i] || s.Language != langs[i] || s.Extended == nil {
			t.Errorf("stream %d: bitrate %d language %q extended %v", s.StreamNumber, s.Bitrate, s.Language, s.Extended != nil)
		}
	}
	if got.ContentDescription == nil || got.ContentDescription.Title != "multi" {
		t.Errorf("content description %+v", got.ContentDescription)
	}
	if f.SimpleIndex == nil || len(f.SimpleIndex.Entries) < 2 {
		t.Fatalf("simple index: %+v", f.SimpleIndex)
	}
	// entry i points at the packet starting the last key frame of the
	// indexed stream presented at or before i seconds
	keys := map[uint32]uint32{} // presentation time (ms, no preroll) -> packet
	var p Packet
	for n := uint64(0); n < f.PacketCount; n++ {
		b, _ := f.ReadPacket(n, nil)
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.Payloads {
			if pl.StreamNumber == uint8(video[0]) && pl.KeyFrame && pl.OffsetIntoMediaObject == 0 {
				keys[pl.PresentationTime-cfg.Preroll] = uint32(n)
			}
		}
	}
	if len(keys) < 2 {
		t.Fatalf("%d key frames", len(keys))
	}
	for i, e := range f.SimpleIndex.Entries {
		best, bestT := uint32(0), int64(-1)
		for pt, n := range keys {
			if int64(pt) <= int64(i)*1000 && int64(pt) > bestT {
				best, bestT = n, int64(pt)
			}
		}
		if e.PacketNumber != best {
			t.Errorf("index entry %d: packet %d, want %d (key frame at %d ms)", i, e.PacketNumber, best, bestT)
		}
	}
}

// TestWriterAudioSpread: objects written with audio spread are scrambled in
// the file; FFmpeg and our Reassembler descramble them to the same bytes.
func TestWriterAudioSpread(t *testing.T) {
	// 16-bit PCM in objects of 1200 bytes: Span 4 x Virtual Packet Length
	// 300, chunks of 100 bytes.
	pcm := &WaveFormatEx{FormatTag: 1, Channels: 1, SamplesPerSec: 8000, AvgBytesPerSec: 16000, BlockAlign: 2, BitsPerSample: 16}
	spread := &AudioSpreadInfo{Span: 4, VirtualPacketLength: 300, VirtualChunkLength: 100, SilenceData: []byte{0}}
	var objs []MediaObject
	for i := range 40 {
		d := make([]byte, 1200)
		for k := range d {
			d[k] = byte(k/100*16 + i)
		}
		objs = append(objs, MediaObject{StreamNumber: 1, PresentationTime: uint32(1000 + 75*i), KeyFrame: true, Data: d})
	}
	var out bytes.Buffer
	w, err := NewWriter(&out, WriterConfig{Preroll: 1000, Streams: []WriterStream{{Number: 1, Type: StreamTypeAudio,
		Audio: pcm, Bitrate: 128000, Spread: spread}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := w.WriteObject(o); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out.Bytes(), objs[0].Data[:300]) {
		t.Fatal("object stored unscrambled")
	}
	path := filepath.Join(t.TempDir(), "spread.asf")
	if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	checkAgainstFFprobe(t, path)
	f, _ := openTestFile(t, path)
	back := readObjects(t, f)[1]
	if len(back) != len(objs) {
		t.Fatalf("%d objects, wrote %d", len(back), len(objs))
	}
	for i := range back {
		if !bytes.Equal(back[i].Data, objs[i].Data) {
			t.Fatalf("object %d: descrambled bytes differ from the original", i)
		}
	}
	if sp := f.Header.Streams[0].Spread; sp == nil || sp.Span != 4 || sp.VirtualChunkLength != 100 {
		t.Errorf("spread: %+v", sp)
	}
}
