package mmsproto

import (
	"fmt"
	"math"
)

// Messages sent by the client (LinkViewerToMac*, 2.2.4.15 to 2.2.4.28).

// LinkViewerToMacCancelReadBlock (2.2.4.15): stop sending the ASF file header.
type LinkViewerToMacCancelReadBlock struct {
	PlayIncarnation uint32
}

func (*LinkViewerToMacCancelReadBlock) MID() uint32 { return MIDLinkViewerToMacCancelReadBlock }
func (m *LinkViewerToMacCancelReadBlock) AppendBody(b []byte) []byte {
	return le32(b, m.PlayIncarnation)
}
func (m *LinkViewerToMacCancelReadBlock) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacCancelReadBlock"}
	m.PlayIncarnation = d.u32()
	return d.err
}

// LinkViewerToMacCloseFile (2.2.4.16): the client ends the session.
type LinkViewerToMacCloseFile struct {
	PlayIncarnation uint32 // ignored by receivers (<14>: uninitialized memory)
	OpenFileID      uint32
}

func (*LinkViewerToMacCloseFile) MID() uint32 { return MIDLinkViewerToMacCloseFile }
func (m *LinkViewerToMacCloseFile) AppendBody(b []byte) []byte {
	return le32(le32(b, m.PlayIncarnation), m.OpenFileID)
}
func (m *LinkViewerToMacCloseFile) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacCloseFile"}
	m.PlayIncarnation, m.OpenFileID = d.u32(), d.u32()
	return d.err
}

// LinkViewerToMacConnect (2.2.4.17): the first message of a session.
type LinkViewerToMacConnect struct {
	PlayIncarnation             uint32 // MMSUsePacketPair, MMSDisablePacketPair (FFmpeg sends 0)
	MacToViewerProtocolRevision uint32 // MUST be 0x0004000B
	ViewerToMacProtocolRevision uint32 // MUST be 0x0003001C
	// SubscriberName is the whole subscriberName field without its final
	// NUL (and alignment padding). Its optional host-string and via-string
	// parts are separated by "\x00" as on the wire; ParseSubscriberName
	// splits it.
	SubscriberName string
}

func (*LinkViewerToMacConnect) MID() uint32 { return MIDLinkViewerToMacConnect }
func (m *LinkViewerToMacConnect) AppendBody(b []byte) []byte {
	b = le32(le32(le32(b, m.PlayIncarnation), m.MacToViewerProtocolRevision), m.ViewerToMacProtocolRevision)
	return AppendUTF16Z(b, m.SubscriberName)
}
func (m *LinkViewerToMacConnect) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacConnect"}
	m.PlayIncarnation, m.MacToViewerProtocolRevision, m.ViewerToMacProtocolRevision = d.u32(), d.u32(), d.u32()
	m.SubscriberName = decodeUTF16Trim(d.rest())
	return d.err
}

// LinkViewerToMacConnectFunnel (2.2.4.18): where Data packets go.
type LinkViewerToMacConnectFunnel struct {
	PlayIncarnation uint32 // ignored by receivers
	MaxBlockBytes   uint32 // SHOULD be 0xFFFFFFFF
	MaxFunnelBytes  uint32 // SHOULD be 0
	MaxBitRate      uint32 // SHOULD be 0x00989680
	FunnelMode      uint32 // MUST be 2
	// FunnelName is `\\ip\TCP\port` or `\\ip\UDP\port` as sent, trailing
	// NULs removed; ParseFunnelName parses it leniently.
	FunnelName string
}

func (*LinkViewerToMacConnectFunnel) MID() uint32 { return MIDLinkViewerToMacConnectFunnel }
func (m *LinkViewerToMacConnectFunnel) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(le32(b, m.PlayIncarnation), m.MaxBlockBytes), m.MaxFunnelBytes), m.MaxBitRate), m.FunnelMode)
	return AppendUTF16Z(b, m.FunnelName)
}
func (m *LinkViewerToMacConnectFunnel) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacConnectFunnel"}
	m.PlayIncarnation, m.MaxBlockBytes, m.MaxFunnelBytes, m.MaxBitRate, m.FunnelMode = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	m.FunnelName = decodeUTF16Trim(d.rest())
	return d.err
}

