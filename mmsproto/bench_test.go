package mmsproto

import (
	"bytes"
	"testing"
)

// loopReader replays b forever without allocating.
type loopReader struct {
	b   []byte
	off int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := copy(p, l.b[l.off:])
	l.off = (l.off + n) % len(l.b)
	return n, nil
}

// BenchmarkReaderData reads 3200-byte ASF data packets framed as Data
// packets (2.2.2) from a TCP-like stream: the hot path of a client.
func BenchmarkReaderData(b *testing.B) {
	var stream []byte
	for i := range 64 {
		stream = (&DataPacket{LocationID: uint32(i), PlayIncarnation: 4, AFFlags: uint8(i), Payload: make([]byte, 3200)}).Append(stream)
	}
	rd := NewReader(&loopReader{b: stream}, 0)
	b.SetBytes(3200 + DataHeaderSize)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rd.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderCommand reads small command messages (Pong) as a server does.
func BenchmarkReaderCommand(b *testing.B) {
	msg := Marshal(&LinkViewerToMacPong{}, 0, 0)
	rd := NewReader(&loopReader{b: bytes.Repeat(msg, 64)}, 0)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := rd.Next(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAppendData frames a data packet for sending: the hot path of a server.
func BenchmarkAppendData(b *testing.B) {
	p := &DataPacket{LocationID: 1, PlayIncarnation: 4, Payload: make([]byte, 3200)}
	buf := make([]byte, 0, 4096)
	b.SetBytes(int64(p.Size()))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMarshal(buf[:0], p, 0, 0)
	}
}

// BenchmarkMarshalCommand frames a ReportOpenFile.
func BenchmarkMarshalCommand(b *testing.B) {
	m := &LinkMacToViewerReportOpenFile{OpenFileID: 1, FilePacketSize: 3200}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendMarshal(buf[:0], m, 1, 0)
	}
}
