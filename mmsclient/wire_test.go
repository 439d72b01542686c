package mmsclient

import (
	"bytes"
	"testing"
	"testing/iotest"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// Data packets returned by the reader keep their bytes while later ones
// are read (the chunk is never rewritten under them), whether the reader
// detaches its chunk between batches or not, and however the bytes arrive.
func TestTCPReaderChunks(t *testing.T) {
	var wire []byte
	var want [][]byte
	for i := range 200 {
		p := bytes.Repeat([]byte{byte(i)}, 1+i*397%9000)
		want = append(want, p)
		wire = append(wire, (&mmsproto.DataPacket{LocationID: uint32(i), PlayIncarnation: 1, Payload: p}).Marshal()...)
		if i%50 == 0 {
			wire = append(wire, mmsproto.Marshal(&mmsproto.LinkMacToViewerPing{}, uint16(i), 0)...)
		}
	}
	for _, tc := range []struct {
		name   string
		wrap   func([]byte) *tcpReader
		detach bool
	}{
		{"whole", func(b []byte) *tcpReader { return &tcpReader{r: bytes.NewReader(b), maxSize: 1 << 16} }, false},
		{"half reads", func(b []byte) *tcpReader {
			return &tcpReader{r: iotest.HalfReader(bytes.NewReader(b)), maxSize: 1 << 16}
		}, false},
		{"detached", func(b []byte) *tcpReader {
			return &tcpReader{r: iotest.HalfReader(bytes.NewReader(b)), maxSize: 1 << 16}
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.wrap(wire)
			var got [][]byte
			pings := 0
			for len(got) < len(want) {
				it, err := r.next()
				if err != nil {
					t.Fatalf("after %d packets: %v", len(got), err)
				}
				if it.msg != nil {
					pings++
					continue
				}
				got = append(got, it.data.Payload)
				if tc.detach && !r.buffered() {
					r.detach(nil)
				}
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d changed after it was returned", i)
				}
			}
			if pings != 4 {
				t.Errorf("%d pings, want 4", pings)
			}
			if _, err := r.next(); err == nil {
				t.Error("no error at the end of the stream")
			}
		})
	}
}