// LinkViewerToMacFunnelInfo (2.2.4.19): asks for a client ID and packet pair.
type LinkViewerToMacFunnelInfo struct {
	PlayIncarnation uint32 // one of the MMS*PacketPair* values
}

func (*LinkViewerToMacFunnelInfo) MID() uint32 { return MIDLinkViewerToMacFunnelInfo }
func (m *LinkViewerToMacFunnelInfo) AppendBody(b []byte) []byte {
	return le32(b, m.PlayIncarnation)
}
func (m *LinkViewerToMacFunnelInfo) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacFunnelInfo"}
	m.PlayIncarnation = d.u32()
	return d.err
}

// LinkViewerToMacLogging (2.2.4.20): client statistics.
type LinkViewerToMacLogging struct {
	Log ClientLog
}

func (*LinkViewerToMacLogging) MID() uint32 { return MIDLinkViewerToMacLogging }
func (m *LinkViewerToMacLogging) AppendBody(b []byte) []byte {
	return m.Log.Append(b)
}
func (m *LinkViewerToMacLogging) UnmarshalBody(b []byte) error {
	return m.Log.Unmarshal(b)
}

// LinkViewerToMacOpenFile (2.2.4.21): which content to stream.
type LinkViewerToMacOpenFile struct {
	PlayIncarnation uint32 // 1..0xFE
	Spare           uint32 // ignored by receivers (FFmpeg sends 0xFFFFFFFF)
	FileName        string // path component of the URL, not percent-encoded
	// TokenData is authentication data (Basic credentials or NTLM, see
	// 2.2.4.21); the token offset and cbtoken are computed. Aliases the
	// parsed bytes.
	TokenData []byte
}

func (*LinkViewerToMacOpenFile) MID() uint32 { return MIDLinkViewerToMacOpenFile }
func (m *LinkViewerToMacOpenFile) AppendBody(b []byte) []byte {
	var token uint32
	if len(m.TokenData) > 0 {
		token = uint32(2 * (UTF16Len(m.FileName) + 1))
	}
	b = le32(le32(le32(le32(b, m.PlayIncarnation), m.Spare), token), uint32(len(m.TokenData)))
	b = AppendUTF16Z(b, m.FileName)
	return append(b, m.TokenData...)
}
func (m *LinkViewerToMacOpenFile) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacOpenFile"}
	m.PlayIncarnation, m.Spare = d.u32(), d.u32()
	token, cb := d.u32(), d.u32()
	rest := d.rest()
	if d.err != nil {
		return d.err
	}
	m.TokenData = nil
	if cb == 0 {
		m.FileName = DecodeUTF16Z(rest)
		return nil
	}
	if uint64(token)+uint64(cb) > uint64(len(rest)) {
		return fmt.Errorf("%w: LinkViewerToMacOpenFile token offset %d + cbtoken %d beyond %d bytes",
			ErrBadLength, token, cb, len(rest))
	}
	m.FileName = DecodeUTF16Z(rest[:token])
	m.TokenData = rest[token : token+cb : token+cb]
	return nil
}

// LinkViewerToMacPong (2.2.4.22): the answer to Ping.
type LinkViewerToMacPong struct {
	Param1, Param2 uint32
}

func (*LinkViewerToMacPong) MID() uint32 { return MIDLinkViewerToMacPong }
func (m *LinkViewerToMacPong) AppendBody(b []byte) []byte {
	return le32(le32(b, m.Param1), m.Param2)
}
func (m *LinkViewerToMacPong) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacPong"}
	m.Param1, m.Param2 = d.u32(), d.u32()
	return d.err
}

// LinkViewerToMacReadBlock (2.2.4.23): asks for the ASF file header.
type LinkViewerToMacReadBlock struct {
	OpenFileID      uint32
	FileBlockID     uint32 // MUST be 0
	Offset          uint32 // MUST be 0
	Length          uint32 // SHOULD be 0x8000 (0xFFFF from WMS 4, <22>)
	Flags           uint32 // MUST be 0xFFFFFFFF
	Padding         uint32
	TEarliest       float64 // MUST be 0
	TDeadline       float64 // MUST be 3600
	PlayIncarnation uint32  // 1..0xFE
	PlaySequence    uint32  // MUST be 0
}

