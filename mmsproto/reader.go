package mmsproto

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// DefaultMaxSize is a sensible maxSize for Reader and ReadMessage: big enough
// for a Logging message, a TCP packet-pair FunnelInfo and any Data packet.
const DefaultMaxSize = 0x10000 + HeaderSize

// Reader reads what arrives on an MMS TCP connection: TcpMessageHeader packets
// (2.2.3) and Data packets (2.2.2), told apart by the sessionId field as
// 3.1.5.2 says. A TcpMessageHeader packet holding several messages yields
// them one per call. The Reader buffers nothing beyond the packet being read,
// so the underlying io.Reader can be handed over after any message.
type Reader struct {
	r       io.Reader
	maxSize int
	buf     []byte
	pending []byte // messages left in the current TcpMessageHeader packet
	hdr     TcpMessageHeader
	data    DataPacket
}

// NewReader returns a Reader that rejects packets larger than maxSize bytes
// (TcpMessageHeader included); maxSize <= 0 means DefaultMaxSize.
func NewReader(r io.Reader, maxSize int) *Reader {
	if maxSize <= 0 {
		maxSize = DefaultMaxSize
	}
	return &Reader{r: r, maxSize: maxSize}
}

// Header is the TcpMessageHeader of the packet that carried the last message.
func (r *Reader) Header() TcpMessageHeader { return r.hdr }

// Next returns the next message: a 2.2.4 message type (a new value each
// time), or a *DataPacket that the Reader reuses and whose Payload is valid
// only until the next call. Errors wrap the package's sentinel errors, or are
// io.EOF (clean end between packets) or io.ErrUnexpectedEOF. After an
// UnknownMIDError, or an error in a message's fields, the stream is still in
// sync and Next can be called again; after any other error it is not.
func (r *Reader) Next() (Message, error) {
	if len(r.pending) > 0 {
		m, n, err := parseOne(r.pending)
		if n == 0 {
			r.pending = nil
			return nil, err
		}
		r.pending = r.pending[n:]
		return m, err
	}
	if cap(r.buf) < HeaderSize {
		r.buf = make([]byte, 0, 2048)
	}
	b := r.buf[:DataHeaderSize]
	if _, err := io.ReadFull(r.r, b); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(b[4:]) != SessionID {
		return r.readData(b)
	}
	b = r.buf[:HeaderSize]
	if err := readFull(r.r, b[DataHeaderSize:]); err != nil {
		return nil, err
	}
	var h TcpMessageHeader
	if err := h.Unmarshal(b); err != nil {
		return nil, err
	}
	total := int64(h.MessageLength) + 16
	if total > int64(r.maxSize) {
		return nil, fmt.Errorf("%w: TcpMessageHeader packet of %d bytes, limit %d", ErrTooLarge, total, r.maxSize)
	}
	b = r.grow(int(total))
	if err := readFull(r.r, b[HeaderSize:]); err != nil {
		return nil, err
	}
	r.hdr = h
	r.pending = b[HeaderSize:]
	m, n, err := parseOne(r.pending)
	r.pending = r.pending[n:]
	if n == 0 {
		r.pending = nil
	}
	return m, err
}

func (r *Reader) readData(prefix []byte) (Message, error) {
	size := int(binary.LittleEndian.Uint16(prefix[6:]))
	if size < DataHeaderSize {
		return nil, fmt.Errorf("%w: Data packet PacketSize %d is below its 8-byte header", ErrBadLength, size)
	}
	if size > r.maxSize {
		return nil, fmt.Errorf("%w: Data packet of %d bytes, limit %d", ErrTooLarge, size, r.maxSize)
	}
	b := r.grow(size)
	if err := readFull(r.r, b[DataHeaderSize:]); err != nil {
		return nil, err
	}
	r.data.parsePrefix(b)
	r.data.Payload = b[DataHeaderSize:size:size]
	return &r.data, nil
}

// grow returns r.buf resliced to n bytes, keeping its first HeaderSize bytes.
func (r *Reader) grow(n int) []byte {
	if cap(r.buf) < n {
		nb := make([]byte, n, max(n, 2*cap(r.buf)))
		copy(nb, r.buf[:HeaderSize])
		r.buf = nb
	}
	return r.buf[:n]
}

// readFull is io.ReadFull that reports io.ErrUnexpectedEOF for any EOF, since
// callers use it only in the middle of a packet.
func readFull(r io.Reader, b []byte) error {
	_, err := io.ReadFull(r, b)
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadMessage reads one TcpMessageHeader packet or Data packet from r, as
// Reader.Next does, with fresh buffers (the result owns its bytes). It
// returns ErrMultipleMessages for a TcpMessageHeader packet that holds more
// than one message (2.2.3 allows it, 3.1.5.1 forbids it for clients); use a
// Reader where that matters.
func ReadMessage(r io.Reader, maxSize int) (Message, error) {
	rd := NewReader(r, maxSize)
	m, err := rd.Next()
	if err != nil {
		return nil, err
	}
	if len(rd.pending) > 0 {
		return nil, fmt.Errorf("%w: %d more bytes follow MID 0x%08x", ErrMultipleMessages, len(rd.pending), m.MID())
	}
	if dp, ok := m.(*DataPacket); ok {
		c := *dp
		return &c, nil
	}
	return m, nil
}
