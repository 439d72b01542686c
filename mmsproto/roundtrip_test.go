package mmsproto

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"
)

// allMessages returns one message of every 2.2.4 type with non-zero fields.
func allMessages() []Message {
	return []Message{
		&LinkMacToViewerPing{Param1: 1, Param2: 0xDEADBEEF},
		&LinkMacToViewerReportConnectedEX{HR: 0, PlayIncarnation: MMSUsePacketPair,
			MacToViewerProtocolRevision: MacToViewerProtocolRevision, ViewerToMacProtocolRevision: ViewerToMacProtocolRevision,
			BlockGroupPlayTime: 1, BlockGroupBlocks: 1, NMaxOpenFiles: 1, NBlockMaxBytes: 0x8000, MaxBitRate: DefaultMaxBitRate,
			ServerVersionInfo: "9.1.1.3814", VersionInfo: "9.0", VersionURL: "http://example.com/upgrade", AuthenPackage: "NTLM"},
		NewReportConnectedEX(MMSDisablePacketPair, "4.1.0.3928", ""),
		&LinkMacToViewerReportConnectedFunnel{PlayIncarnation: 7, PacketPayloadSize: 9, FunnelName: FunnelOfTheGods},
		&LinkMacToViewerReportDisconnectedFunnel{HR: HRFail, PlayIncarnation: 3},
		&LinkMacToViewerReportEndOfStream{HR: EndOfStreamNext, PlayIncarnation: 0x42},
		NewReportFunnelInfo(MMSPacketPairUDPHighEntropy, 0x1234, nil),
		NewReportFunnelInfo(MMSPacketPairTCPHighEntropy, 0x1234, bytes.Repeat([]byte{0xA5}, 480)),
		&LinkMacToViewerReportOpenFile{HR: 0, PlayIncarnation: 2, OpenFileID: 5, Padding: 0, FileAttributes: FileAttributeCanSeek | FileAttributeCanStride,
			FileDuration: 12.5, FileBlocks: 13, FilePacketSize: 3200, FilePacketCount: 1000, FileBitRate: 300000, FileHeaderSize: 5000},
		&LinkMacToViewerReportReadBlock{HR: 0, PlayIncarnation: 3},
		&LinkMacToViewerReportRedirect{HR: 0, RedirectType: RedirectURL, Location: "mmst://other.example:1755/clip.asf"},
		&LinkMacToViewerReportRedirect{RedirectType: RedirectProxy},
		&LinkMacToViewerReportStartedPlaying{HR: 0, PlayIncarnation: 9, TigerFileID: 5, Unused1: 0x40000000},
		&LinkMacToViewerReportStartStriding{HR: 1, PlayIncarnation: 10},
		&LinkMacToViewerReportStreamChange{TcpHdrIncarnation: TcpHdrIncarnation, PacketSize: 3200, HeaderSize: 5050, BitRate: 128000},
		&LinkMacToViewerReportStreamSwitch{HR: HRAccessDenied},
		&LinkMacToViewerSecurityChallenge{PlayIncarnation: 2, Cookie: 77, Token: BasicChallengeToken("mms")},
		&LinkViewerToMacCancelReadBlock{PlayIncarnation: 4},
		&LinkViewerToMacCloseFile{PlayIncarnation: 1, OpenFileID: 5},
		&LinkViewerToMacConnect{PlayIncarnation: MMSUsePacketPair, MacToViewerProtocolRevision: MacToViewerProtocolRevision,
			ViewerToMacProtocolRevision: ViewerToMacProtocolRevision,
			SubscriberName:              "NSPlayer/9.0.0.2980; {3300AD50-2C39-46c0-AE0A-70A7E2BE3F2A}; Host: example.com\x00HOST: example.com:1755\x00VIA: proxy/1.0"},
		&LinkViewerToMacConnectFunnel{MaxBlockBytes: 0xFFFFFFFF, MaxBitRate: DefaultMaxBitRate, FunnelMode: FunnelMode, FunnelName: `\\192.168.0.1\UDP\7000`},
		&LinkViewerToMacFunnelInfo{PlayIncarnation: MMSPacketPairTCPHighEntropy},
		&LinkViewerToMacLogging{Log: testClientLog()},
		&LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "media/mediastream.asf"},
		&LinkViewerToMacOpenFile{PlayIncarnation: 2, Spare: 0xFFFFFFFF, FileName: "abc.asf", TokenData: []byte("dXNlcjpwYXNz\x00")},
		&LinkViewerToMacPong{Param1: 3},
		&LinkViewerToMacReadBlock{OpenFileID: 5, Length: 0x8000, Flags: 0xFFFFFFFF, TDeadline: 3600, PlayIncarnation: 2},
		&LinkViewerToMacSecurityResponse{PlayIncarnation: 2, Cookie: 77, Token: []byte("dXNlcjpwYXNz\x00")},
		&LinkViewerToMacStartPlaying{OpenFileID: 5, Position: 0, ASFOffset: 0xFFFFFFFF, LocationID: 0xFFFFFFFF, PlayIncarnation: 3},
		&LinkViewerToMacStartPlaying{OpenFileID: 5, Position: PositionFromLocation, LocationID: 99, PlayIncarnation: 4,
			HasAccel: true, AccelBandwidth: 1e6, AccelDuration: 5000},
		&LinkViewerToMacStartPlaying{OpenFileID: 5, Position: 3.25, FrameOffset: 0x80000000 | 10000, PlayIncarnation: 5,
			HasAccel: true, AccelBandwidth: 1e6, AccelDuration: 5000, HasLinkBandwidth: true, LinkBandwidth: 2e6},
		&LinkViewerToMacStartStriding{OpenFileID: 5, Position: 10, PlayIncarnation: 6, Rate: -5},
		&LinkViewerToMacStopPlaying{OpenFileID: 5, PlayIncarnation: 6},
		&LinkViewerToMacStreamSwitch{Entries: []StreamSwitchEntry{{NoStream, 1, ThinningNone}, {NoStream, 2, ThinningKeyOnly}, {3, NoStream, ThinningAll}}},
		&LinkViewerToMacStreamSwitch{},
	}
}

