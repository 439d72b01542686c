package mmsclient

import (
	"bytes"
	"context"
	"io"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// A caller that recycles every packet gets the same bytes as one that keeps
// them, and packets are really reused (not a second allocation each).
func TestRecycle(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Unpaced = true })
	_, want := sourcePackets(t, src)
	s, err := Dial(context.Background(), base+"a.wmv", Options{Transport: "tcp", StepTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	arrays := map[*byte]bool{}
	n := 0
	for ; ; n++ {
		it, err := s.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n >= len(want) || !bytes.Equal(it.Packet, want[n]) {
			t.Fatalf("packet %d differs from the source's", n)
		}
		arrays[&it.Packet[:1][0]] = true
		s.Recycle(it.Packet)
	}
	if n != len(want) {
		t.Fatalf("got %d packets, want %d", n, len(want))
	}
	if len(arrays) > maxFree+2 {
		t.Errorf("%d packets used %d distinct arrays: Recycle does not reuse them", n, len(arrays))
	}
	if p := s.Played(); p <= 0 {
		t.Errorf("Played() = %v after the whole clip", p)
	}
}

// packetSendTime reads what the full parser reads, for every packet of a
// file, with and without error correction data.
func TestPacketSendTime(t *testing.T) {
	_, pkts := sourcePackets(t, clip(t, fixture.WMV2()))
	for i, pkt := range pkts {
		var p asf.Packet
		if err := p.Unmarshal(pkt); err != nil {
			t.Fatal(err)
		}
		got, ok := packetSendTime(pkt)
		if !ok || got != p.SendTime {
			t.Fatalf("packet %d: send time %d %v, want %d", i, got, ok, p.SendTime)
		}
	}
	// No error correction data: the Length Type Flags come first.
	pkt := []byte{0x08, 0x5d, 0x10, 0x78, 0x56, 0x34, 0x12, 0x00, 0x00}
	if got, ok := packetSendTime(pkt); !ok || got != 0x12345678 {
		t.Errorf("send time %#x %v, want 0x12345678", got, ok)
	}
	for _, b := range [][]byte{nil, {0x82, 0, 0}, {0x08, 0x5d, 0x10, 0x78}} {
		if _, ok := packetSendTime(b); ok {
			t.Errorf("send time of truncated packet % x", b)
		}
	}
}