func (*LinkViewerToMacReadBlock) MID() uint32 { return MIDLinkViewerToMacReadBlock }
func (m *LinkViewerToMacReadBlock) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(le32(le32(b, m.OpenFileID), m.FileBlockID), m.Offset), m.Length), m.Flags), m.Padding)
	b = lef64(lef64(b, m.TEarliest), m.TDeadline)
	return le32(le32(b, m.PlayIncarnation), m.PlaySequence)
}
func (m *LinkViewerToMacReadBlock) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacReadBlock"}
	m.OpenFileID, m.FileBlockID, m.Offset, m.Length, m.Flags, m.Padding = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	m.TEarliest, m.TDeadline = d.f64(), d.f64()
	m.PlayIncarnation, m.PlaySequence = d.u32(), d.u32()
	return d.err
}

// LinkViewerToMacSecurityResponse (2.2.4.24): credentials. For Basic, Token
// is the NUL-terminated ASCII basic-credentials; for NTLM it starts with two
// zero bytes (see NTLMToken).
type LinkViewerToMacSecurityResponse struct {
	PlayIncarnation uint32
	Cookie          uint32
	Token           []byte // pToken; cbToken is len(Token). Aliases the parsed bytes.
}

func (*LinkViewerToMacSecurityResponse) MID() uint32 { return MIDLinkViewerToMacSecurityResponse }
func (m *LinkViewerToMacSecurityResponse) AppendBody(b []byte) []byte {
	b = le32(le32(le32(b, m.PlayIncarnation), m.Cookie), uint32(len(m.Token)))
	return append(b, m.Token...)
}
func (m *LinkViewerToMacSecurityResponse) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacSecurityResponse"}
	m.PlayIncarnation, m.Cookie = d.u32(), d.u32()
	m.Token = tokenField(&d, "cbToken")
	return d.err
}

// PositionFromLocation is the position value (DBL_MAX) that tells the server
// to use asfOffset or locationId instead (2.2.4.25, 2.2.4.26).
const PositionFromLocation = math.MaxFloat64

// LinkViewerToMacStartPlaying (2.2.4.25): play from a position.
type LinkViewerToMacStartPlaying struct {
	OpenFileID uint32
	Padding    uint32  // ignored by receivers (FFmpeg sends 0x0001FFFF)
	Position   float64 // seconds, or PositionFromLocation
	ASFOffset  uint32  // byte offset, or 0 / 0xFFFFFFFF when unused
	LocationID uint32  // ASF data packet number, or 0 / 0xFFFFFFFF when unused
	// FrameOffset: 0 = to the end; else the low 31 bits are the stop time
	// in ms, absolute (top bit 0) or relative to the start (top bit 1).
	FrameOffset     uint32
	PlayIncarnation uint32 // 1..0xFE

	// Optional trailer (Windows Media Services 9 and later, <31>).
	HasAccel         bool   // dwAccelBandwidth and dwAccelDuration present
	AccelBandwidth   uint32 // bit/s
	AccelDuration    uint32 // ms
	HasLinkBandwidth bool   // dwLinkBandwidth present (requires HasAccel)
	LinkBandwidth    uint32 // bit/s
}

func (*LinkViewerToMacStartPlaying) MID() uint32 { return MIDLinkViewerToMacStartPlaying }
func (m *LinkViewerToMacStartPlaying) AppendBody(b []byte) []byte {
	b = lef64(le32(le32(b, m.OpenFileID), m.Padding), m.Position)
	b = le32(le32(le32(le32(b, m.ASFOffset), m.LocationID), m.FrameOffset), m.PlayIncarnation)
	if m.HasAccel || m.HasLinkBandwidth {
		b = le32(le32(b, m.AccelBandwidth), m.AccelDuration)
		if m.HasLinkBandwidth {
			b = le32(b, m.LinkBandwidth)
		}
	}
	return b
}
func (m *LinkViewerToMacStartPlaying) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacStartPlaying"}
	m.OpenFileID, m.Padding, m.Position = d.u32(), d.u32(), d.f64()
	m.ASFOffset, m.LocationID, m.FrameOffset, m.PlayIncarnation = d.u32(), d.u32(), d.u32(), d.u32()
	if d.err != nil {
		return d.err
	}
	// The body is padded to 8 bytes after msgPrefixSize, so its length tells
	// which optional fields are present: 32 = none, 40 = accel pair,
	// 48 = accel pair + dwLinkBandwidth + 4 bytes of padding.
	m.HasAccel, m.HasLinkBandwidth = false, false
	m.AccelBandwidth, m.AccelDuration, m.LinkBandwidth = 0, 0, 0
	switch rest := len(b) - d.off; {
	case rest >= 12:
		m.HasAccel, m.HasLinkBandwidth = true, true
		m.AccelBandwidth, m.AccelDuration, m.LinkBandwidth = d.u32(), d.u32(), d.u32()
	case rest >= 8:
		m.HasAccel = true
		m.AccelBandwidth, m.AccelDuration = d.u32(), d.u32()
	}
	return d.err
}

