package mmsproto

import "fmt"

// Messages sent by the server (LinkMacToViewer*, 2.2.4.1 to 2.2.4.14).
// Fields keep the spec's names; "unused" fields that MUST be zero are not
// represented (they are written as zeros and ignored when read, as Appendix A
// says Windows fills several of them from uninitialized memory).

// LinkMacToViewerPing (2.2.4.1): the server checks the client is alive.
type LinkMacToViewerPing struct {
	Param1, Param2 uint32 // dwParam1, dwParam2: SHOULD be 0, ignored
}

func (*LinkMacToViewerPing) MID() uint32 { return MIDLinkMacToViewerPing }
func (m *LinkMacToViewerPing) AppendBody(b []byte) []byte {
	return le32(le32(b, m.Param1), m.Param2)
}
func (m *LinkMacToViewerPing) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerPing"}
	m.Param1, m.Param2 = d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportConnectedEX (2.2.4.2): the answer to Connect.
type LinkMacToViewerReportConnectedEX struct {
	HR                          uint32
	PlayIncarnation             uint32 // MMSDisablePacketPair or MMSUsePacketPair
	MacToViewerProtocolRevision uint32 // MUST be 0x0004000B
	ViewerToMacProtocolRevision uint32 // MUST be 0x0003001C
	BlockGroupPlayTime          float64
	BlockGroupBlocks            uint32
	NMaxOpenFiles               uint32
	NBlockMaxBytes              uint32
	MaxBitRate                  uint32
	// The four strings; an empty string is sent with a count of 0 (no
	// terminator), a non-empty one with its terminating NUL counted.
	ServerVersionInfo string // e.g. "9.1.1.3814"
	VersionInfo       string
	VersionURL        string
	AuthenPackage     string // "", "BASIC" or "NTLM"
}

// NewReportConnectedEX fills the fields that 2.2.4.2 fixes.
func NewReportConnectedEX(playIncarnation uint32, serverVersion, authenPackage string) *LinkMacToViewerReportConnectedEX {
	return &LinkMacToViewerReportConnectedEX{
		PlayIncarnation:             playIncarnation,
		MacToViewerProtocolRevision: MacToViewerProtocolRevision,
		ViewerToMacProtocolRevision: ViewerToMacProtocolRevision,
		BlockGroupPlayTime:          1.0,
		BlockGroupBlocks:            1,
		NMaxOpenFiles:               1,
		NBlockMaxBytes:              DefaultBlockMaxBytes,
		MaxBitRate:                  DefaultMaxBitRate,
		ServerVersionInfo:           serverVersion,
		AuthenPackage:               authenPackage,
	}
}

func (*LinkMacToViewerReportConnectedEX) MID() uint32 { return MIDLinkMacToViewerReportConnectedEX }

func countZ(s string) uint32 {
	if s == "" {
		return 0
	}
	return uint32(UTF16Len(s) + 1)
}

func appendOptZ(b []byte, s string) []byte {
	if s == "" {
		return b
	}
	return AppendUTF16Z(b, s)
}

func (m *LinkMacToViewerReportConnectedEX) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(b, m.HR), m.PlayIncarnation), m.MacToViewerProtocolRevision), m.ViewerToMacProtocolRevision)
	b = lef64(b, m.BlockGroupPlayTime)
	b = le32(le32(le32(le32(b, m.BlockGroupBlocks), m.NMaxOpenFiles), m.NBlockMaxBytes), m.MaxBitRate)
	b = le32(le32(le32(le32(b, countZ(m.ServerVersionInfo)), countZ(m.VersionInfo)), countZ(m.VersionURL)), countZ(m.AuthenPackage))
	b = appendOptZ(b, m.ServerVersionInfo)
	b = appendOptZ(b, m.VersionInfo)
	b = appendOptZ(b, m.VersionURL)
	return appendOptZ(b, m.AuthenPackage)
}

func (m *LinkMacToViewerReportConnectedEX) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportConnectedEX"}
	m.HR, m.PlayIncarnation, m.MacToViewerProtocolRevision, m.ViewerToMacProtocolRevision = d.u32(), d.u32(), d.u32(), d.u32()
	m.BlockGroupPlayTime = d.f64()
	m.BlockGroupBlocks, m.NMaxOpenFiles, m.NBlockMaxBytes, m.MaxBitRate = d.u32(), d.u32(), d.u32(), d.u32()
	var cb [4]uint32
	for i := range cb {
		cb[i] = d.u32()
	}
	var s [4]string
	for i, n := range cb {
		if d.err == nil && uint64(n)*2 > uint64(len(b)-d.off) {
			return fmt.Errorf("%w: LinkMacToViewerReportConnectedEX string %d has %d characters, %d bytes remain",
				ErrBadLength, i, n, len(b)-d.off)
		}
		s[i] = DecodeUTF16Z(d.bytes(int(n) * 2))
	}
	m.ServerVersionInfo, m.VersionInfo, m.VersionURL, m.AuthenPackage = s[0], s[1], s[2], s[3]
	return d.err
}

