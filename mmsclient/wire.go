package mmsclient

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// dataPacket is a Data packet (2.2.2) as the client handles it. Payload
// aliases the bytes it was parsed from.
type dataPacket struct {
	LocationID      uint32
	PlayIncarnation uint8
	AFFlags         uint8
	Payload         []byte
}

// Data packet header values (2.2.2, 4.4.1).
const (
	afHeaderPart     = 0x04 // ASF file header split over several packets
	afHeaderLast     = 0x08 // last packet of the ASF file header
	afPacketPair     = 0x10
	locPacketPair1   = 0xF0F0F000
	locPacketPair2   = 0xF0F0F001
	incarnationPair  = 0xFF
	incarnationEntry = 0xFF // new playlist entry over TCP (3.2.4.2)
)

// parseDataPacket parses one Data packet; b must hold exactly PacketSize bytes.
func parseDataPacket(b []byte) (dataPacket, error) {
	var p mmsproto.DataPacket
	if err := p.Unmarshal(b); err != nil {
		return dataPacket{}, err
	}
	return dataPacket{LocationID: p.LocationID, PlayIncarnation: p.PlayIncarnation, AFFlags: p.AFFlags, Payload: p.Payload}, nil
}

// tcpReader reads what arrives on the control connection: TcpMessageHeader
// packets holding MMS messages, and Data packets when Data goes over TCP.
// The two are told apart by the sessionId field (3.1.5.2).
type tcpReader struct {
	r io.Reader
	// dataOK reports whether Data packets may arrive yet (after ReadBlock);
	// before that anything without the sessionId is garbage.
	dataOK  func() bool
	maxSize int
	buf     []byte
	queue   []mmsproto.Message // messages of a packet that held several
}

// tcpItem is one thing read from the control connection.
type tcpItem struct {
	msg  mmsproto.Message // nil for Data
	data dataPacket
	size int    // bytes on the wire
	buf  []byte // backing store of data, for putBuf once handled
}

// Data packets read from TCP borrow their buffers from a pool: the session
// copies what it keeps (the restored packet, header parts) and gives the
// buffer back.
var bufPool = sync.Pool{New: func() any { return new([]byte) }}

func getBuf(n int) []byte {
	p := bufPool.Get().(*[]byte)
	if cap(*p) < n {
		*p = make([]byte, n, max(n, 16<<10))
	}
	return (*p)[:n]
}

func putBuf(b []byte) {
	if b != nil {
		bufPool.Put(&b)
	}
}

var errTCPFraming = errors.New("mmsclient: bad TCP framing")

// buffered reports whether the next item is complete in the buffer, so that
// reading it cannot wait for the network.
func (t *tcpReader) buffered() bool {
	if len(t.queue) > 0 {
		return true
	}
	br, ok := t.r.(*bufio.Reader)
	if !ok || br.Buffered() < 16 {
		return false
	}
	head, _ := br.Peek(16)
	need := int(binary.LittleEndian.Uint16(head[6:])) // a Data packet's PacketSize
	if binary.LittleEndian.Uint32(head[4:]) == mmsproto.SessionID {
		need = int(binary.LittleEndian.Uint32(head[8:])) + 16 // messageLength + 16
	}
	return br.Buffered() >= need
}

func (t *tcpReader) next() (tcpItem, error) {
	if len(t.queue) > 0 {
		m := t.queue[0]
		t.queue = t.queue[1:]
		return tcpItem{msg: m}, nil
	}
	var head [8]byte
	if _, err := io.ReadFull(t.r, head[:]); err != nil {
		return tcpItem{}, err
	}
	if binary.LittleEndian.Uint32(head[4:]) != mmsproto.SessionID {
		if t.dataOK != nil && !t.dataOK() {
			return tcpItem{}, fmt.Errorf("%w: sessionId 0x%08x where a TcpMessageHeader must start", mmsproto.ErrBadSignature,
				binary.LittleEndian.Uint32(head[4:]))
		}
		// A Data packet: PacketSize is its whole length.
		size := int(binary.LittleEndian.Uint16(head[6:]))
		if size < mmsproto.DataHeaderSize {
			return tcpItem{}, fmt.Errorf("%w: Data packet size %d", errTCPFraming, size)
		}
		b := getBuf(size)
		copy(b, head[:])
		if _, err := io.ReadFull(t.r, b[8:]); err != nil {
			return tcpItem{}, unexpected(err)
		}
		d, err := parseDataPacket(b)
		return tcpItem{data: d, size: size, buf: b}, err
	}
	var rest [mmsproto.HeaderSize - 8]byte
	if _, err := io.ReadFull(t.r, rest[:]); err != nil {
		return tcpItem{}, unexpected(err)
	}
	hb := append(head[:], rest[:]...)
	var h mmsproto.TcpMessageHeader
	if err := h.Unmarshal(hb); err != nil {
		return tcpItem{}, err
	}
	n := int(h.MessageLength) - 16
	if n > t.maxSize {
		return tcpItem{}, fmt.Errorf("%w: TcpMessageHeader messageLength %d beyond the limit of %d", mmsproto.ErrTooLarge, h.MessageLength, t.maxSize)
	}
	if cap(t.buf) < n {
		t.buf = make([]byte, n)
	}
	body := t.buf[:n]
	if _, err := io.ReadFull(t.r, body); err != nil {
		return tcpItem{}, unexpected(err)
	}
	// Messages may alias body (tokens, packet-pair bytes): give them their own copy.
	msgs, err := mmsproto.ParseMessages(append([]byte(nil), body...))
	if err != nil {
		return tcpItem{}, err
	}
	if len(msgs) == 0 {
		return tcpItem{}, fmt.Errorf("%w: empty TcpMessageHeader packet", errTCPFraming)
	}
	t.queue = msgs[1:]
	return tcpItem{msg: msgs[0], size: mmsproto.HeaderSize + n}, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// maxResendList is the most packets one RequestPacketListResend may ask for.
const maxResendList = mmsproto.MaxResendPackets
