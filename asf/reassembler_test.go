package asf

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// readObjects reassembles every media object of a file, per stream.
func readObjects(t testing.TB, f *File) map[uint8][]MediaObject {
	t.Helper()
	r := NewReassembler(f.Header)
	objs := map[uint8][]MediaObject{}
	var p Packet
	buf := make([]byte, f.PacketSize)
	for n := uint64(0); n < f.PacketCount; n++ {
		b, err := f.ReadPacket(n, buf)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Unmarshal(b); err != nil {
			t.Fatalf("packet %d: %v", n, err)
		}
		out, err := r.Push(&p)
		if err != nil {
			t.Errorf("packet %d: %v", n, err)
		}
		for _, o := range out {
			objs[o.StreamNumber] = append(objs[o.StreamNumber], o)
		}
	}
	if err := r.Flush(); err != nil {
		t.Errorf("at the end: %v", err)
	}
	return objs
}

// TestMediaObjectsMatchFFprobe checks every media object against what
// FFmpeg's ASF demuxer reports: one AVPacket per media object, pts =
// PresentationTime - Preroll (ms; for H.264 FFmpeg reports that time as dts
// and leaves pts unset), same size, MD5 and, for video, key frame flag
// (FFmpeg marks every audio packet as a key frame; ASF files do not). FFmpeg re-frames MP3
// with its parser, so for MP3 streams the concatenated stream data is
// compared instead.
func TestMediaObjectsMatchFFprobe(t *testing.T) {
	for _, path := range allFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) { checkAgainstFFprobe(t, path) })
	}
}

// checkAgainstFFprobe compares every media object of the file at path
// with FFmpeg's packets; see TestMediaObjectsMatchFFprobe.
func checkAgainstFFprobe(t *testing.T, path string) {
	f, _ := openTestFile(t, path)
	objs := readObjects(t, f)
	probe := ffprobe(t, path, "-show_streams", "-show_packets", "-show_data_hash", "md5")
	var media []probeStream
	for _, s := range probe.Streams {
		if s.Disposition.AttachedPic == 0 {
			media = append(media, s)
		}
	}
	if len(media) != len(f.Header.Streams) {
		t.Fatalf("ffprobe reports %d media streams, header has %d", len(media), len(f.Header.Streams))
	}
	preroll := int64(f.Header.FileProperties.Preroll)
	for i, ps := range media {
		sn := uint8(f.Header.Streams[i].StreamNumber)
		var pkts []probePacket
		for _, p := range probe.Packets {
			if p.StreamIndex == ps.Index {
				pkts = append(pkts, p)
			}
		}
		ours := objs[sn]
		if len(ours) == 0 {
			t.Errorf("stream %d: no media objects", sn)
			continue
		}
		if ps.CodecName == "mp3" {
			compareConcatenated(t, path, ps.Index, ours)
			continue
		}
		if len(pkts) != len(ours) {
			t.Errorf("stream %d (%s): %d media objects, ffprobe %d packets", sn, ps.CodecName, len(ours), len(pkts))
		}
		for k := 0; k < min(len(pkts), len(ours)); k++ {
			o, p := ours[k], pkts[k]
			if p.PTS == nil {
				// H.264 with B-frames: FFmpeg gives the ASF time as dts only.
				p.PTS = p.DTS
			}
			if p.PTS == nil || *p.PTS != int64(o.PresentationTime)-preroll ||
				atoi(t, p.Size) != len(o.Data) || p.DataHash != "MD5:"+md5hex(o.Data) ||
				(ps.CodecType == "video" && o.KeyFrame != (p.Flags[0] == 'K')) {
				pts := int64(-1)
				if p.PTS != nil {
					pts = *p.PTS
				}
				t.Errorf("stream %d object %d: ours pts %d size %d md5 %s key %v; ffprobe pts %d size %s %s flags %s",
					sn, k, int64(o.PresentationTime)-preroll, len(o.Data), md5hex(o.Data), o.KeyFrame,
					pts, p.Size, p.DataHash, p.Flags)
				return
			}
		}
	}
}

func compareConcatenated(t *testing.T, path string, index int, objs []MediaObject) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", path, "-map", "0:"+itoa(index),
		"-c", "copy", "-f", "data", "-").Output()
	if err != nil {
		t.Fatalf("ffmpeg: %v", err)
	}
	var all []byte
	for _, o := range objs {
		all = append(all, o.Data...)
	}
	if len(all) != len(out) || md5hex(all) != md5hex(out) {
		t.Errorf("stream data: ours %d bytes md5 %s, ffmpeg %d bytes md5 %s", len(all), md5hex(all), len(out), md5hex(out))
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestHasKeyFrame: a packet has a key frame exactly when it carries the
// first fragment of a video media object that FFmpeg flags as key frame.
func TestHasKeyFrame(t *testing.T) {
	for _, path := range allFiles(t) {
		t.Run(filepath.Base(path), func(t *testing.T) {
			f, _ := openTestFile(t, path)
			h := f.Header
			var video uint8
			for _, s := range h.Streams {
				if s.IsVideo() && video == 0 {
					video = uint8(s.StreamNumber)
				}
			}
			probe := ffprobe(t, path, "-show_packets", "-show_streams")
			// video key frames by ffprobe, as (pts) set; byte positions are not
			// given for every packet, so match on the object's start packet below.
			keys := map[int64]bool{}
			for _, p := range probe.Packets {
				if video != 0 && probe.Streams[p.StreamIndex].CodecType == "video" && p.Flags[0] == 'K' && p.DTS != nil {
					keys[*p.DTS] = true
				}
			}
			var p Packet
			buf := make([]byte, f.PacketSize)
			found := 0
			for n := uint64(0); n < f.PacketCount; n++ {
				b, _ := f.ReadPacket(n, buf)
				if err := p.Unmarshal(b); err != nil {
					t.Fatal(err)
				}
				want := false
				for _, pl := range p.Payloads {
					start := pl.OffsetIntoMediaObject == 0 || pl.Compressed
					if video == 0 && start {
						want = true
					}
					if video != 0 && pl.StreamNumber == video && start &&
						keys[int64(pl.PresentationTime)-int64(h.FileProperties.Preroll)] {
						want = true
					}
				}
				got, err := h.HasKeyFrame(b)
				if err != nil || got != want {
					t.Fatalf("packet %d: HasKeyFrame %v (%v), want %v", n, got, err, want)
				}
				if video != 0 {
					got, _ := HasKeyFrame(b, video)
					if got != want {
						t.Fatalf("packet %d: HasKeyFrame(stream %d) %v, want %v", n, video, got, want)
					}
				}
				if want {
					found++
				}
			}
			if found == 0 || (video != 0 && found != len(keys)) {
				t.Errorf("%d packets with key frames, ffprobe has %d key frames", found, len(keys))
			}
		})
	}
}