// LinkViewerToMacStartStriding (2.2.4.26): fast forward or rewind.
type LinkViewerToMacStartStriding struct {
	OpenFileID      uint32
	Padding         uint32
	Position        float64
	ASFOffset       uint32
	LocationID      uint32
	FrameOffset     uint32 // ignored by receivers
	PlayIncarnation uint32
	Rate            float64 // -5..5, not 0
}

func (*LinkViewerToMacStartStriding) MID() uint32 { return MIDLinkViewerToMacStartStriding }
func (m *LinkViewerToMacStartStriding) AppendBody(b []byte) []byte {
	b = lef64(le32(le32(b, m.OpenFileID), m.Padding), m.Position)
	b = le32(le32(le32(le32(b, m.ASFOffset), m.LocationID), m.FrameOffset), m.PlayIncarnation)
	return lef64(b, m.Rate)
}
func (m *LinkViewerToMacStartStriding) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacStartStriding"}
	m.OpenFileID, m.Padding, m.Position = d.u32(), d.u32(), d.f64()
	m.ASFOffset, m.LocationID, m.FrameOffset, m.PlayIncarnation = d.u32(), d.u32(), d.u32(), d.u32()
	m.Rate = d.f64()
	return d.err
}

// LinkViewerToMacStopPlaying (2.2.4.27): stop sending Data packets.
type LinkViewerToMacStopPlaying struct {
	OpenFileID      uint32
	PlayIncarnation uint32
}

func (*LinkViewerToMacStopPlaying) MID() uint32 { return MIDLinkViewerToMacStopPlaying }
func (m *LinkViewerToMacStopPlaying) AppendBody(b []byte) []byte {
	return le32(le32(b, m.OpenFileID), m.PlayIncarnation)
}
func (m *LinkViewerToMacStopPlaying) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacStopPlaying"}
	m.OpenFileID, m.PlayIncarnation = d.u32(), d.u32()
	return d.err
}

// StreamSwitchEntry is STREAM_SWITCH_ENTRY (2.2.4.28.1).
type StreamSwitchEntry struct {
	SrcStreamNumber uint16 // NoStream: no source
	DstStreamNumber uint16 // NoStream: no destination
	ThinningLevel   uint16 // ThinningNone, ThinningKeyOnly, ThinningAll
}

// LinkViewerToMacStreamSwitch (2.2.4.28): select streams.
type LinkViewerToMacStreamSwitch struct {
	Entries []StreamSwitchEntry
}

func (*LinkViewerToMacStreamSwitch) MID() uint32 { return MIDLinkViewerToMacStreamSwitch }
func (m *LinkViewerToMacStreamSwitch) AppendBody(b []byte) []byte {
	b = le32(b, uint32(len(m.Entries)))
	for _, e := range m.Entries {
		b = le16(le16(le16(b, e.SrcStreamNumber), e.DstStreamNumber), e.ThinningLevel)
	}
	return b
}
func (m *LinkViewerToMacStreamSwitch) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkViewerToMacStreamSwitch"}
	n := d.count(6, "cStreamEntries")
	if d.err != nil {
		return d.err
	}
	m.Entries = nil
	if n > 0 {
		m.Entries = make([]StreamSwitchEntry, n)
	}
	for i := range m.Entries {
		m.Entries[i] = StreamSwitchEntry{d.u16(), d.u16(), d.u16()}
	}
	return d.err
}