// LinkMacToViewerReportConnectedFunnel (2.2.4.3): the answer to ConnectFunnel.
type LinkMacToViewerReportConnectedFunnel struct {
	HR                uint32
	PlayIncarnation   uint32 // ignored by receivers
	PacketPayloadSize uint32 // ignored by receivers
	FunnelName        string // "Funnel Of The Gods" (WMS on Windows 2000: "Funnel Of The ", <8>)
}

func (*LinkMacToViewerReportConnectedFunnel) MID() uint32 {
	return MIDLinkMacToViewerReportConnectedFunnel
}
func (m *LinkMacToViewerReportConnectedFunnel) AppendBody(b []byte) []byte {
	b = le32(le32(le32(b, m.HR), m.PlayIncarnation), m.PacketPayloadSize)
	return AppendUTF16Z(b, m.FunnelName)
}
func (m *LinkMacToViewerReportConnectedFunnel) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportConnectedFunnel"}
	m.HR, m.PlayIncarnation, m.PacketPayloadSize = d.u32(), d.u32(), d.u32()
	m.FunnelName = DecodeUTF16Z(d.rest())
	return d.err
}

// LinkMacToViewerReportDisconnectedFunnel (2.2.4.4): ConnectFunnel failed.
type LinkMacToViewerReportDisconnectedFunnel struct {
	HR              uint32
	PlayIncarnation uint32
}

func (*LinkMacToViewerReportDisconnectedFunnel) MID() uint32 {
	return MIDLinkMacToViewerReportDisconnectedFunnel
}
func (m *LinkMacToViewerReportDisconnectedFunnel) AppendBody(b []byte) []byte {
	return le32(le32(b, m.HR), m.PlayIncarnation)
}
func (m *LinkMacToViewerReportDisconnectedFunnel) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportDisconnectedFunnel"}
	m.HR, m.PlayIncarnation = d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportEndOfStream (2.2.4.5): end of a playlist entry, or the
// answer to StopPlaying. HR is EndOfStreamOK or EndOfStreamNext or an error.
type LinkMacToViewerReportEndOfStream struct {
	HR              uint32
	PlayIncarnation uint32
}

func (*LinkMacToViewerReportEndOfStream) MID() uint32 { return MIDLinkMacToViewerReportEndOfStream }
func (m *LinkMacToViewerReportEndOfStream) AppendBody(b []byte) []byte {
	return le32(le32(b, m.HR), m.PlayIncarnation)
}
func (m *LinkMacToViewerReportEndOfStream) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportEndOfStream"}
	m.HR, m.PlayIncarnation = d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportFunnelInfo (2.2.4.6): the answer to FunnelInfo. Over
// TCP with packet pair (4.4.2) the server sends it three times, followed by
// 480, 480 and 1016 random bytes in PacketPair.
type LinkMacToViewerReportFunnelInfo struct {
	HR                uint32
	PlayIncarnation   uint32
	TransportMask     uint32 // MUST be 0x00000008
	NBlockFragments   uint32 // MUST be 1
	FragmentBytes     uint32 // MUST be 0x00010000
	NCubs             uint32 // the client ID echoed in RequestPacketListResend (2.2.5)
	FailedCubs        uint32
	NDisks            uint32 // MUST be 1
	Decluster         uint32
	CubddDatagramSize uint32
	// PacketPair is everything after cubddDatagramSize, alignment padding
	// included (empty unless PlayIncarnation is 0xF0F0F0F0 or 0xF0F0F0F1).
	// It aliases the parsed bytes.
	PacketPair []byte
}

// NewReportFunnelInfo fills the fields that 2.2.4.6 fixes.
func NewReportFunnelInfo(playIncarnation, clientID uint32, packetPair []byte) *LinkMacToViewerReportFunnelInfo {
	return &LinkMacToViewerReportFunnelInfo{
		PlayIncarnation: playIncarnation,
		TransportMask:   ReportFunnelInfoTransportMsk,
		NBlockFragments: 1,
		FragmentBytes:   ReportFunnelInfoFragmentByte,
		NCubs:           clientID,
		NDisks:          1,
		PacketPair:      packetPair,
	}
}

