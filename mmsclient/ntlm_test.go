package mmsclient

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// TestNTLMSequence runs the NTLM sequence of 4.6.2 against the server side
// of the auth package (NTLMv2 verification) in a scripted server: OpenFile,
// challenge, NEGOTIATE, CHALLENGE, AUTHENTICATE, ReportOpenFile; and a wrong
// password ends with ErrAuth after the server's renewed challenge.
func TestNTLMSequence(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	af, packets := sourcePackets(t, src)
	header := append(append([]byte(nil), af.HeaderBytes...), af.DataHeader...)
	as := &auth.Server{Scheme: auth.SchemeNTLM, Lookup: auth.SingleUser("alice", "s3cret")}
	url := fakeServer(t, func(c net.Conn) {
		x := as.NewExchange()
		var open *mmsproto.LinkViewerToMacOpenFile
		send := func(m mmsproto.Message) { _, _ = c.Write(mmsproto.Marshal(m, 1, 0)) }
		step := func(inc uint32, tok []byte) verdict {
			ok, next, _ := x.Step(tok)
			if ok {
				send(&mmsproto.LinkMacToViewerReportOpenFile{PlayIncarnation: inc, OpenFileID: 1, FilePacketSize: uint32(af.PacketSize),
					FileBitRate: 100000, FileHeaderSize: uint32(len(header))})
			} else {
				send(&mmsproto.LinkMacToViewerSecurityChallenge{PlayIncarnation: inc, Cookie: 5, Token: next})
			}
			return handled
		}
		scripted(func(c net.Conn, m mmsproto.Message) verdict {
			switch m := m.(type) {
			case *mmsproto.LinkViewerToMacConnect:
				send(&mmsproto.LinkMacToViewerReportConnectedEX{PlayIncarnation: mmsproto.MMSDisablePacketPair,
					ServerVersionInfo: "9.1.1.3814", AuthenPackage: "NTLM"})
				return handled
			case *mmsproto.LinkViewerToMacOpenFile:
				open = m
				return step(m.PlayIncarnation, m.TokenData)
			case *mmsproto.LinkViewerToMacSecurityResponse:
				if open == nil || m.Cookie != 5 {
					return hangUp
				}
				return step(m.PlayIncarnation, m.Token)
			case *mmsproto.LinkViewerToMacReadBlock:
				send(&mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: m.PlayIncarnation})
				_, _ = c.Write((&mmsproto.DataPacket{PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: 0x0C, Payload: header}).Marshal())
				return handled
			case *mmsproto.LinkViewerToMacStreamSwitch:
				send(&mmsproto.LinkMacToViewerReportStreamSwitch{})
				return handled
			case *mmsproto.LinkViewerToMacStartPlaying:
				send(&mmsproto.LinkMacToViewerReportStartedPlaying{PlayIncarnation: m.PlayIncarnation})
				for i, p := range packets {
					_, _ = c.Write((&mmsproto.DataPacket{LocationID: uint32(i), PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: uint8(i), Payload: p}).Marshal())
				}
				send(&mmsproto.LinkMacToViewerReportEndOfStream{PlayIncarnation: m.PlayIncarnation})
				return handled
			}
			return answerDefault
		})(c)
	})
	s, err := Dial(context.Background(), url, Options{Username: `CORP\alice`, Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	_, got := readAll(t, s)
	s.Close()
	if len(got) != len(packets) {
		t.Errorf("%d packets, want %d", len(got), len(packets))
	}
	if st := s.Stats(); st.AuthScheme != "NTLM" {
		t.Errorf("auth scheme %q", st.AuthScheme)
	}
	_, err = Dial(context.Background(), url, Options{Username: "alice", Password: "wrong"})
	if !errors.Is(err, ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
}
