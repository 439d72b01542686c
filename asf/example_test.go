package asf_test

import (
	"fmt"
	"os"

	"github.com/mmsgate/mmsgate/asf"
)

// Reading a file: header, then every packet into media objects.
func Example() {
	fh, err := os.Open("testdata/media/jeanne.wma")
	if err != nil {
		panic(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	f, err := asf.OpenFile(fh, st.Size())
	if err != nil {
		panic(err)
	}
	h := f.Header
	fmt.Println(h.ContentDescription.Title, "by", h.ContentDescription.Author)
	for _, s := range h.Streams {
		fmt.Printf("stream %d: audio=%v format %#04x, %d Hz, %d bit/s\n",
			s.StreamNumber, s.IsAudio(), s.Audio.FormatTag, s.Audio.SamplesPerSec, s.Bitrate)
	}
	r := asf.NewReassembler(h)
	var p asf.Packet
	buf := make([]byte, f.PacketSize)
	objects := 0
	for n := uint64(0); n < f.PacketCount; n++ {
		b, err := f.ReadPacket(n, buf)
		if err != nil {
			panic(err)
		}
		if err := p.Unmarshal(b); err != nil {
			panic(err)
		}
		objs, err := r.Push(&p)
		if err != nil {
			panic(err)
		}
		objects += len(objs)
	}
	fmt.Println(f.PacketCount, "packets,", objects, "media objects")
	// Output:
	// Jeanne by Triode 48
	// stream 1: audio=true format 0x0161, 44100 Hz, 96573 bit/s
	// 153 packets, 153 media objects
}

// The padding rewrite of MS-MMSP 2.2.2: a server strips, a client restores.
func ExampleStripPadding() {
	fh, _ := os.Open("testdata/media/glass.wmv")
	defer fh.Close()
	st, _ := fh.Stat()
	f, _ := asf.OpenFile(fh, st.Size())
	pkt, _ := f.ReadPacket(2, nil)
	small, _ := asf.StripPadding(nil, pkt, false)
	full, _ := asf.RestorePadding(nil, small, f.PacketSize)
	fmt.Println(len(pkt), "->", len(small), "->", len(full))
	// Output: 2877 -> 2875 -> 2877
}
