package mmsclient

import (
	"bytes"
	"context"
	"net"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

func FuzzTCPReader(f *testing.F) {
	f.Add(mmsproto.Marshal(&mmsproto.LinkMacToViewerPing{}, 0, 0))
	f.Add(append(mmsproto.Marshal(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: 1}, 1, 0),
		(&mmsproto.DataPacket{LocationID: 0, PlayIncarnation: 1, AFFlags: 0x0C, Payload: []byte("hdr")}).Marshal()...))
	f.Add(mmsproto.Marshal(mmsproto.NewReportFunnelInfo(mmsproto.MMSPacketPairTCPHighEntropy, 3, make([]byte, 480)), 2, 0))
	f.Add([]byte{0, 0, 0, 0, 1, 2, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := &tcpReader{r: bytes.NewReader(b), maxSize: 1 << 16}
		for i := 0; i < 1000; i++ {
			it, err := r.next()
			if err != nil {
				return
			}
			if it.msg == nil && len(it.data.Payload)+mmsproto.DataHeaderSize != it.size {
				t.Fatalf("Data packet of %d bytes with %d payload bytes", it.size, len(it.data.Payload))
			}
		}
	})
}

func FuzzDataPacket(f *testing.F) {
	f.Add((&mmsproto.DataPacket{LocationID: 0, PlayIncarnation: 1, AFFlags: 0x0C, Payload: []byte("hdr")}).Marshal())
	f.Add((&mmsproto.DataPacket{LocationID: 0xF0F0F000, PlayIncarnation: 0xFF, AFFlags: 0x10, Payload: make([]byte, 100)}).Marshal())
	f.Add((&mmsproto.DataPacket{LocationID: 7, PlayIncarnation: 9, AFFlags: 3, Payload: []byte{0x82, 0, 0, 0x11, 0x5d, 0, 0, 0, 0, 0, 0, 0, 0}}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDataPacket(b)
		if err != nil {
			return
		}
		// Through the session's handling, as a UDP packet while playing
		// and as a header part.
		s := &Session{opts: Options{MaxHeaderSize: 1 << 16}, dataInc: d.PlayIncarnation, packetSize: 256,
			reorder: newReorderBuffer(64, time.Millisecond, time.Second), log: discardLogger()}
		_ = s.onData(d, true, time.Now())
		s.assembly = newHeaderAssembly(d.PlayIncarnation, 1<<16)
		_ = s.onData(d, false, time.Now())
	})
}

// FuzzDial plays a server that answers Connect with arbitrary bytes: Dial
// must end with an error, never panic or hang.
func FuzzDial(f *testing.F) {
	ok := mmsproto.Marshal(&mmsproto.LinkMacToViewerReportConnectedEX{PlayIncarnation: mmsproto.MMSDisablePacketPair, ServerVersionInfo: "9.1"}, 0, 0)
	f.Add(ok)
	f.Add(append(ok, mmsproto.Marshal(mmsproto.NewReportFunnelInfo(mmsproto.MMSDisablePacketPair, 1, nil), 1, 0)...))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts := Options{
			Transport: "tcp", StepTimeout: 20 * time.Millisecond, IdleTimeout: 50 * time.Millisecond, MaxRedirects: -1,
			DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, srv := net.Pipe()
				go func() {
					defer srv.Close()
					buf := make([]byte, 4096)
					_ = srv.SetDeadline(time.Now().Add(time.Second))
					if _, err := srv.Read(buf); err != nil {
						return
					}
					_, _ = srv.Write(b)
					for {
						if _, err := srv.Read(buf); err != nil {
							return
						}
					}
				}()
				return c, nil
			},
		}
		s, err := Dial(context.Background(), "mmst://fuzz.invalid/x", opts)
		if err == nil {
			s.Close()
			t.Fatal("Dial succeeded against a server that never sends a header")
		}
	})
}
