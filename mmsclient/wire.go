package mmsclient

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

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
//
// It reads into a chunk of its own, as much as the connection has (one
// read system call for many Data packets), and parses in place: a Data
// packet's Payload aliases the chunk. Until detach hands the chunk over,
// the chunk is never rewritten while a Data packet from it is out.
type tcpReader struct {
	r io.Reader
	// dataOK reports whether Data packets may arrive yet (after ReadBlock);
	// before that anything without the sessionId is garbage.
	dataOK  func() bool
	maxSize int
	queue   []mmsproto.Message // messages of a packet that held several

	buf        []byte    // the chunk; buf[start:end] is read but not parsed
	start, end int       //
	lent       bool      // a Data packet returned by next aliases buf
	readAt     time.Time // when the last read returned bytes
}

// tcpItem is one thing read from the control connection.
type tcpItem struct {
	msg  mmsproto.Message // nil for Data
	data dataPacket
	size int // bytes on the wire
}

// tcpChunkSize is the size of a tcpReader's chunk: one read system call
// reads up to this much. It holds the largest Data packet (2.2.2).
const tcpChunkSize = 128 << 10

var errTCPFraming = errors.New("mmsclient: bad TCP framing")

// buffered reports whether the next item is complete in the chunk, so that
// reading it cannot wait for the network.
func (t *tcpReader) buffered() bool {
	if len(t.queue) > 0 {
		return true
	}
	head := t.buf[t.start:t.end]
	if len(head) < 16 {
		return false
	}
	need := int(binary.LittleEndian.Uint16(head[6:])) // a Data packet's PacketSize
	if binary.LittleEndian.Uint32(head[4:]) == mmsproto.SessionID {
		need = int(binary.LittleEndian.Uint32(head[8:])) + 16 // messageLength + 16
	}
	return len(head) >= need
}

// detach hands the chunk over to whoever holds the Data packets read from
// it and continues in next (an empty chunk of tcpChunkSize bytes, or nil
// for a new one), where the bytes not parsed yet are copied. It returns
// the old chunk, or nil when no Data packet aliases it (it is kept).
func (t *tcpReader) detach(next []byte) []byte {
	if !t.lent {
		return nil
	}
	old := t.buf
	if cap(next) < tcpChunkSize {
		next = make([]byte, tcpChunkSize)
	}
	next = next[:cap(next)]
	t.end = copy(next, t.buf[t.start:t.end])
	t.buf, t.start, t.lent = next, 0, false
	return old
}

// fill reads until n bytes are unparsed in the chunk. A chunk too small
// for n more bytes is compacted, or replaced while Data packets alias it.
func (t *tcpReader) fill(n int) error {
	if t.end-t.start >= n {
		return nil
	}
	if len(t.buf)-t.start < n {
		size := max(n, tcpChunkSize)
		if t.lent || len(t.buf) < size {
			nb := make([]byte, size)
			t.end = copy(nb, t.buf[t.start:t.end])
			t.buf, t.lent = nb, false
		} else {
			t.end = copy(t.buf, t.buf[t.start:t.end])
		}
		t.start = 0
	}
	for t.end-t.start < n {
		k, err := t.r.Read(t.buf[t.end:])
		t.end += k
		if k > 0 {
			t.readAt = time.Now()
		}
		if err != nil {
			if t.end-t.start >= n {
				return nil
			}
			if errors.Is(err, io.EOF) && t.end > t.start {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

func (t *tcpReader) next() (tcpItem, error) {
	if len(t.queue) > 0 {
		m := t.queue[0]
		t.queue = t.queue[1:]
		return tcpItem{msg: m}, nil
	}
	if err := t.fill(mmsproto.DataHeaderSize); err != nil {
		return tcpItem{}, err
	}
	head := t.buf[t.start:t.end]
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
		if err := t.fill(size); err != nil {
			return tcpItem{}, unexpected(err)
		}
		b := t.buf[t.start : t.start+size : t.start+size]
		t.start += size
		t.lent = true
		d, err := parseDataPacket(b)
		return tcpItem{data: d, size: size}, err
	}
	if err := t.fill(mmsproto.HeaderSize); err != nil {
		return tcpItem{}, unexpected(err)
	}
	var h mmsproto.TcpMessageHeader
	if err := h.Unmarshal(t.buf[t.start : t.start+mmsproto.HeaderSize]); err != nil {
		return tcpItem{}, err
	}
	n := int(h.MessageLength) - 16
	if n > t.maxSize {
		return tcpItem{}, fmt.Errorf("%w: TcpMessageHeader messageLength %d beyond the limit of %d", mmsproto.ErrTooLarge, h.MessageLength, t.maxSize)
	}
	if err := t.fill(mmsproto.HeaderSize + n); err != nil {
		return tcpItem{}, unexpected(err)
	}
	body := t.buf[t.start+mmsproto.HeaderSize : t.start+mmsproto.HeaderSize+n]
	t.start += mmsproto.HeaderSize + n
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
