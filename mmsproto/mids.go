package mmsproto

// Message IDs (MID) of 2.2.4. Client-to-server messages are 0x0003xxxx,
// server-to-client messages 0x0004xxxx.
const (
	MIDLinkMacToViewerPing                     = 0x0004001B // 2.2.4.1
	MIDLinkMacToViewerReportConnectedEX        = 0x00040001 // 2.2.4.2
	MIDLinkMacToViewerReportConnectedFunnel    = 0x00040002 // 2.2.4.3
	MIDLinkMacToViewerReportDisconnectedFunnel = 0x00040003 // 2.2.4.4
	MIDLinkMacToViewerReportEndOfStream        = 0x0004001E // 2.2.4.5
	MIDLinkMacToViewerReportFunnelInfo         = 0x00040015 // 2.2.4.6
	MIDLinkMacToViewerReportOpenFile           = 0x00040006 // 2.2.4.7
	MIDLinkMacToViewerReportReadBlock          = 0x00040011 // 2.2.4.8
	MIDLinkMacToViewerReportRedirect           = 0x00040022 // 2.2.4.9
	MIDLinkMacToViewerReportStartedPlaying     = 0x00040005 // 2.2.4.10
	MIDLinkMacToViewerReportStartStriding      = 0x0004000A // 2.2.4.11
	MIDLinkMacToViewerReportStreamChange       = 0x00040020 // 2.2.4.12
	MIDLinkMacToViewerReportStreamSwitch       = 0x00040021 // 2.2.4.13
	MIDLinkMacToViewerSecurityChallenge        = 0x0004001A // 2.2.4.14
	MIDLinkViewerToMacCancelReadBlock          = 0x00030025 // 2.2.4.15
	MIDLinkViewerToMacCloseFile                = 0x0003000D // 2.2.4.16
	MIDLinkViewerToMacConnect                  = 0x00030001 // 2.2.4.17
	MIDLinkViewerToMacConnectFunnel            = 0x00030002 // 2.2.4.18
	MIDLinkViewerToMacFunnelInfo               = 0x00030018 // 2.2.4.19
	MIDLinkViewerToMacLogging                  = 0x00030032 // 2.2.4.20
	MIDLinkViewerToMacOpenFile                 = 0x00030005 // 2.2.4.21
	MIDLinkViewerToMacPong                     = 0x0003001B // 2.2.4.22
	MIDLinkViewerToMacReadBlock                = 0x00030015 // 2.2.4.23
	MIDLinkViewerToMacSecurityResponse         = 0x0003001A // 2.2.4.24
	MIDLinkViewerToMacStartPlaying             = 0x00030007 // 2.2.4.25
	MIDLinkViewerToMacStartStriding            = 0x00030028 // 2.2.4.26
	MIDLinkViewerToMacStopPlaying              = 0x00030009 // 2.2.4.27
	MIDLinkViewerToMacStreamSwitch             = 0x00030033 // 2.2.4.28
)

// Values of playIncarnation in Connect, ConnectedEX, FunnelInfo and
// ReportFunnelInfo (2.2.4.2, 2.2.4.6, 2.2.4.17, 2.2.4.19).
const (
	MMSDisablePacketPair         = 0xF0F0F0EF
	MMSUsePacketPair             = 0xF0F0F0F0
	MMSPacketPairTCPHighEntropy  = 0xF0F0F0F1
	MMSPacketPairUDPHighEntropy  = 0xF0F0F901
	MacToViewerProtocolRevision  = 0x0004000B
	ViewerToMacProtocolRevision  = 0x0003001C
	DefaultMaxBitRate            = 0x00989680 // 10,000,000 (2.2.4.2, 2.2.4.18)
	DefaultBlockMaxBytes         = 0x00008000 // nBlockMaxBytes, ReadBlock length
	FunnelOfTheGods              = "Funnel Of The Gods"
	FunnelMode                   = 0x00000002 // 2.2.4.18
	ReportFunnelInfoTransportMsk = 0x00000008 // 2.2.4.6 transportMask
	ReportFunnelInfoFragmentByte = 0x00010000 // 2.2.4.6 fragmentBytes
)

// fileAttributes flags of LinkMacToViewerReportOpenFile (2.2.4.7).
const (
	FileAttributeCanStride = 0x00800000
	FileAttributeCanSeek   = 0x01000000
	FileAttributeBroadcast = 0x02000000
	FileAttributeLive      = 0x04000000
	FileAttributePlaylist  = 0x40000000
)

