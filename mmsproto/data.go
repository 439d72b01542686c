package mmsproto

import (
	"encoding/binary"
	"fmt"
)

// Data packet constants (2.2.2, 4.4.1).
const (
	LocationPacketPair1 = 0xF0F0F000 // LocationId of the first packet-pair packet
	LocationPacketPair2 = 0xF0F0F001 // and of the second
	IncarnationPair     = 0xFF       // playIncarnation of packet-pair packets, and of
	// header and data packets of a new server-side playlist entry over TCP (3.2.4.1)

	AFFlagsHeaderPart = 0x04 // ASF file header split over several Data packets
	AFFlagsHeaderLast = 0x0C // last Data packet of the ASF file header
	AFFlagsHeaderEnd  = 0x08 // also accepted as "last" by 3.1.5.12
	AFFlagsPacketPair = 0x10
)

// DataPacket is the Data packet of 2.2.2, sent over UDP or interleaved with
// TcpMessageHeader packets on the TCP connection.
//
// Whether Payload holds an ASF file header, an ASF data packet or a
// packet-pair packet depends on context (the playIncarnation of the
// ReadBlock or StartPlaying that triggered it); IsPacketPair and
// IsHeaderPart help. AFFlags of ASF data packets is the low 8 bits of a
// sequence number (see SeqTracker).
type DataPacket struct {
	LocationID      uint32
	PlayIncarnation uint8
	AFFlags         uint8
	// Payload follows the 8-byte prefix; PacketSize is 8+len(Payload).
	// After Unmarshal or a Reader, it aliases the input buffer.
	Payload []byte
}

// MID implements Message; Data packets have no MID, so it returns 0.
func (*DataPacket) MID() uint32 { return 0 }

// AppendBody appends the whole Data packet (prefix and payload).
func (p *DataPacket) AppendBody(dst []byte) []byte { return p.Append(dst) }

// UnmarshalBody is Unmarshal.
func (p *DataPacket) UnmarshalBody(b []byte) error { return p.Unmarshal(b) }

// Size is the PacketSize field: the total size of the Data packet.
func (p *DataPacket) Size() int { return DataHeaderSize + len(p.Payload) }

// Append appends the Data packet. It panics if the payload is too large for
// the 16-bit PacketSize field, which is a programming error.
func (p *DataPacket) Append(dst []byte) []byte {
	if p.Size() > MaxDataPacketSize {
		panic(fmt.Sprintf("mmsproto: Data packet payload of %d bytes exceeds the 16-bit PacketSize", len(p.Payload)))
	}
	dst = append(le32(dst, p.LocationID), p.PlayIncarnation, p.AFFlags)
	dst = le16(dst, uint16(p.Size()))
	return append(dst, p.Payload...)
}

// Marshal returns the Data packet's bytes.
func (p *DataPacket) Marshal() []byte { return p.Append(make([]byte, 0, p.Size())) }

// Unmarshal parses a whole Data packet (for example one UDP datagram); its
// PacketSize must equal len(b). Payload aliases b.
func (p *DataPacket) Unmarshal(b []byte) error {
	if len(b) < DataHeaderSize {
		return errShort("Data packet", DataHeaderSize, len(b))
	}
	if size := int(binary.LittleEndian.Uint16(b[6:])); size != len(b) {
		return fmt.Errorf("%w: Data packet PacketSize %d, datagram has %d bytes", ErrBadLength, size, len(b))
	}
	p.parsePrefix(b)
	p.Payload = b[DataHeaderSize:len(b):len(b)]
	return nil
}

func (p *DataPacket) parsePrefix(b []byte) {
	p.LocationID = binary.LittleEndian.Uint32(b)
	p.PlayIncarnation = b[4]
	p.AFFlags = b[5]
}

