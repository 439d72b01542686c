package mmsproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"reflect"
	"testing"
	"testing/iotest"
	"time"
)

func TestReaderMixedStream(t *testing.T) {
	var b []byte
	b = AppendMarshal(b, &LinkMacToViewerReportStartedPlaying{PlayIncarnation: 4}, 0, 0)
	for i := range 3 {
		b = AppendMarshal(b, &DataPacket{LocationID: uint32(i), PlayIncarnation: 4, AFFlags: uint8(i), Payload: bytes.Repeat([]byte{byte(i)}, 100+i)}, 0, 0)
	}
	b = AppendMarshal(b, &LinkMacToViewerReportEndOfStream{PlayIncarnation: 4}, 1, 0)
	// One byte per Read: a message split over many TCP segments.
	rd := NewReader(iotest.OneByteReader(bytes.NewReader(b)), 0)
	if m, err := rd.Next(); err != nil || m.MID() != MIDLinkMacToViewerReportStartedPlaying {
		t.Fatalf("first: %v %v", m, err)
	}
	for i := range 3 {
		m, err := rd.Next()
		if err != nil {
			t.Fatal(err)
		}
		dp, ok := m.(*DataPacket)
		if !ok || dp.LocationID != uint32(i) || dp.AFFlags != uint8(i) || len(dp.Payload) != 100+i || dp.Payload[0] != byte(i) {
			t.Fatalf("data %d: %+v", i, m)
		}
	}
	if m, err := rd.Next(); err != nil || m.MID() != MIDLinkMacToViewerReportEndOfStream || rd.Header().Seq != 1 {
		t.Fatalf("last: %v %v %+v", m, err, rd.Header())
	}
	if _, err := rd.Next(); err != io.EOF {
		t.Fatalf("end: %v", err)
	}
}

// 2.2.3 allows several messages in one TcpMessageHeader packet.
func TestReaderSeveralMessagesPerPacket(t *testing.T) {
	one := Marshal(&LinkMacToViewerPing{}, 7, 0)
	body := append(MarshalBody(&LinkMacToViewerReportStreamSwitch{}), MarshalBody(&LinkMacToViewerPing{Param1: 5})...)
	b := append([]byte{}, one[:HeaderSize]...)
	b = append(b, body...)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(b)-16))
	binary.LittleEndian.PutUint32(b[16:], uint32(len(b)/8))
	msgs, err := ParseMessages(b[HeaderSize:])
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ParseMessages: %v %v", msgs, err)
	}
	rd := NewReader(bytes.NewReader(b), 0)
	m1, err1 := rd.Next()
	m2, err2 := rd.Next()
	if err1 != nil || err2 != nil || m1.MID() != MIDLinkMacToViewerReportStreamSwitch || !reflect.DeepEqual(m2, &LinkMacToViewerPing{Param1: 5}) {
		t.Fatalf("Reader: %v %v %v %v", m1, err1, m2, err2)
	}
	if _, err := ReadMessage(bytes.NewReader(b), 0); !errors.Is(err, ErrMultipleMessages) {
		t.Fatalf("ReadMessage: %v", err)
	}
	if _, err := UnmarshalMessage(b[HeaderSize:]); !errors.Is(err, ErrMultipleMessages) {
		t.Fatalf("UnmarshalMessage: %v", err)
	}
}

func TestReaderErrors(t *testing.T) {
	good := Marshal(&LinkViewerToMacConnect{SubscriberName: "NSPlayer/9.0"}, 0, 0)
	mod := func(f func(b []byte)) []byte {
		b := bytes.Clone(good)
		f(b)
		return b
	}
	cases := []struct {
		name string
		in   []byte
		max  int
		want error
	}{
		{"bad seal", mod(func(b []byte) { b[12] = 'X' }), 0, ErrBadSignature},
		{"bad rep", mod(func(b []byte) { b[0] = 2 }), 0, ErrBadValue},
		{"length not multiple of 8", mod(func(b []byte) { b[8]++ }), 0, ErrBadLength},
		{"length below minimum", mod(func(b []byte) { binary.LittleEndian.PutUint32(b[8:], 16) }), 0, ErrBadLength},
		{"chunkCount lies", mod(func(b []byte) { b[16] += 5 }), 0, ErrBadLength},
		{"huge length", mod(func(b []byte) {
			binary.LittleEndian.PutUint32(b[8:], 0xFFFFFFF0)
			binary.LittleEndian.PutUint32(b[16:], 0xFFFFFFF0/8)
		}), 0, ErrTooLarge},
		{"over limit", good, 40, ErrTooLarge},
		{"chunkLen beyond packet", mod(func(b []byte) { b[32] = 200 }), 0, ErrBadLength},
		{"chunkLen zero", mod(func(b []byte) { b[32] = 0 }), 0, ErrBadLength},
		{"unknown MID", mod(func(b []byte) { b[36] = 0x77 }), 0, ErrUnknownMID},
		{"truncated", good[:len(good)-3], 0, io.ErrUnexpectedEOF},
		{"truncated header", good[:20], 0, io.ErrUnexpectedEOF},
		{"data packet size below header", []byte{0, 0, 0, 0, 1, 0, 4, 0}, 0, ErrBadLength},
		{"data packet over limit", []byte{0, 0, 0, 0, 1, 0, 0xFF, 0xFF}, 1000, ErrTooLarge},
		{"data packet truncated", []byte{0, 0, 0, 0, 1, 0, 20, 0, 1, 2}, 0, io.ErrUnexpectedEOF},
	}
	for _, c := range cases {
		_, err := ReadMessage(bytes.NewReader(c.in), c.max)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.want)
		}
	}
	var u *UnknownMIDError
	_, err := ReadMessage(bytes.NewReader(mod(func(b []byte) { b[36] = 0x77 })), 0)
	if !errors.As(err, &u) || u.MID != 0x00030077 {
		t.Errorf("UnknownMIDError: %v", err)
	}
}

