package asf

import (
	"bytes"
	"context"
	"errors"
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

// TestReassemblerGaps drops packets from a real file and expects ErrGap
// for every loss that touches a media object, and intact objects around it.
func TestReassemblerGaps(t *testing.T) {
	f, _ := openTestFile(t, generatedFiles(t)[0]) // WMV2 + WMA2
	var pkts [][]byte
	for n := uint64(0); n < f.PacketCount; n++ {
		b, err := f.ReadPacket(n, nil)
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
	}
	want := readObjects(t, f)
	// find a packet in the middle of a video object: a payload with offset > 0
	var p Packet
	mid := -1
	for i := 10; i < len(pkts) && mid < 0; i++ {
		if err := p.Unmarshal(pkts[i]); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.Payloads {
			if pl.OffsetIntoMediaObject > 0 && i+1 < len(pkts) {
				mid = i
			}
		}
	}
	if mid < 0 {
		t.Fatal("no fragmented object in the fixture")
	}
	r := NewReassembler(f.Header)
	var gaps int
	got := map[uint8][]MediaObject{}
	for i, b := range pkts {
		if i == mid {
			continue // lost
		}
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		objs, err := r.Push(&p)
		if err != nil {
			if !errors.Is(err, ErrGap) {
				t.Fatalf("packet %d: %v", i, err)
			}
			gaps++
		}
		for _, o := range objs {
			got[o.StreamNumber] = append(got[o.StreamNumber], o)
		}
	}
	if gaps == 0 {
		t.Fatal("losing packet", mid, "went unnoticed")
	}
	// every object delivered is one of the originals, byte for byte
	for sn, objs := range got {
		orig := map[uint32][]byte{}
		for _, o := range want[sn] {
			orig[o.PresentationTime] = o.Data
		}
		for _, o := range objs {
			if !bytes.Equal(orig[o.PresentationTime], o.Data) {
				t.Errorf("stream %d: damaged object at %d ms delivered", sn, o.PresentationTime)
			}
		}
		if len(objs) >= len(want[sn]) && sn == uint8(videoStream(f.Header)) {
			t.Errorf("stream %d: %d objects despite the loss (of %d)", sn, len(objs), len(want[sn]))
		}
	}
}

func videoStream(h *Header) uint16 {
	for _, s := range h.Streams {
		if s.IsVideo() {
			return s.StreamNumber
		}
	}
	return 0
}

// TestReassemblerMissingObject: whole objects lost between packets are
// reported by their Media Object Numbers; Reset forgets the history.
func TestReassemblerMissingObject(t *testing.T) {
	mk := func(num uint32, off, size uint32, data string) *Packet {
		return &Packet{PropertyFlags: 0x5d, Payloads: []Payload{{StreamNumber: 1, MediaObjectNumber: num,
			OffsetIntoMediaObject: off, MediaObjectSize: size, PresentationTime: 100 * num, Data: []byte(data)}}}
	}
	r := NewReassembler(nil)
	if objs, err := r.Push(mk(1, 0, 3, "abc")); err != nil || len(objs) != 1 || string(objs[0].Data) != "abc" {
		t.Fatalf("%v %v", objs, err)
	}
	objs, err := r.Push(mk(4, 0, 2, "de"))
	if !errors.Is(err, ErrGap) || len(objs) != 1 {
		t.Fatalf("objects 2..3 missing: %v %v", objs, err)
	}
	if _, err := r.Push(mk(5, 0, 4, "fg")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Push(mk(5, 3, 4, "h")); !errors.Is(err, ErrGap) {
		t.Fatalf("hole inside object 5: %v", err)
	}
	if _, err := r.Push(mk(6, 0, 4, "ij")); err != nil {
		t.Fatal(err)
	}
	if err := r.Flush(); !errors.Is(err, ErrGap) {
		t.Fatalf("object 6 incomplete at the end: %v", err)
	}
	r.Reset()
	if _, err := r.Push(mk(200, 0, 1, "k")); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
	// wrap-around of a BYTE object number is not a gap
	if _, err := r.Push(mk(255, 0, 1, "l")); !errors.Is(err, ErrGap) {
		t.Fatalf("jump 200 -> 255: %v", err)
	}
	if _, err := r.Push(mk(256, 0, 1, "m")); err != nil {
		t.Fatalf("255 -> 0: %v", err)
	}
	// size limit
	r.MaxObjectSize = 10
	if _, err := r.Push(mk(257, 0, 11, "n")); err == nil {
		t.Fatal("object over MaxObjectSize accepted")
	}
}

// TestReassemblerCompressed: sub-payloads become media objects with
// presentation times spaced by the delta.
func TestReassemblerCompressed(t *testing.T) {
	p := Packet{LengthTypeFlags: 0x10, PropertyFlags: 0x5d, SendTime: 5, Payloads: []Payload{{StreamNumber: 3,
		KeyFrame: true, MediaObjectNumber: 9, Compressed: true, PresentationTime: 1000, PresentationTimeDelta: 20,
		Data: []byte{2, 'a', 'b', 1, 'c', 3, 'd', 'e', 'f'}}}}
	b, err := p.Append(nil, 64)
	if err != nil {
		t.Fatal(err)
	}
	var q Packet
	if err := q.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	objs, err := NewReassembler(nil).Push(&q)
	if err != nil || len(objs) != 3 {
		t.Fatalf("%v %v", objs, err)
	}
	for i, want := range []string{"ab", "c", "def"} {
		o := objs[i]
		if string(o.Data) != want || o.PresentationTime != uint32(1000+20*i) || o.Number != uint32(9+i) || !o.KeyFrame {
			t.Errorf("sub-payload %d: %+v", i, o)
		}
	}
}

// TestReassemblerCompressedNumbering: after a compressed payload the next
// object may count the sub-payloads or not; neither is a gap.
func TestReassemblerCompressedNumbering(t *testing.T) {
	comp := func(num uint32) *Packet {
		return &Packet{PropertyFlags: 0x5d, Payloads: []Payload{{StreamNumber: 1, MediaObjectNumber: num,
			Compressed: true, PresentationTime: 10, PresentationTimeDelta: 5, Data: []byte{1, 'a', 1, 'b', 1, 'c'}}}}
	}
	for _, next := range []uint32{11, 13} {
		r := NewReassembler(nil)
		if _, err := r.Push(comp(10)); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Push(comp(next)); err != nil {
			t.Errorf("next object %d: %v", next, err)
		}
	}
	r := NewReassembler(nil)
	_, _ = r.Push(comp(10))
	if _, err := r.Push(comp(20)); !errors.Is(err, ErrGap) {
		t.Errorf("10 -> 20: %v", err)
	}
}
