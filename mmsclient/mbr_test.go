package mmsclient

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// mbrFile writes a multi-bit-rate ASF file with asf.Writer: English and
// German audio (language exclusion) and video at 1 Mbit/s and 200 kbit/s
// (bitrate exclusion), 20 s of synthetic media objects.
func mbrFile(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "mbr.asf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	audio := func(n uint16, lang string) asf.WriterStream {
		return asf.WriterStream{Number: n, Type: asf.StreamTypeAudio, Bitrate: 32000, Language: lang,
			Audio: &asf.WaveFormatEx{FormatTag: 0x0161, Channels: 1, SamplesPerSec: 22050, AvgBytesPerSec: 4000, BlockAlign: 743, BitsPerSample: 16}}
	}
	video := func(n uint16, br uint32) asf.WriterStream {
		return asf.WriterStream{Number: n, Type: asf.StreamTypeVideo, Bitrate: br,
			Video: &asf.BitmapInfoHeader{EncodedWidth: 320, EncodedHeight: 240, Width: 320, Height: 240, Planes: 1, BitCount: 24, Compression: asf.FourCC(0x32564D57)}}
	}
	w, err := asf.NewWriter(f, asf.WriterConfig{
		Preroll: 1000,
		Streams: []asf.WriterStream{audio(1, "en-us"), audio(2, "de-de"), video(3, 1_000_000), video(4, 200_000)},
		MutualExclusions: []asf.MutualExclusion{
			{Type: asf.MutexBitrate, Streams: []uint16{3, 4}},
			{Type: asf.MutexLanguage, Streams: []uint16{1, 2}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	for ms := uint32(0); ms < 20000; ms += 100 {
		for _, s := range []struct {
			n    uint8
			size int
		}{{1, 400}, {2, 400}, {3, 12500}, {4, 2500}} {
			data := make([]byte, s.size)
			copy(data, fmt.Sprintf("stream %d at %d", s.n, ms))
			if err := w.WriteObject(asf.MediaObject{StreamNumber: s.n, PresentationTime: 1000 + ms, KeyFrame: s.n <= 2 || ms%1000 == 0, Data: data}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// streamsIn lists the stream numbers with payloads in the packets.
func streamsIn(t *testing.T, packets [][]byte) []uint16 {
	var p asf.Packet
	seen := map[uint16]bool{}
	for _, b := range packets {
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.Payloads {
			seen[uint16(pl.StreamNumber)] = true
		}
	}
	var out []uint16
	for n := range seen {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

func TestMultiBitrateSelection(t *testing.T) {
	src := mbrFile(t)
	_, base := serveDir(t, dirWith(t, map[string]string{"mbr.asf": src}), func(s *mmsserver.Server) { s.Rate = 30 })
	for _, tc := range []struct {
		bw   int64
		lang string
		want string
	}{
		{5_000_000, "", "[1 3]"},
		{500_000, "de", "[2 4]"},
		{2_000_000, "de-DE", "[2 3]"},
	} {
		t.Run(fmt.Sprint(tc.bw, tc.lang), func(t *testing.T) {
			s, err := Dial(context.Background(), base+"mbr.asf", Options{Transport: "tcp", Bandwidth: tc.bw, Language: tc.lang})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := fmt.Sprint(s.Streams()); got != tc.want {
				t.Fatalf("selected %s, want %s", got, tc.want)
			}
			var packets [][]byte
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			for len(packets) < 100 {
				it, err := s.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				packets = append(packets, it.Packet)
			}
			if got := fmt.Sprint(streamsIn(t, packets)); got != tc.want {
				t.Errorf("payloads of streams %s arrive, want %s", got, tc.want)
			}
			// Switch to the other language and video rate while playing.
			if err := s.SwitchStreams(ctx, []uint16{1, 4}); err != nil {
				t.Fatal(err)
			}
			packets = packets[:0]
			for len(packets) < 200 {
				it, err := s.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				packets = append(packets, it.Packet)
			}
			if got := streamsIn(t, packets[100:]); fmt.Sprint(got) != "[1 4]" {
				t.Errorf("after the switch, streams %v arrive", got)
			}
		})
	}
}
