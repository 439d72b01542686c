package mmsproto

import (
	"encoding/binary"
	"fmt"
	"io"
)

// TcpMessageHeader constants (2.2.3).
const (
	SessionID      = 0xB00BFACE // sessionId, 2953575118
	Seal           = 0x20534D4D // seal, "MMS " in little-endian
	HeaderSize     = 32         // TcpMessageHeader up to the first MMS message
	msgPrefixSize  = 8          // chunkLen + MID of every 2.2.4 message
	DataHeaderSize = 8          // LocationId, playIncarnation, AFFlags, PacketSize (2.2.2)

	// MaxDataPacketSize is the largest Data packet: PacketSize is 16 bits (2.2.2).
	MaxDataPacketSize = 0xFFFF
)

// Message is one MMS message of 2.2.4. Every message type of this package
// implements it with a pointer receiver; *DataPacket implements it too so that
// ReadMessage can return both kinds of TCP traffic (3.1.5.2).
type Message interface {
	// MID is the message identifier of 2.2.4 (0 for *DataPacket).
	MID() uint32
	// AppendBody appends the fields that follow chunkLen and MID, without
	// the 8-byte alignment padding (Marshal adds it).
	AppendBody(dst []byte) []byte
	// UnmarshalBody parses the fields that follow chunkLen and MID. b may
	// end with alignment padding. The message keeps no reference to b
	// unless its documentation says otherwise.
	UnmarshalBody(b []byte) error
}

// TcpMessageHeader is the framing of 2.2.3 around MMS messages on TCP.
type TcpMessageHeader struct {
	Rep, Version, VersionMinor, Padding uint8
	SessionID                           uint32
	MessageLength                       uint32 // bytes of the MMS message field plus 16
	Seal                                uint32
	ChunkCount                          uint32
	Seq                                 uint16
	MBZ                                 uint16
	TimeSent                            uint64 // ms; senders may put anything here (<3>)
}

// Unmarshal parses the 32-byte TcpMessageHeader at the start of b and checks
// its constants and lengths. MessageLength is not checked against len(b).
func (h *TcpMessageHeader) Unmarshal(b []byte) error {
	d := dec{b: b, msg: "TcpMessageHeader"}
	h.Rep, h.Version, h.VersionMinor, h.Padding = d.u8(), d.u8(), d.u8(), d.u8()
	h.SessionID, h.MessageLength, h.Seal, h.ChunkCount = d.u32(), d.u32(), d.u32(), d.u32()
	h.Seq, h.MBZ, h.TimeSent = d.u16(), d.u16(), d.u64()
	if d.err != nil {
		return d.err
	}
	return h.check()
}

func (h *TcpMessageHeader) check() error {
	if h.SessionID != SessionID {
		return fmt.Errorf("%w: sessionId 0x%08x, want 0x%08x", ErrBadSignature, h.SessionID, uint32(SessionID))
	}
	if h.Seal != Seal {
		return fmt.Errorf("%w: seal 0x%08x, want 0x%08x (\"MMS \")", ErrBadSignature, h.Seal, uint32(Seal))
	}
	// rep MUST be 1, version and versionMinor 0 (2.2.3). FFmpeg and VLC
	// write the first four bytes as the 32-bit value 1, which is the same.
	if h.Rep != 1 || h.Version != 0 || h.VersionMinor != 0 {
		return fmt.Errorf("%w: TcpMessageHeader rep/version %d.%d.%d, want 1.0.0", ErrBadValue,
			h.Rep, h.Version, h.VersionMinor)
	}
	if h.MessageLength < 16+msgPrefixSize || h.MessageLength%8 != 0 {
		return fmt.Errorf("%w: TcpMessageHeader messageLength %d (must be 16 + a non-empty multiple of 8)",
			ErrBadLength, h.MessageLength)
	}
	// chunkCount: 2.2.3 says "total size of the TcpMessageHeader packet in
	// multiples of 8 bytes", i.e. (messageLength+16)/8, but FFmpeg (mmst.c)
	// and VLC (mmstu.c) send messageLength/8. Both are accepted; receivers
	// rely on messageLength only.
	if c := h.MessageLength / 8; h.ChunkCount != c && h.ChunkCount != c+2 {
		return fmt.Errorf("%w: TcpMessageHeader chunkCount %d for messageLength %d", ErrBadLength,
			h.ChunkCount, h.MessageLength)
	}
	return nil
}