// IsPacketPair reports whether the packet has the packet-pair markers of
// 2.2.2 and 4.4.1.
func (p *DataPacket) IsPacketPair() bool {
	return (p.LocationID == LocationPacketPair1 || p.LocationID == LocationPacketPair2) &&
		p.PlayIncarnation == IncarnationPair && p.AFFlags == AFFlagsPacketPair
}

// IsHeaderLast reports whether AFFlags marks the last part of an ASF file
// header (0x08 or 0x0C, 3.1.5.12). Only meaningful for header packets.
func (p *DataPacket) IsHeaderLast() bool { return p.AFFlags&AFFlagsHeaderEnd != 0 }

// RequestPacketListResend constants (2.2.5).
const (
	ResendSignature  = 0xBEEFF00D
	MaxResendPackets = 32
)

// RequestPacketListResend (2.2.5) is sent by the client over UDP.
type RequestPacketListResend struct {
	ClientID uint32   // dwClientId: nCubs of ReportFunnelInfo
	SourceID uint16   // wSourceId: low 16 bits of openFileId
	Packets  []uint32 // dwBeginPacketList: 32-bit sequence numbers, 1 to 32 of them
}

// Marshal returns the datagram. It does not check the 1..32 limit, so tests
// can produce bad packets.
func (r *RequestPacketListResend) Marshal() []byte {
	b := make([]byte, 0, 12+4*len(r.Packets))
	b = le16(le16(le32(le32(b, ResendSignature), r.ClientID), r.SourceID), uint16(len(r.Packets)))
	for _, s := range r.Packets {
		b = le32(b, s)
	}
	return b
}

// Unmarshal parses a datagram strictly: signature, 1..32 entries, and no
// bytes beyond the list.
func (r *RequestPacketListResend) Unmarshal(b []byte) error {
	d := dec{b: b, msg: "RequestPacketListResend"}
	sig := d.u32()
	r.ClientID, r.SourceID = d.u32(), d.u16()
	n := int(d.u16())
	if d.err != nil {
		return d.err
	}
	if sig != ResendSignature {
		return fmt.Errorf("%w: RequestPacketListResend signature 0x%08x", ErrBadSignature, sig)
	}
	if n < 1 || n > MaxResendPackets {
		return fmt.Errorf("%w: RequestPacketListResend wNumPackets %d (1..32)", ErrBadValue, n)
	}
	if len(b) != 12+4*n {
		return fmt.Errorf("%w: RequestPacketListResend of %d packets has %d bytes, want %d", ErrBadLength, n, len(b), 12+4*n)
	}
	r.Packets = make([]uint32, n)
	for i := range r.Packets {
		r.Packets[i] = d.u32()
	}
	return d.err
}

// SeqTracker reconstructs the 32-bit sequence numbers of Data packets from
// their 8-bit AFFlags (2.2.5, 3.1.4.7: "the client MUST keep track of when
// the 8-bit AFFlags field wraps around"). Each AFFlags is taken as the
// 32-bit number nearest to the previous one with those low 8 bits, so both
// forward progress and reordering or duplicates within ±127 packets are
// handled. The zero value expects the first packet to be sequence 0..255.
type SeqTracker struct {
	last    uint32
	started bool
}

// Next returns the 32-bit sequence number of a Data packet with AFFlags af.
func (t *SeqTracker) Next(af uint8) uint32 {
	if !t.started {
		t.started = true
		t.last = uint32(af)
		return t.last
	}
	s := int64(t.last) + int64(int8(af-uint8(t.last)))
	if s < 0 { // nothing precedes sequence 0: read it as progress
		s = int64(af)
	}
	if uint32(s) > t.last {
		t.last = uint32(s)
	}
	return uint32(s)
}

// Last is the highest sequence number seen.
func (t *SeqTracker) Last() uint32 { return t.last }

// Reset forgets the history: the server restarts AFFlags at 0 after a new
// StartPlaying or StartStriding when the previous value was 0xFE (2.2.2).
func (t *SeqTracker) Reset() { *t = SeqTracker{} }
