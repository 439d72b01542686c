package mmsproto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

// testASF is the little this package's tests need to know about an ASF file
// to stream it: the MMS "ASF file header" (Header Object plus the 50-byte
// Data Object prefix, 2.2.2) and the fixed-size data packets.
type testASF struct {
	header     []byte
	packets    [][]byte
	packetSize int
	duration   float64 // seconds
	bitRate    uint32
}

var asfFilePropertiesGUID = []byte{0xA1, 0xDC, 0xAB, 0x8C, 0x47, 0xA9, 0xCF, 0x11, 0x8E, 0xE4, 0x00, 0xC0, 0x0C, 0x20, 0x53, 0x65}

func loadTestASF(path string) (*testASF, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 30 {
		return nil, errors.New("short ASF file")
	}
	hsize := int(binary.LittleEndian.Uint64(b[16:]))
	if hsize+50 > len(b) {
		return nil, errors.New("bad header size")
	}
	f := &testASF{header: b[:hsize+50]}
	i := bytes.Index(b[:hsize], asfFilePropertiesGUID)
	if i < 0 || i+104 > hsize {
		return nil, errors.New("no File Properties Object")
	}
	fp := b[i:]
	f.duration = float64(binary.LittleEndian.Uint64(fp[64:])) / 1e7
	preroll := float64(binary.LittleEndian.Uint64(fp[80:])) / 1e3
	f.duration = math.Max(0, f.duration-preroll)
	f.packetSize = int(binary.LittleEndian.Uint32(fp[92:]))
	f.bitRate = binary.LittleEndian.Uint32(fp[100:])
	count := binary.LittleEndian.Uint64(fp[56:])
	if f.packetSize <= 0 || f.packetSize > 0xFFF0 {
		return nil, fmt.Errorf("packet size %d", f.packetSize)
	}
	data := b[hsize+50:]
	for n := uint64(0); n < count && len(data) >= f.packetSize; n++ {
		f.packets = append(f.packets, data[:f.packetSize])
		data = data[f.packetSize:]
	}
	return f, nil
}

// captured is one message the client sent, with its exact bytes.
type captured struct {
	raw []byte
	msg Message
}

// scriptedServer answers just enough of section 3.2 to lead a real client
// (FFmpeg, VLC) through a whole TCP session with this package's own
// messages: it is a test double for the wire format, not the server.
type scriptedServer struct {
	t    *testing.T
	ln   net.Listener
	file *testASF

	mu   sync.Mutex
	got  []captured
	done chan struct{}
	// noEndOfStream: FFmpeg never consumes EndOfStream (see TestFFmpegLive);
	// left unread it would make FFmpeg's close reset the connection.
	noEndOfStream bool
	serveErr      error
}

func newScriptedServer(t *testing.T, file *testASF, noEndOfStream bool) *scriptedServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scriptedServer{t: t, ln: ln, file: file, done: make(chan struct{}), noEndOfStream: noEndOfStream}
	go s.serve()
	t.Cleanup(func() { ln.Close(); <-s.done })
	return s
}

func (s *scriptedServer) addr() string { return s.ln.Addr().String() }

func (s *scriptedServer) messages() []captured {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]captured(nil), s.got...)
}

func (s *scriptedServer) serve() {
	defer close(s.done)
	conn, err := s.ln.Accept()
	if err != nil {
		return
	}
	defer conn.Close()
	// Only one connection is served; stop accepting so a second client fails fast.
	s.ln.Close()
	err = s.session(conn)
	s.mu.Lock()
	s.serveErr = err
	s.mu.Unlock()
}