func (*LinkMacToViewerReportFunnelInfo) MID() uint32 { return MIDLinkMacToViewerReportFunnelInfo }
func (m *LinkMacToViewerReportFunnelInfo) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(le32(b, m.HR), m.PlayIncarnation), m.TransportMask), m.NBlockFragments), m.FragmentBytes)
	b = le32(le32(le32(le32(le32(b, m.NCubs), m.FailedCubs), m.NDisks), m.Decluster), m.CubddDatagramSize)
	return append(b, m.PacketPair...)
}
func (m *LinkMacToViewerReportFunnelInfo) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportFunnelInfo"}
	m.HR, m.PlayIncarnation, m.TransportMask, m.NBlockFragments, m.FragmentBytes = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	m.NCubs, m.FailedCubs, m.NDisks, m.Decluster, m.CubddDatagramSize = d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	m.PacketPair = d.rest()
	if len(m.PacketPair) == 0 {
		m.PacketPair = nil
	}
	return d.err
}

// LinkMacToViewerReportOpenFile (2.2.4.7): the answer to OpenFile.
type LinkMacToViewerReportOpenFile struct {
	HR              uint32
	PlayIncarnation uint32
	OpenFileID      uint32
	Padding         uint32
	FileName        uint32 // MUST be 0
	FileAttributes  uint32 // FileAttribute* flags
	FileDuration    float64
	FileBlocks      uint32 // duration in seconds, rounded up
	FilePacketSize  uint32
	FilePacketCount uint64
	FileBitRate     uint32
	FileHeaderSize  uint32
}

func (*LinkMacToViewerReportOpenFile) MID() uint32 { return MIDLinkMacToViewerReportOpenFile }
func (m *LinkMacToViewerReportOpenFile) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(le32(le32(b, m.HR), m.PlayIncarnation), m.OpenFileID), m.Padding), m.FileName), m.FileAttributes)
	b = le32(lef64(b, m.FileDuration), m.FileBlocks)
	b = le32(zeros(b, 16), m.FilePacketSize) // unused1
	b = le32(le32(le64(b, m.FilePacketCount), m.FileBitRate), m.FileHeaderSize)
	return zeros(b, 36) // unused2
}
func (m *LinkMacToViewerReportOpenFile) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportOpenFile"}
	m.HR, m.PlayIncarnation, m.OpenFileID, m.Padding, m.FileName, m.FileAttributes = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	m.FileDuration, m.FileBlocks = d.f64(), d.u32()
	d.skip(16)
	m.FilePacketSize, m.FilePacketCount, m.FileBitRate, m.FileHeaderSize = d.u32(), d.u64(), d.u32(), d.u32()
	// unused2 (36 bytes) is filled from uninitialized memory by Windows
	// (<10>); it is required to be present, its content ignored.
	d.skip(36)
	return d.err
}

// LinkMacToViewerReportReadBlock (2.2.4.8): the answer to ReadBlock.
type LinkMacToViewerReportReadBlock struct {
	HR              uint32
	PlayIncarnation uint32
	PlaySequence    uint32 // MUST be 0
}

func (*LinkMacToViewerReportReadBlock) MID() uint32 { return MIDLinkMacToViewerReportReadBlock }
func (m *LinkMacToViewerReportReadBlock) AppendBody(b []byte) []byte {
	return le32(le32(le32(b, m.HR), m.PlayIncarnation), m.PlaySequence)
}
func (m *LinkMacToViewerReportReadBlock) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportReadBlock"}
	m.HR, m.PlayIncarnation, m.PlaySequence = d.u32(), d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportRedirect (2.2.4.9): go elsewhere.
type LinkMacToViewerReportRedirect struct {
	HR           uint32
	RedirectType uint16 // RedirectURL or RedirectProxy
	Location     string // wszLocation without its NUL; cbLocation is computed
}

func (*LinkMacToViewerReportRedirect) MID() uint32 { return MIDLinkMacToViewerReportRedirect }
func (m *LinkMacToViewerReportRedirect) AppendBody(b []byte) []byte {
	b = le16(le16(le32(b, m.HR), m.RedirectType), uint16(2*(UTF16Len(m.Location)+1)))
	return AppendUTF16Z(b, m.Location)
}
func (m *LinkMacToViewerReportRedirect) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportRedirect"}
	m.HR, m.RedirectType = d.u32(), d.u16()
	cb := int(d.u16())
	if d.err == nil && cb > len(b)-d.off {
		return fmt.Errorf("%w: LinkMacToViewerReportRedirect cbLocation %d, %d bytes remain", ErrBadLength, cb, len(b)-d.off)
	}
	m.Location = DecodeUTF16Z(d.bytes(cb))
	return d.err
}

// LinkMacToViewerReportStartedPlaying (2.2.4.10): the answer to StartPlaying.
type LinkMacToViewerReportStartedPlaying struct {
	HR              uint32
	PlayIncarnation uint32
	TigerFileID     uint32 // openFileId or 0 (<11>), ignored by receivers
	Unused1         uint32 // 0 or 0x40000000, ignored by receivers
}