// RedirectType values (2.2.4.9).
const (
	RedirectURL   = 0x0001
	RedirectProxy = 0x0002
)

// Thinning levels of STREAM_SWITCH_ENTRY (2.2.4.28.1) and the "no stream" value.
const (
	ThinningNone      = 0x0000
	ThinningKeyOnly   = 0x0001
	ThinningAll       = 0x0002
	NoStream          = 0xFFFF
	EndOfStreamOK     = 0x00000000 // 2.2.4.5 hr: end of entry or StopPlaying done
	EndOfStreamNext   = 0x00000001 // 2.2.4.5 hr: a ReportStreamChange follows
	TcpHdrIncarnation = 0x000000FF // 2.2.4.12 dwTcpHdrIncarnation
)

// A few HRESULT codes (MS-ERREF) that MMS servers report.
const (
	HRSuccess      = 0x00000000
	HRFail         = 0x80004005 // E_FAIL
	HRAccessDenied = 0x80070005 // E_ACCESSDENIED
	HRFileNotFound = 0x80070002 // HRESULT_FROM_WIN32(ERROR_FILE_NOT_FOUND)
)

// NewMessage returns a zero message of the type that mid identifies, or nil.
func NewMessage(mid uint32) Message {
	switch mid {
	case MIDLinkMacToViewerPing:
		return new(LinkMacToViewerPing)
	case MIDLinkMacToViewerReportConnectedEX:
		return new(LinkMacToViewerReportConnectedEX)
	case MIDLinkMacToViewerReportConnectedFunnel:
		return new(LinkMacToViewerReportConnectedFunnel)
	case MIDLinkMacToViewerReportDisconnectedFunnel:
		return new(LinkMacToViewerReportDisconnectedFunnel)
	case MIDLinkMacToViewerReportEndOfStream:
		return new(LinkMacToViewerReportEndOfStream)
	case MIDLinkMacToViewerReportFunnelInfo:
		return new(LinkMacToViewerReportFunnelInfo)
	case MIDLinkMacToViewerReportOpenFile:
		return new(LinkMacToViewerReportOpenFile)
	case MIDLinkMacToViewerReportReadBlock:
		return new(LinkMacToViewerReportReadBlock)
	case MIDLinkMacToViewerReportRedirect:
		return new(LinkMacToViewerReportRedirect)
	case MIDLinkMacToViewerReportStartedPlaying:
		return new(LinkMacToViewerReportStartedPlaying)
	case MIDLinkMacToViewerReportStartStriding:
		return new(LinkMacToViewerReportStartStriding)
	case MIDLinkMacToViewerReportStreamChange:
		return new(LinkMacToViewerReportStreamChange)
	case MIDLinkMacToViewerReportStreamSwitch:
		return new(LinkMacToViewerReportStreamSwitch)
	case MIDLinkMacToViewerSecurityChallenge:
		return new(LinkMacToViewerSecurityChallenge)
	case MIDLinkViewerToMacCancelReadBlock:
		return new(LinkViewerToMacCancelReadBlock)
	case MIDLinkViewerToMacCloseFile:
		return new(LinkViewerToMacCloseFile)
	case MIDLinkViewerToMacConnect:
		return new(LinkViewerToMacConnect)
	case MIDLinkViewerToMacConnectFunnel:
		return new(LinkViewerToMacConnectFunnel)
	case MIDLinkViewerToMacFunnelInfo:
		return new(LinkViewerToMacFunnelInfo)
	case MIDLinkViewerToMacLogging:
		return new(LinkViewerToMacLogging)
	case MIDLinkViewerToMacOpenFile:
		return new(LinkViewerToMacOpenFile)
	case MIDLinkViewerToMacPong:
		return new(LinkViewerToMacPong)
	case MIDLinkViewerToMacReadBlock:
		return new(LinkViewerToMacReadBlock)
	case MIDLinkViewerToMacSecurityResponse:
		return new(LinkViewerToMacSecurityResponse)
	case MIDLinkViewerToMacStartPlaying:
		return new(LinkViewerToMacStartPlaying)
	case MIDLinkViewerToMacStartStriding:
		return new(LinkViewerToMacStartStriding)
	case MIDLinkViewerToMacStopPlaying:
		return new(LinkViewerToMacStopPlaying)
	case MIDLinkViewerToMacStreamSwitch:
		return new(LinkViewerToMacStreamSwitch)
	}
	return nil
}