func (s *scriptedServer) session(conn net.Conn) error {
	var raw bytes.Buffer
	rd := NewReader(io.TeeReader(conn, &raw), DefaultMaxSize)
	var seq uint16
	send := func(msgs ...Message) error {
		var b []byte
		for _, m := range msgs {
			if _, ok := m.(*DataPacket); !ok {
				b = AppendMarshal(b, m, seq, 0)
				seq++
				continue
			}
			b = AppendMarshal(b, m, 0, 0)
		}
		conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
		_, err := conn.Write(b)
		return err
	}
	// Data packets go over TCP, or over UDP once ConnectFunnel asks for it
	// (2.2.4.18; the address in funnelName is not trusted, the TCP peer's is).
	var udp net.Conn
	defer func() {
		if udp != nil {
			udp.Close()
		}
	}()
	sendData := func(pkts ...*DataPacket) error {
		if udp == nil {
			msgs := make([]Message, len(pkts))
			for i, p := range pkts {
				msgs[i] = p
			}
			return send(msgs...)
		}
		// Paced like a server sending by ASF send time, so that the
		// datagrams are read before EndOfStream arrives on TCP (VLC wants a
		// media packet before any further command after StartedPlaying).
		for _, p := range pkts {
			if _, err := udp.Write(p.Marshal()); err != nil {
				return err
			}
			time.Sleep(10 * time.Millisecond)
		}
		if len(pkts) > 1 {
			time.Sleep(time.Second)
		}
		return nil
	}
	f := s.file
	const openFileID = 1
	for {
		conn.SetReadDeadline(time.Now().Add(60 * time.Second))
		m, err := rd.Next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.mu.Lock()
		s.got = append(s.got, captured{raw: bytes.Clone(raw.Bytes()), msg: m})
		s.mu.Unlock()
		raw.Reset()
		switch m := m.(type) {
		case *LinkViewerToMacConnect:
			err = send(NewReportConnectedEX(MMSDisablePacketPair, "9.1.1.3814", ""))
		case *LinkViewerToMacFunnelInfo:
			err = send(NewReportFunnelInfo(MMSDisablePacketPair, 0xC0FFEE, nil))
		case *LinkViewerToMacConnectFunnel:
			fn, ferr := ParseFunnelName(m.FunnelName)
			if ferr != nil {
				return ferr
			}
			if fn.Proto == "UDP" {
				host, _, _ := net.SplitHostPort(conn.RemoteAddr().String())
				if udp, err = net.Dial("udp", net.JoinHostPort(host, fmt.Sprint(fn.Port))); err != nil {
					return err
				}
			}
			err = send(&LinkMacToViewerReportConnectedFunnel{FunnelName: FunnelOfTheGods})
		case *LinkViewerToMacOpenFile:
			err = send(&LinkMacToViewerReportOpenFile{
				PlayIncarnation: m.PlayIncarnation, OpenFileID: openFileID,
				FileAttributes: FileAttributeCanSeek | FileAttributeCanStride,
				FileDuration:   f.duration, FileBlocks: uint32(math.Ceil(f.duration)),
				FilePacketSize: uint32(f.packetSize), FilePacketCount: uint64(len(f.packets)),
				FileBitRate: f.bitRate, FileHeaderSize: uint32(len(f.header)),
			})
		case *LinkViewerToMacReadBlock:
			// 3.2.5.8: ReportReadBlock, then the header in Data packets no
			// larger than filePacketSize (AFFlags 0x04, last 0x0C, 2.2.2).
			// VLC over UDP depends on this order: it consumes the
			// ReportReadBlock only while it waits for the header.
			if err = send(&LinkMacToViewerReportReadBlock{PlayIncarnation: m.PlayIncarnation}); err != nil {
				return err
			}
			var hdr []*DataPacket
			for i, rest := 0, f.header; len(rest) > 0; i++ {
				n := min(len(rest), f.packetSize)
				p := &DataPacket{LocationID: uint32(i), PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: AFFlagsHeaderPart, Payload: rest[:n]}
				if n == len(rest) {
					p.AFFlags = AFFlagsHeaderLast
				}
				hdr = append(hdr, p)
				rest = rest[n:]
			}
			err = sendData(hdr...)
		case *LinkViewerToMacStreamSwitch:
			err = send(&LinkMacToViewerReportStreamSwitch{})
		case *LinkViewerToMacStartPlaying:
			var pkts []*DataPacket
			for i, p := range f.packets {
				pkts = append(pkts, &DataPacket{LocationID: uint32(i), PlayIncarnation: uint8(m.PlayIncarnation), AFFlags: uint8(i), Payload: p})
			}
			if err = send(&LinkMacToViewerReportStartedPlaying{PlayIncarnation: m.PlayIncarnation, TigerFileID: openFileID}); err != nil {
				return err
			}
			// A Ping (2.2.4.1) after the first packet: real clients answer
			// with a Pong (2.2.4.22), which the golden files record.
			if err = sendData(pkts[:1]...); err != nil {
				return err
			}
			if udp == nil {
				if err = send(&LinkMacToViewerPing{}); err != nil {
					return err
				}
			}
			if err = sendData(pkts[1:]...); err != nil {
				return err
			}
			if !s.noEndOfStream {
				err = send(&LinkMacToViewerReportEndOfStream{PlayIncarnation: m.PlayIncarnation})
			}
		case *LinkViewerToMacStopPlaying:
			err = send(&LinkMacToViewerReportEndOfStream{PlayIncarnation: m.PlayIncarnation})
		case *LinkViewerToMacCloseFile:
			return nil
		}
		if err != nil {
			return err
		}
	}
}
