package remux

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
	tscodecs "github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts/codecs"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// transcodedTS converts a clip with the transcoder's own ffmpeg arguments
// and returns the MPEG-TS that the transcoder reads back.
func transcodedTS(t testing.TB, spec fixture.Spec) []byte {
	t.Helper()
	path := clip(t, spec)
	hdr, _ := readClip(t, path)
	h, err := parseHeaderCopy(hdr)
	if err != nil {
		t.Fatal(err)
	}
	es, err := pickStreams(h, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := chooseOutParams(Options{SegmentDuration: time.Second}.withDefaults(), es)
	args := ffmpegArgs(out, keyOf(es))
	for i, a := range args {
		if a == "pipe:0" {
			args[i] = path
		}
	}
	dst := filepath.Join(t.TempDir(), "out.ts")
	args[len(args)-1] = dst
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tsUnit is one callback of a demuxer, reduced to what can be compared.
type tsUnit struct {
	video bool
	pts   int64
	n     int    // NALUs or access units
	sum   string // md5 of the NALUs / access units, each prefixed by its length
	conf  string // AAC configuration
}

func (u tsUnit) String() string {
	k := "aac"
	if u.video {
		k = "h264"
	}
	return fmt.Sprintf("%s pts=%d n=%d %s %s", k, u.pts, u.n, u.sum, u.conf)
}

func unitOf(video bool, pts int64, parts [][]byte, conf *mpeg4audio.AudioSpecificConfig) tsUnit {
	h := md5.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	u := tsUnit{video: video, pts: pts, n: len(parts), sum: hex.EncodeToString(h.Sum(nil))}
	if conf != nil {
		u.conf = fmt.Sprintf("%d/%d/%d", conf.Type, conf.SampleRate, conf.ChannelConfig)
	}
	return u
}

// referenceUnits reads b with mediacommon's mpegts.Reader, which the
// transcoder used before tsDemuxer, the way readOutput used it.
func referenceUnits(t *testing.T, b []byte) []tsUnit {
	t.Helper()
	mr := &mpegts.Reader{R: bytes.NewReader(b)}
	if err := mr.Initialize(); err != nil {
		t.Fatal(err)
	}
	var units []tsUnit
	for _, tr := range mr.Tracks() {
		switch c := tr.Codec.(type) {
		case *tscodecs.H264:
			mr.OnDataH264(tr, func(pts, _ int64, au [][]byte) error {
				units = append(units, unitOf(true, pts, au, nil))
				return nil
			})
		case *tscodecs.MPEG4Audio:
			conf := c.Config
			mr.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				units = append(units, unitOf(false, pts, aus, &conf))
				return nil
			})
		}
	}
	for {
		if err := mr.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return units
			}
			t.Fatal(err)
		}
	}
}

// demux reads r with tsDemuxer.
func demux(r io.Reader) (units []tsUnit, decodeErrs []error, err error) {
	d := newTSDemuxer(r)
	d.onH264 = func(pts int64, au [][]byte) error {
		units = append(units, unitOf(true, pts, au, nil))
		return nil
	}
	d.onAAC = func(conf *mpeg4audio.AudioSpecificConfig, pts int64, aus [][]byte) error {
		units = append(units, unitOf(false, pts, aus, conf))
		return nil
	}
	d.onDecodeError = func(err error) { decodeErrs = append(decodeErrs, err) }
	err = d.run()
	return units, decodeErrs, err
}

func diffUnits(t *testing.T, got, want []tsUnit) {
	t.Helper()
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i].String()
		}
		if i < len(want) {
			w = want[i].String()
		}
		if g != w {
			t.Fatalf("unit %d of %d/%d:\n got  %s\n want %s", i, len(got), len(want), g, w)
		}
	}
}

// TestTSDemuxMatchesMediacommon: on ffmpeg's real output, tsDemuxer gives
// the same calls as mediacommon's reader (order, PTS, bytes, AAC config),
// however the pipe splits the bytes.
func TestTSDemuxMatchesMediacommon(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec fixture.Spec
	}{
		{"video+audio", fixture.WMV2()},
		{"audio-only", fixture.AudioOnly()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := transcodedTS(t, tc.spec)
			want := referenceUnits(t, ts)
			var video, audio int
			for _, u := range want {
				if u.video {
					video++
				} else {
					audio++
				}
			}
			t.Logf("%d bytes: %d video, %d audio access unit groups", len(ts), video, audio)
			if audio < 50 || (tc.spec.Video != "" && video < 50) {
				t.Fatalf("reference too small: %d video, %d audio", video, audio)
			}
			for _, chunk := range []int{0, 1, 187, 189, 1000} {
				var r io.Reader = bytes.NewReader(ts)
				if chunk > 0 {
					r = &chunkReader{b: ts, n: chunk}
				}
				got, derrs, err := demux(r)
				if err != nil {
					t.Fatalf("chunk %d: %v", chunk, err)
				}
				if len(derrs) > 0 {
					t.Errorf("chunk %d: decode errors on clean input: %v", chunk, derrs)
				}
				diffUnits(t, got, want)
			}
		})
	}
}