// Append appends the 32-byte header as is.
func (h *TcpMessageHeader) Append(dst []byte) []byte {
	dst = append(dst, h.Rep, h.Version, h.VersionMinor, h.Padding)
	dst = le32(le32(le32(le32(dst, h.SessionID), h.MessageLength), h.Seal), h.ChunkCount)
	return le64(le16(le16(dst, h.Seq), h.MBZ), h.TimeSent)
}

// Marshal returns the bytes to write on the TCP connection for msg: a
// TcpMessageHeader packet (2.2.3) with seq and timeSent around a 2.2.4
// message padded to 8 bytes, or, for a *DataPacket, the Data packet itself.
func Marshal(msg Message, seq uint16, timeSent uint64) []byte {
	return AppendMarshal(nil, msg, seq, timeSent)
}

// AppendMarshal is Marshal appending to dst.
func AppendMarshal(dst []byte, msg Message, seq uint16, timeSent uint64) []byte {
	if dp, ok := msg.(*DataPacket); ok {
		return dp.Append(dst)
	}
	start := len(dst)
	dst = append(dst, make([]byte, HeaderSize+msgPrefixSize)...)
	dst = msg.AppendBody(dst)
	for (len(dst)-start)%8 != 0 { // 2.2.4: pad every message to 8 bytes
		dst = append(dst, 0)
	}
	total := len(dst) - start
	h := TcpMessageHeader{
		Rep:           1,
		SessionID:     SessionID,
		MessageLength: uint32(total - 16),
		Seal:          Seal,
		ChunkCount:    uint32(total / 8), // 2.2.3's definition; see check()
		Seq:           seq,
		TimeSent:      timeSent,
	}
	h.Append(dst[start:start])
	binary.LittleEndian.PutUint32(dst[start+HeaderSize:], uint32(total-HeaderSize)/8) // chunkLen
	binary.LittleEndian.PutUint32(dst[start+HeaderSize+4:], msg.MID())
	return dst
}

// WriteMessage writes Marshal(msg, seq, timeSent) to w in one Write call.
func WriteMessage(w io.Writer, msg Message, seq uint16, timeSent uint64) error {
	_, err := w.Write(Marshal(msg, seq, timeSent))
	return err
}

// MarshalBody returns chunkLen, MID and the fields of msg padded to 8 bytes:
// the "MMS message" of 2.2.4 without TcpMessageHeader. For tests and tools.
func MarshalBody(msg Message) []byte {
	b := msg.AppendBody(make([]byte, msgPrefixSize, 64))
	for len(b)%8 != 0 {
		b = append(b, 0)
	}
	binary.LittleEndian.PutUint32(b, uint32(len(b)/8))
	binary.LittleEndian.PutUint32(b[4:], msg.MID())
	return b
}

// ParseMessages parses the "MMS message" field of a TcpMessageHeader packet:
// zero or more messages, each starting with chunkLen and MID (2.2.4). It
// returns the messages parsed before the first error.
func ParseMessages(b []byte) ([]Message, error) {
	var msgs []Message
	for len(b) > 0 {
		m, n, err := parseOne(b)
		if err != nil {
			return msgs, err
		}
		msgs = append(msgs, m)
		b = b[n:]
	}
	return msgs, nil
}

// UnmarshalMessage parses exactly one message (chunkLen, MID, fields, padding).
func UnmarshalMessage(b []byte) (Message, error) {
	m, n, err := parseOne(b)
	if err != nil {
		return nil, err
	}
	if n != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after a %d-byte message", ErrMultipleMessages, len(b)-n, n)
	}
	return m, nil
}

// parseOne parses the message at the start of b, returning it and its size.
func parseOne(b []byte) (Message, int, error) {
	if len(b) < msgPrefixSize {
		return nil, 0, errShort("MMS message chunkLen and MID", msgPrefixSize, len(b))
	}
	chunkLen := binary.LittleEndian.Uint32(b)
	mid := binary.LittleEndian.Uint32(b[4:])
	if chunkLen == 0 || uint64(chunkLen)*8 > uint64(len(b)) {
		return nil, 0, fmt.Errorf("%w: chunkLen %d (%d bytes) with %d bytes present (MID 0x%08x)",
			ErrBadLength, chunkLen, uint64(chunkLen)*8, len(b), mid)
	}
	n := int(chunkLen) * 8
	body := b[msgPrefixSize:n]
	m := NewMessage(mid)
	if m == nil {
		return nil, n, &UnknownMIDError{MID: mid, Body: append([]byte(nil), body...)}
	}
	if err := m.UnmarshalBody(body); err != nil {
		return nil, n, fmt.Errorf("MID 0x%08x: %w", mid, err)
	}
	return m, n, nil
}
