package asf

import (
	"path/filepath"
	"testing"
)

// BenchmarkPacketUnmarshal parses the packets of glass.wmv (WMV1 + WMA2,
// single and multiple payloads) over and over; bytes/s is packet bytes.
func BenchmarkPacketUnmarshal(b *testing.B) {
	f, _ := openTestFile(b, filepath.Join("testdata", "media", "glass.wmv"))
	var pkts [][]byte
	for n := uint64(0); n < f.PacketCount; n++ {
		p, err := f.ReadPacket(n, nil)
		if err != nil {
			b.Fatal(err)
		}
		pkts = append(pkts, p)
	}
	var p Packet
	b.SetBytes(int64(f.PacketSize))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := p.Unmarshal(pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStripPadding measures the server's per-packet rewrite.
func BenchmarkStripPadding(b *testing.B) {
	f, _ := openTestFile(b, filepath.Join("testdata", "media", "glass.wmv"))
	pkt, err := f.ReadPacket(2, nil)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, f.PacketSize)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = StripPadding(dst[:0], pkt, false); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRestorePadding measures the client's per-packet rewrite.
func BenchmarkRestorePadding(b *testing.B) {
	f, _ := openTestFile(b, filepath.Join("testdata", "media", "glass.wmv"))
	pkt, err := f.ReadPacket(2, nil)
	if err != nil {
		b.Fatal(err)
	}
	s, err := StripPadding(nil, pkt, false)
	if err != nil {
		b.Fatal(err)
	}
	dst := make([]byte, 0, f.PacketSize)
	b.SetBytes(int64(f.PacketSize))
	b.ReportAllocs()
	for b.Loop() {
		if dst, err = RestorePadding(dst[:0], s, f.PacketSize); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHasKeyFrame measures the server's live-join check.
func BenchmarkHasKeyFrame(b *testing.B) {
	f, _ := openTestFile(b, filepath.Join("testdata", "media", "glass.wmv"))
	pkt, err := f.ReadPacket(0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.Header.HasKeyFrame(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReassembler measures media object reassembly (one copy of the
// media data per object, by design: objects outlive packets).
func BenchmarkReassembler(b *testing.B) {
	f, _ := openTestFile(b, filepath.Join("testdata", "media", "glass.wmv"))
	var pkts [][]byte
	for n := uint64(0); n < f.PacketCount; n++ {
		p, _ := f.ReadPacket(n, nil)
		pkts = append(pkts, p)
	}
	b.SetBytes(int64(f.PacketSize) * int64(len(pkts)))
	b.ReportAllocs()
	var p Packet
	for b.Loop() {
		r := NewReassembler(f.Header)
		for _, pkt := range pkts {
			if err := p.Unmarshal(pkt); err != nil {
				b.Fatal(err)
			}
			if _, err := r.Push(&p); err != nil {
				b.Fatal(err)
			}
		}
	}
}
