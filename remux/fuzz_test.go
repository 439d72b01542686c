package remux

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// seedClip returns a small clip's header and first packets for fuzz seeds;
// nil when ffmpeg cannot make it.
func seedClip(f *testing.F, spec fixture.Spec) ([]byte, [][]byte) {
	p, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec)
	if err != nil {
		return nil, nil
	}
	hdr, pkts := readClip(f, p)
	return hdr, pkts[:min(4, len(pkts))]
}

// FuzzPipeline feeds a header and packets from the network into a pipeline
// (passthrough and direct remux; no ffmpeg): errors, never a panic or a hang.
func FuzzPipeline(f *testing.F) {
	for _, spec := range []fixture.Spec{fixture.H264(), fixture.WMV2()} {
		hdr, pkts := seedClip(f, spec)
		if hdr != nil {
			f.Add(hdr, bytes.Join(pkts, nil))
		}
	}
	if b, err := os.ReadFile("/work/shared/media/glass.wmv"); err == nil && len(b) > 10000 {
		f.Add(b[:5000], b[5000:10000])
	}
	f.Fuzz(func(t *testing.T, hdr, data []byte) {
		p, err := New(Options{Transcode: TranscodeNever})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		if p.WriteHeader(hdr) != nil {
			return
		}
		size := p.hdr.PacketSize()
		for len(data) > 0 {
			n := min(size, len(data))
			_ = p.WritePacket(data[:n])
			data = data[n:]
		}
		p.Discontinuity()
		_ = p.Metadata()
	})
}

// FuzzReaderSource reads arbitrary bytes as an ASF stream.
func FuzzReaderSource(f *testing.F) {
	hdr, pkts := seedClip(f, fixture.AudioOnly())
	if hdr != nil {
		f.Add(append(bytes.Clone(hdr), bytes.Join(pkts, nil)...))
	}
	f.Add([]byte("0&\xb2u\x8ef\xcf\x11\xa6\xd9\x00\xaa\x00b\xcel\xff\xff\xff\xff\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s := NewReaderSource(bytes.NewReader(b))
		for i := 0; i < 1000; i++ {
			if _, err := s.Next(context.Background()); err != nil {
				return
			}
		}
	})
}

// FuzzParseCommand decodes command stream objects.
func FuzzParseCommand(f *testing.F) {
	f.Add([]byte("T\x00E\x00X\x00T\x00\x00\x00h\x00i\x00\x00\x00"))
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, cmd, ok := parseCommand(b)
		if !ok && (typ != "" || cmd != "") {
			t.Fatal("values without ok")
		}
	})
}