func (*LinkMacToViewerReportStartedPlaying) MID() uint32 {
	return MIDLinkMacToViewerReportStartedPlaying
}
func (m *LinkMacToViewerReportStartedPlaying) AppendBody(b []byte) []byte {
	b = le32(le32(le32(le32(b, m.HR), m.PlayIncarnation), m.TigerFileID), m.Unused1)
	return zeros(b, 12) // unused2
}
func (m *LinkMacToViewerReportStartedPlaying) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportStartedPlaying"}
	m.HR, m.PlayIncarnation, m.TigerFileID, m.Unused1 = d.u32(), d.u32(), d.u32(), d.u32()
	d.skip(12)
	return d.err
}

// LinkMacToViewerReportStartStriding (2.2.4.11): the answer to StartStriding.
type LinkMacToViewerReportStartStriding struct {
	HR              uint32
	PlayIncarnation uint32
	Spare           uint32
}

func (*LinkMacToViewerReportStartStriding) MID() uint32 {
	return MIDLinkMacToViewerReportStartStriding
}
func (m *LinkMacToViewerReportStartStriding) AppendBody(b []byte) []byte {
	return le32(le32(le32(b, m.HR), m.PlayIncarnation), m.Spare)
}
func (m *LinkMacToViewerReportStartStriding) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportStartStriding"}
	m.HR, m.PlayIncarnation, m.Spare = d.u32(), d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportStreamChange (2.2.4.12): next server-side playlist entry.
type LinkMacToViewerReportStreamChange struct {
	HR                uint32
	TcpHdrIncarnation uint32 // dwTcpHdrIncarnation, MUST be 0xFF
	PacketSize        uint32 // cbPacketSize
	HeaderSize        uint32 // cbHeaderSize
	BitRate           uint32 // dwBitRate
	StreamID          uint32 // dwStreamId, ignored by receivers
}

func (*LinkMacToViewerReportStreamChange) MID() uint32 { return MIDLinkMacToViewerReportStreamChange }
func (m *LinkMacToViewerReportStreamChange) AppendBody(b []byte) []byte {
	b = le32(le32(le32(b, m.HR), m.TcpHdrIncarnation), m.PacketSize)
	return le32(le32(le32(b, m.HeaderSize), m.BitRate), m.StreamID)
}
func (m *LinkMacToViewerReportStreamChange) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportStreamChange"}
	m.HR, m.TcpHdrIncarnation, m.PacketSize, m.HeaderSize, m.BitRate, m.StreamID = d.u32(), d.u32(), d.u32(), d.u32(), d.u32(), d.u32()
	return d.err
}

// LinkMacToViewerReportStreamSwitch (2.2.4.13): the answer to StreamSwitch.
type LinkMacToViewerReportStreamSwitch struct {
	HR uint32
}

func (*LinkMacToViewerReportStreamSwitch) MID() uint32 { return MIDLinkMacToViewerReportStreamSwitch }
func (m *LinkMacToViewerReportStreamSwitch) AppendBody(b []byte) []byte {
	return le32(b, m.HR)
}
func (m *LinkMacToViewerReportStreamSwitch) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerReportStreamSwitch"}
	m.HR = d.u32()
	return d.err
}

// LinkMacToViewerSecurityChallenge (2.2.4.14): authentication required. For
// Basic, Token is UTF-16LE `realm="..."` plus NUL (see BasicChallengeToken);
// for NTLM it starts with two zero bytes (see NTLMToken).
type LinkMacToViewerSecurityChallenge struct {
	PlayIncarnation uint32
	Cookie          uint32
	Token           []byte // pToken; cbToken is len(Token). Aliases the parsed bytes.
}

func (*LinkMacToViewerSecurityChallenge) MID() uint32 { return MIDLinkMacToViewerSecurityChallenge }
func (m *LinkMacToViewerSecurityChallenge) AppendBody(b []byte) []byte {
	b = le32(le32(le32(b, m.PlayIncarnation), m.Cookie), uint32(len(m.Token)))
	return append(b, m.Token...)
}
func (m *LinkMacToViewerSecurityChallenge) UnmarshalBody(b []byte) error {
	d := dec{b: b, msg: "LinkMacToViewerSecurityChallenge"}
	m.PlayIncarnation, m.Cookie = d.u32(), d.u32()
	m.Token = tokenField(&d, "cbToken")
	return d.err
}

// tokenField reads a 32-bit byte count and that many bytes.
func tokenField(d *dec, name string) []byte {
	n := d.count(1, name)
	if d.err != nil || n == 0 {
		return nil
	}
	return d.bytes(n)
}
