package mmsclient

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// BenchmarkIngest measures the client receiving an unpaced file over TCP and
// UDP from an in-process mmsserver on loopback (bytes = ASF packets delivered).
func BenchmarkIngest(b *testing.B) {
	spec := fixture.WMV2()
	spec.Duration = 20 * time.Second
	spec.VideoBitrate = 1_000_000
	src := clip(b, spec)
	_, base := serveDir(b, dirWith(b, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Unpaced = true })
	// "tcp" keeps every packet (as a caller that retains them does);
	// "tcp-recycle" hands each one back with Recycle, as mmsget does.
	for _, name := range []string{"tcp", "tcp-recycle"} {
		transport, _, _ := strings.Cut(name, "-")
		recycle := strings.HasSuffix(name, "-recycle")
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			var total int64
			for b.Loop() {
				s, err := Dial(context.Background(), base+"a.wmv", Options{Transport: transport, Bandwidth: 10_000_000})
				if err != nil {
					b.Fatal(err)
				}
				for {
					it, err := s.Next(context.Background())
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					total += int64(len(it.Packet))
					if recycle {
						s.Recycle(it.Packet)
					}
				}
				s.Close()
			}
			b.SetBytes(total / int64(b.N))
		})
	}
}