// After an unknown MID or a bad message body the Reader stays in sync.
func TestReaderResync(t *testing.T) {
	bad := Marshal(&LinkMacToViewerPing{}, 0, 0)
	bad[36] = 0x99
	short := Marshal(&LinkViewerToMacFunnelInfo{}, 1, 0)
	short[36] = byte(MIDLinkViewerToMacReadBlock & 0xFF) // body far too short for ReadBlock
	b := append(append(bad, short...), Marshal(&LinkViewerToMacPong{Param1: 9}, 2, 0)...)
	rd := NewReader(bytes.NewReader(b), 0)
	if _, err := rd.Next(); !errors.Is(err, ErrUnknownMID) {
		t.Fatal(err)
	}
	if _, err := rd.Next(); !errors.Is(err, ErrShort) {
		t.Fatal(err)
	}
	if m, err := rd.Next(); err != nil || !reflect.DeepEqual(m, &LinkViewerToMacPong{Param1: 9}) {
		t.Fatal(m, err)
	}
}

// A Reader on a real loopback socket with a peer that writes in small
// pieces and then stalls gets its deadline error, not a hang.
func TestReaderSocketDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	msg := Marshal(&LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "a/b.asf"}, 0, 0)
	done, stop := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		for i := range msg {
			c.Write(msg[i : i+1])
		}
		c.Write(msg[:10]) // then a partial packet, and silence
		<-stop
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	rd := NewReader(c, 0)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := rd.Next()
	if err != nil || m.(*LinkViewerToMacOpenFile).FileName != "a/b.asf" {
		t.Fatal(m, err)
	}
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	var ne net.Error
	if _, err := rd.Next(); !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("stalled peer: %v", err)
	}
	close(stop)
	<-done
}

func TestBodyLengthChecks(t *testing.T) {
	// Counts that point past the message are errors, not allocations.
	ss := MarshalBody(&LinkViewerToMacStreamSwitch{Entries: []StreamSwitchEntry{{1, 2, 0}}})
	binary.LittleEndian.PutUint32(ss[8:], 0x7FFFFFFF)
	if _, err := UnmarshalMessage(ss); !errors.Is(err, ErrBadLength) {
		t.Errorf("StreamSwitch count: %v", err)
	}
	sr := MarshalBody(&LinkViewerToMacSecurityResponse{Token: []byte("abc")})
	binary.LittleEndian.PutUint32(sr[16:], 1000)
	if _, err := UnmarshalMessage(sr); !errors.Is(err, ErrBadLength) {
		t.Errorf("SecurityResponse cbToken: %v", err)
	}
	of := MarshalBody(&LinkViewerToMacOpenFile{FileName: "x", TokenData: []byte("tok")})
	binary.LittleEndian.PutUint32(of[16:], 0xFFFFFFF0)
	if _, err := UnmarshalMessage(of); !errors.Is(err, ErrBadLength) {
		t.Errorf("OpenFile token: %v", err)
	}
	ce := MarshalBody(NewReportConnectedEX(0, "9.0", "NTLM"))
	binary.LittleEndian.PutUint32(ce[8+40:], 5000)
	if _, err := UnmarshalMessage(ce); !errors.Is(err, ErrBadLength) {
		t.Errorf("ConnectedEX cb: %v", err)
	}
	rd := MarshalBody(&LinkMacToViewerReportRedirect{Location: "mms://x/"})
	binary.LittleEndian.PutUint16(rd[14:], 0xFFFF)
	if _, err := UnmarshalMessage(rd); !errors.Is(err, ErrBadLength) {
		t.Errorf("Redirect cbLocation: %v", err)
	}
	lg := MarshalBody(&LinkViewerToMacLogging{Log: testClientLog()})
	binary.LittleEndian.PutUint32(lg[8:], 12)
	if _, err := UnmarshalMessage(lg); !errors.Is(err, ErrBadLength) {
		t.Errorf("Logging cbSize: %v", err)
	}
	if _, err := UnmarshalMessage(MarshalBody(&LinkViewerToMacLogging{Log: testClientLog()})[:1000]); err == nil {
		t.Errorf("truncated Logging accepted")
	}
}