func testClientLog() ClientLog {
	return ClientLog{
		Info: ClientLogInfo{URL: "mms://host/clip.asf", ChannelURL: "-", UserAgent: "mmsgate/1", HostingWebPage: "-",
			ClientVersion: 9<<48 | 2980, Lang: "en-US", UniquePID: "{3300AD50-2C39-46C0-AE0A-70A7E2BE3F2A}", HostExe: "mmsgate",
			HostExeVer: 1 << 48, FileDuration: 12500, FileSize: 123456, AvgBandwidthBps: 300000, AudioCodec: "WMA2", VideoCodec: "WMV2",
			StartTime: 0, Played: 12000, Rate: 1, BufferingCount: 1, BufferingTime: 800, BytesReceived: 450000,
			PacketsReceived: 140, PacketsLostClient: 2, MinReceptionQuality: 98},
		SourceID: 5, IPAddress: 0xFFFFFFFF, ComputerDNS: "-", OS: "Linux", OSVersion: 6 << 48, CPU: "x86_64", Proto: "mms",
		Transport: "UDP", PacketsLostNet: 3, PacketsLostContNet: 2, ResendRequests: 3, PacketsRecoveredResent: 1, PacketsResent: 1,
	}
}

func TestEveryMIDCovered(t *testing.T) {
	seen := map[uint32]bool{}
	for _, m := range allMessages() {
		seen[m.MID()] = true
	}
	if len(seen) != 28 {
		t.Fatalf("allMessages covers %d message types, 2.2.4 has 28", len(seen))
	}
	for mid := range seen {
		if NewMessage(mid) == nil {
			t.Errorf("NewMessage(0x%08x) = nil", mid)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for i, m := range allMessages() {
		name := reflect.TypeOf(m).Elem().Name()
		b := Marshal(m, uint16(i), uint64(1000*i))
		if len(b)%8 != 0 {
			t.Errorf("%s: %d bytes, not 8-byte aligned", name, len(b))
		}
		var h TcpMessageHeader
		if err := h.Unmarshal(b); err != nil {
			t.Fatalf("%s: header: %v", name, err)
		}
		if int(h.MessageLength)+16 != len(b) || h.Seq != uint16(i) || h.TimeSent != uint64(1000*i) || int(h.ChunkCount)*8 != len(b) {
			t.Errorf("%s: header %+v for %d bytes", name, h, len(b))
		}
		got, err := ReadMessage(bytes.NewReader(b), DefaultMaxSize)
		if err != nil {
			t.Fatalf("%s: ReadMessage: %v", name, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, m)
		}
		if again := Marshal(got, uint16(i), uint64(1000*i)); !bytes.Equal(again, b) {
			t.Errorf("%s: re-marshal differs", name)
		}
		// Every proper prefix of the body must fail cleanly or parse.
		body := MarshalBody(m)
		for n := 0; n < len(body); n++ {
			_, _ = UnmarshalMessage(body[:n])
		}
	}
}

func TestDataPacketRoundTrip(t *testing.T) {
	p := &DataPacket{LocationID: 42, PlayIncarnation: 3, AFFlags: 0x7F, Payload: []byte("asf data packet")}
	b := p.Marshal()
	if len(b) != 8+len(p.Payload) || int(b[6])|int(b[7])<<8 != len(b) {
		t.Fatalf("PacketSize wrong: % x", b[:8])
	}
	if !bytes.Equal(Marshal(p, 9, 9), b) {
		t.Fatal("Marshal(*DataPacket) differs from DataPacket.Marshal")
	}
	var q DataPacket
	if err := q.Unmarshal(b); err != nil || !reflect.DeepEqual(&q, p) {
		t.Fatalf("Unmarshal: %v %+v", err, q)
	}
	if err := q.Unmarshal(b[:len(b)-1]); !errors.Is(err, ErrBadLength) {
		t.Fatalf("truncated datagram: %v", err)
	}
	m, err := ReadMessage(bytes.NewReader(b), 100)
	if err != nil || !reflect.DeepEqual(m, p) {
		t.Fatalf("ReadMessage: %v %+v", err, m)
	}
	if _, err := ReadMessage(bytes.NewReader(b), 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("limit: %v", err)
	}
}

func TestPositionDBLMax(t *testing.T) {
	if PositionFromLocation != math.MaxFloat64 {
		t.Fatal("PositionFromLocation")
	}
}
