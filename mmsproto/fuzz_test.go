package mmsproto

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

// Every parser of network bytes has a fuzz target. Seeds: f.Add below plus
// the corpus under testdata/fuzz/<FuzzName>/ (real FFmpeg and VLC bytes).

func seedMessages(f *testing.F) {
	for i, m := range allMessages() {
		f.Add(Marshal(m, uint16(i), 0))
	}
	f.Add((&DataPacket{LocationID: 1, PlayIncarnation: 2, AFFlags: 0x0C, Payload: []byte("hdr")}).Marshal())
}

// FuzzReader feeds arbitrary bytes to a Reader: it must never panic or
// allocate beyond its limit, and whatever it parses must survive a
// marshal/parse round trip unchanged.
func FuzzReader(f *testing.F) {
	seedMessages(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		rd := NewReader(bytes.NewReader(b), 4096)
		for range 64 {
			m, err := rd.Next()
			if err != nil {
				if m != nil {
					t.Fatalf("message and error: %v", err)
				}
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return
				}
				continue // the Reader may be out of sync; it must still not panic
			}
			checkRoundTrip(t, m)
		}
	})
}

func checkRoundTrip(t *testing.T, m Message) {
	t.Helper()
	b1 := Marshal(m, 3, 4)
	m2, err := ReadMessage(bytes.NewReader(b1), 1<<20)
	if err != nil {
		t.Fatalf("%T does not re-parse: %v\n% x", m, err, b1)
	}
	if b2 := Marshal(m2, 3, 4); !bytes.Equal(b1, b2) {
		t.Fatalf("%T round trip differs\n% x\n% x", m, b1, b2)
	}
}

// FuzzMessageBody parses arbitrary bodies for every MID.
func FuzzMessageBody(f *testing.F) {
	for _, m := range allMessages() {
		f.Add(m.MID(), m.AppendBody(nil))
	}
	f.Fuzz(func(t *testing.T, mid uint32, body []byte) {
		m := NewMessage(mid)
		if m == nil {
			return
		}
		if err := m.UnmarshalBody(body); err != nil {
			return
		}
		checkRoundTrip(t, m)
	})
}

// FuzzDataPacket parses UDP datagrams as Data packets.
func FuzzDataPacket(f *testing.F) {
	f.Add((&DataPacket{LocationID: LocationPacketPair1, PlayIncarnation: IncarnationPair, AFFlags: AFFlagsPacketPair, Payload: make([]byte, 64)}).Marshal())
	f.Add([]byte{0, 0, 0, 0, 1, 0, 8, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p DataPacket
		if err := p.Unmarshal(b); err != nil {
			return
		}
		if !bytes.Equal(p.Marshal(), b) {
			t.Fatal("Data packet round trip differs")
		}
	})
}

// FuzzRequestPacketListResend parses UDP datagrams as resend requests.
func FuzzRequestPacketListResend(f *testing.F) {
	f.Add((&RequestPacketListResend{ClientID: 1, SourceID: 2, Packets: []uint32{3, 4}}).Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var r RequestPacketListResend
		if err := r.Unmarshal(b); err != nil {
			return
		}
		if !bytes.Equal(r.Marshal(), b) || len(r.Packets) < 1 || len(r.Packets) > MaxResendPackets {
			t.Fatal("resend round trip differs")
		}
	})
}

// FuzzClientLog parses CLIENT_LOG structures.
func FuzzClientLog(f *testing.F) {
	l := testClientLog()
	f.Add(l.Marshal())
	f.Fuzz(func(t *testing.T, b []byte) {
		var l ClientLog
		if err := l.Unmarshal(b); err != nil {
			return
		}
		var l2 ClientLog
		if err := l2.Unmarshal(l.Marshal()); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(l.Marshal(), l2.Marshal()) {
			t.Fatal("CLIENT_LOG round trip differs")
		}
	})
}

// FuzzNTLMToken parses pToken and tokenData as NTLM carriers.
func FuzzNTLMToken(f *testing.F) {
	msg := append([]byte("NTLMSSP\x00"), 3, 0, 0, 0)
	f.Add(AppendNTLMToken(nil, msg, true))
	f.Add(AppendNTLMToken(nil, msg, false))
	f.Fuzz(func(t *testing.T, b []byte) {
		tok, err := NTLMToken(b)
		if err != nil {
			return
		}
		if !bytes.HasPrefix(tok, []byte("NTLMSSP\x00")) {
			t.Fatal("token without signature accepted")
		}
		var a NTLMAuth
		_ = a.Unmarshal(b)
		_, _ = ParseBasicChallenge(b)
	})
}

// FuzzNames parses subscriberName and funnelName strings.
func FuzzNames(f *testing.F) {
	f.Add("NSPlayer/7.0.0.1956; {7E667F5D-A661-495E-A512-F55686DDA178}; Host: 127.0.0.1")
	f.Add(`\\192.168.0.1\TCP\1242` + "\x000")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseSubscriberName(s)
		if fn, err := ParseFunnelName(s); err == nil {
			if fn.Port < 0 || fn.Port > 65535 || (fn.Proto != "TCP" && fn.Proto != "UDP") {
				t.Fatalf("bad funnel %+v", fn)
			}
		}
	})
}