// chunkReader returns at most n bytes per Read, as a pipe may.
type chunkReader struct {
	b []byte
	n int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[n:]
	return n, nil
}

// tsPackets splits a clean stream into its 188-byte packets.
func tsPackets(t *testing.T, b []byte) [][]byte {
	t.Helper()
	if len(b)%tsPacketSize != 0 {
		t.Fatalf("%d bytes: not whole packets", len(b))
	}
	var ps [][]byte
	for ; len(b) > 0; b = b[tsPacketSize:] {
		ps = append(ps, b[:tsPacketSize])
	}
	return ps
}

func pidOf(p []byte) int { return int(p[1]&0x1f)<<8 | int(p[2]) }

// TestTSDemuxDamage: truncation, lost packets and garbage give decode errors
// and lose only the access units they touch.
func TestTSDemuxDamage(t *testing.T) {
	ts := transcodedTS(t, fixture.WMV2())
	want := referenceUnits(t, ts)
	pkts := tsPackets(t, ts)

	t.Run("truncated", func(t *testing.T) {
		// in the middle of a packet, as when ffmpeg is killed
		for _, n := range []int{len(ts) / 3, len(ts)/2 + 77, len(ts) - 1} {
			got, _, err := demux(bytes.NewReader(ts[:n]))
			if err != nil {
				t.Fatalf("cut at %d: %v", n, err)
			}
			if len(got) == 0 || len(got) >= len(want) {
				t.Fatalf("cut at %d: %d units of %d", n, len(got), len(want))
			}
			// all but the units open at the cut are whole
			diffUnits(t, got[:len(got)-2], want[:len(got)-2])
		}
	})

	t.Run("lost packets", func(t *testing.T) {
		// drop one packet in the middle of a large video PES and one audio
		// PES start: both access units are lost and reported, nothing else
		var lossy [][]byte
		droppedVideo, droppedAudio := false, false
		var videoPID, audioPID int
		for i, p := range pkts {
			pusi := p[1]&0x40 != 0
			switch {
			case i > len(pkts)/2 && !droppedVideo && !pusi && pidOf(p) == 256 && pidOf(pkts[i-1]) == 256 && pidOf(pkts[i+1]) == 256:
				droppedVideo, videoPID = true, pidOf(p)
				continue
			case i > len(pkts)/2 && !droppedAudio && pusi && pidOf(p) == 257:
				droppedAudio, audioPID = true, pidOf(p)
				continue
			}
			lossy = append(lossy, p)
		}
		if !droppedVideo || !droppedAudio {
			t.Fatalf("no packets to drop (PIDs 256/257 expected from ffmpeg)")
		}
		got, derrs, err := demux(bytes.NewReader(bytes.Join(lossy, nil)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want)-2 {
			t.Errorf("%d units, want %d (two lost)", len(got), len(want)-2)
		}
		if !errorsMention(derrs, "continuity counter") {
			t.Errorf("no continuity error reported for PIDs %d/%d: %v", videoPID, audioPID, derrs)
		}
		missing := 0
		for i, j := 0, 0; i < len(want); i++ {
			if j < len(got) && got[j] == want[i] {
				j++
				continue
			}
			missing++
		}
		if missing != 2 {
			t.Errorf("%d units differ from the reference, want 2", missing)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		// garbage between packets, and a packet whose sync byte is gone
		var b bytes.Buffer
		junk := bytes.Repeat([]byte{0x47, 0x00, 0x11, 0xaa}, 100)
		for i, p := range pkts {
			switch i {
			case 100:
				b.Write(junk)
			case 300:
				b.Write([]byte("not a transport stream"))
			case 500:
				c := bytes.Clone(p)
				c[0] = 0x00
				p = c
			}
			b.Write(p)
		}
		got, derrs, err := demux(&b)
		if err != nil {
			t.Fatal(err)
		}
		if !errorsMention(derrs, "regain sync") {
			t.Errorf("no resync reported: %v", derrs)
		}
		if len(got) < len(want)-6 || len(got) > len(want) {
			t.Errorf("%d units of %d", len(got), len(want))
		}
	})

	t.Run("not MPEG-TS", func(t *testing.T) {
		_, _, err := demux(bytes.NewReader(bytes.Repeat([]byte("no sync here"), 200_000)))
		if !errors.Is(err, errTSNoSync) {
			t.Fatalf("err %v, want errTSNoSync", err)
		}
	})

	t.Run("empty", func(t *testing.T) {
		got, _, err := demux(bytes.NewReader(nil))
		if err != nil || len(got) != 0 {
			t.Fatalf("%d units, %v", len(got), err)
		}
	})

	t.Run("read error", func(t *testing.T) {
		boom := errors.New("boom")
		_, _, err := demux(io.MultiReader(bytes.NewReader(ts[:50_000]), &errReader{boom}))
		if !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("callback error stops", func(t *testing.T) {
		d := newTSDemuxer(bytes.NewReader(ts))
		calls := 0
		d.onH264 = func(int64, [][]byte) error { calls++; return errHLSClosed }
		d.onAAC = func(*mpeg4audio.AudioSpecificConfig, int64, [][]byte) error { calls++; return errHLSClosed }
		if err := d.run(); !errors.Is(err, errHLSClosed) || calls != 1 {
			t.Fatalf("err %v after %d calls", err, calls)
		}
	})
}

type errReader struct{ err error }

func (e *errReader) Read([]byte) (int, error) { return 0, e.err }

func errorsMention(errs []error, s string) bool {
	for _, err := range errs {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// TestTSDemuxKeepsRetainedBytes: what gohlslib keeps past a call (AAC access
// units until their part is written, the last SPS in its DTS extractor) is
// never overwritten by later packets, although the PES buffers are reused.
func TestTSDemuxKeepsRetainedBytes(t *testing.T) {
	ts := transcodedTS(t, fixture.WMV2())
	type kept struct {
		b   []byte
		sum [16]byte
	}
	var keep []kept
	d := newTSDemuxer(bytes.NewReader(ts))
	var lastSPS []byte
	spsCount := 0
	d.onH264 = func(_ int64, au [][]byte) error {
		for _, n := range au {
			if n[0]&0x1f == 7 {
				if lastSPS != nil && &lastSPS[0] != &n[0] && bytes.Equal(lastSPS, n) {
					t.Fatal("an unchanged SPS was passed in a new buffer")
				}
				lastSPS = n
				spsCount++
				keep = append(keep, kept{n, md5.Sum(n)})
			}
		}
		return nil
	}
	d.onAAC = func(_ *mpeg4audio.AudioSpecificConfig, _ int64, aus [][]byte) error {
		for _, au := range aus {
			keep = append(keep, kept{au, md5.Sum(au)})
		}
		return nil
	}
	if err := d.run(); err != nil {
		t.Fatal(err)
	}
	if spsCount < 2 {
		t.Fatalf("%d SPS seen; the clip should have one per key frame", spsCount)
	}
	for i, k := range keep {
		if md5.Sum(k.b) != k.sum {
			t.Fatalf("kept slice %d was overwritten", i)
		}
	}
}

func TestSplitAnnexBMatchesMediacommon(t *testing.T) {
	for _, b := range [][]byte{
		{0, 0, 0, 1, 9, 0xf0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x68, 3},
		{0, 0, 1, 0x65, 0, 0, 0, 0, 1, 0x41},
		{0, 0, 1},
		{0, 0, 0, 1, 0, 0, 1},
		{1, 2, 3},
		{0, 0, 1, 0x65, 0, 0},
	} {
		got, err := splitAnnexB(nil, b)
		var want h264.AnnexB
		werr := want.Unmarshal(b)
		if (err != nil) != (werr != nil) {
			t.Fatalf("% x: err %v, mediacommon %v", b, err, werr)
		}
		if err == nil && fmt.Sprint(got) != fmt.Sprint([][]byte(want)) {
			t.Fatalf("% x: %v, mediacommon %v", b, got, want)
		}
	}
}

// FuzzTSDemux reads arbitrary bytes as the transcoder's MPEG-TS: errors,
// never a panic or a hang, and only well-formed units reach the callbacks.
func FuzzTSDemux(f *testing.F) {
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0x47}, 188*3))
	for _, spec := range []fixture.Spec{fixture.WMV2(), fixture.AudioOnly()} {
		if ts := transcodedTS(f, spec); len(ts) > 0 {
			f.Add(ts[:min(len(ts), 40*tsPacketSize)])
			f.Add(ts[:min(len(ts), 40*tsPacketSize)+61])
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := newTSDemuxer(bytes.NewReader(b))
		d.onH264 = func(pts int64, au [][]byte) error {
			if len(au) == 0 || pts < 0 || pts >= 1<<33 {
				t.Fatalf("H.264 unit: %d NALUs, pts %d", len(au), pts)
			}
			for _, n := range au {
				if len(n) == 0 {
					t.Fatal("empty NALU")
				}
			}
			return nil
		}
		d.onAAC = func(conf *mpeg4audio.AudioSpecificConfig, pts int64, aus [][]byte) error {
			if len(aus) == 0 || conf.SampleRate == 0 || pts < 0 || pts >= 1<<33 {
				t.Fatalf("AAC unit: %d AUs, conf %+v, pts %d", len(aus), conf, pts)
			}
			return nil
		}
		_ = d.run()
	})
}
