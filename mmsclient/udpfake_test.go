package mmsclient

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// TestHeaderTimerRetry: a server that ignores the first ReadBlock over UDP.
// The Header timer expires, the client sends CancelReadBlock and a new
// ReadBlock (3.1.6.1), and the header sent for the second one is used. The
// server also pings during the handshake and checks the Pongs.
func TestHeaderTimerRetry(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.AudioOnly())
	af, packets := sourcePackets(t, src)
	header := append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...)
	var readBlocks, cancels, pongs atomic.Int32
	url := fakeServer(t, func(c net.Conn) {
		var udpDst *net.UDPAddr
		udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return
		}
		defer udp.Close()
		ping := func() { _, _ = c.Write(mmsproto.Marshal(&mmsproto.LinkMacToViewerPing{}, 0, 0)) }
		scripted(func(c net.Conn, m mmsproto.Message) verdict {
			send := func(m mmsproto.Message) { _, _ = c.Write(mmsproto.Marshal(m, 1, 0)) }
			switch m := m.(type) {
			case *mmsproto.LinkViewerToMacConnect:
				ping() // keepalive during the handshake
			case *mmsproto.LinkViewerToMacPong:
				pongs.Add(1)
			case *mmsproto.LinkViewerToMacConnectFunnel:
				// \\127.0.0.1\UDP\port
				f := strings.Split(m.FunnelName, `\`)
				port, _ := strconv.Atoi(f[len(f)-1])
				udpDst = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}
				ping()
			case *mmsproto.LinkViewerToMacCancelReadBlock:
				cancels.Add(1)
			case *mmsproto.LinkViewerToMacReadBlock:
				if readBlocks.Add(1) == 1 {
					// Only the packet pair arrives: UDP works, the header is lost.
					for _, loc := range []uint32{0xF0F0F000, 0xF0F0F001} {
						_, _ = udp.WriteTo((&mmsproto.DataPacket{LocationID: loc, PlayIncarnation: 0xFF, AFFlags: 0x10, Payload: make([]byte, 1464)}).Marshal(), udpDst)
					}
					return handled
				}
				send(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: m.PlayIncarnation})
				for i := 0; i*1000 < len(header); i++ {
					part := header[i*1000 : min(len(header), (i+1)*1000)]
					fl := uint8(0x04)
					if (i+1)*1000 >= len(header) {
						fl = 0x0C
					}
					_, _ = udp.WriteTo((&mmsproto.DataPacket{LocationID: uint32(i), PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: fl, Payload: part}).Marshal(), udpDst)
				}
				return handled
			case *mmsproto.LinkViewerToMacStreamSwitch:
				send(&mmsproto.LinkMacToViewerReportStreamSwitch{})
				return handled
			case *mmsproto.LinkViewerToMacStartPlaying:
				send(&mmsproto.LinkMacToViewerReportStartedPlaying{PlayIncarnation: m.PlayIncarnation})
				for i, p := range packets {
					_, _ = udp.WriteTo((&mmsproto.DataPacket{LocationID: uint32(i), PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: uint8(i), Payload: p}).Marshal(), udpDst)
				}
				time.Sleep(50 * time.Millisecond)
				send(&mmsproto.LinkMacToViewerReportEndOfStream{PlayIncarnation: m.PlayIncarnation})
				return handled
			}
			return answerDefault
		})(c)
	})
	url = strings.Replace(url, "mmst://", "mmsu://", 1)
	s, err := Dial(context.Background(), url, Options{Bandwidth: 1e6, UDPTimeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, got := readAll(t, s)
	s.Close()
	if len(got) != len(packets) {
		t.Errorf("%d packets, want %d", len(got), len(packets))
	}
	if readBlocks.Load() != 2 || cancels.Load() != 1 {
		t.Errorf("%d ReadBlock, %d CancelReadBlock; want 2 and 1", readBlocks.Load(), cancels.Load())
	}
	if pongs.Load() != 2 {
		t.Errorf("%d Pongs for 2 Pings", pongs.Load())
	}
}
