package mmsh_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsclient"
	"github.com/mmsgate/mmsgate/mmsh"
)

// TestMMSClientSwitchStreams: mmsclient.Session.SwitchStreams over MMSH
// (Transport "http") sends SelectStream: the high video stream arrives,
// the low one stops, Stats show the new selection.
func TestMMSClientSwitchStreams(t *testing.T) {
	p, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mbr.wmv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: &mmsh.Handler{Dir: dir, Rate: 2}, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	const audio, low, high = 1, 2, 3
	s, err := mmsclient.Dial(ctx, "mmsh://"+ln.Addr().String()+"/mbr.wmv", mmsclient.Options{Transport: "http", Streams: []uint16{audio, low}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.HTTP() == nil {
		t.Fatal("not over MMSH")
	}
	for range 3 {
		if _, err := s.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SwitchStreams(ctx, []uint16{audio, 42}); err == nil {
		t.Fatal("no error for a stream the header lacks")
	}
	if err := s.SwitchStreams(ctx, []uint16{audio, high}); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats().Streams; !slices.Equal(st, []uint16{audio, high}) {
		t.Fatalf("Stats().Streams = %v", st)
	}
	highSeen, lowAfter := false, 0
	var pkt asf.Packet
	for {
		it, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := pkt.Unmarshal(it.Packet); err != nil {
			t.Fatal(err)
		}
		for _, pl := range pkt.Payloads {
			switch {
			case pl.StreamNumber == high:
				highSeen = true
			case pl.StreamNumber == low && highSeen:
				lowAfter++
			}
		}
	}
	if !highSeen || lowAfter > 0 {
		t.Fatalf("high stream seen: %v; low payloads after it: %d", highSeen, lowAfter)
	}
}
