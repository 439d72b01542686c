package mmsserver

import (
	"bytes"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

func clipDir(t *testing.T) (dir string, m *media) {
	t.Helper()
	dir = t.TempDir()
	spec := fixture.WMV2()
	spec.Duration = 3 * time.Second
	copyFile(t, clip(t, spec), filepath.Join(dir, "c.wmv"))
	m, err := openMedia(filepath.Join(dir, "c.wmv"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return dir, m
}

func TestOpenFileReport(t *testing.T) {
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Unpaced: true})
	c := dial(t, addr)
	r := c.open(nsplayer, "c.wmv")
	if r.HR != 0 || r.OpenFileID != 1 || r.FilePacketSize != uint32(m.packetSize) ||
		r.FilePacketCount != m.packetCount || r.FileHeaderSize != uint32(len(m.headerBytes)) {
		t.Fatalf("ReportOpenFile %+v", r)
	}
	if r.FileAttributes&(mmsproto.FileAttributeCanSeek|mmsproto.FileAttributeCanStride) == 0 {
		t.Errorf("attributes 0x%x", r.FileAttributes)
	}
	// fileBitRate is computed from the packets (FFmpeg writes no stream
	// bit rates): about 350 kbit/s of content in 3200-byte packets.
	if r.FileBitRate < 300_000 || r.FileBitRate > 1_500_000 {
		t.Errorf("fileBitRate %d", r.FileBitRate)
	}
	h := c.readHeader(2)
	if !bytes.Equal(h, m.headerBytes) {
		t.Fatalf("header differs: %d bytes, want %d", len(h), len(m.headerBytes))
	}
	// unknown file
	c2 := dial(t, addr)
	if r := c2.open(nsplayer, "../etc/passwd"); r.HR == 0 {
		t.Errorf("opening ../etc/passwd: hr 0")
	}
}

// TestConnectTokens: both spellings of the WMS 4.x token (2.2.4.17) select
// every stream without StreamSwitch and get whole packets (2.2.2); other
// clients get nothing without StreamSwitch (3.2.5.11).
func TestConnectTokens(t *testing.T) {
	checkGoroutines(t)
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Unpaced: true, StripPadding: StripAll})
	for _, tok := range []string{"Spooooon!", "Spoooon!"} {
		t.Run(tok, func(t *testing.T) {
			c := dial(t, addr)
			c.open(tok, "c.wmv")
			c.readHeader(2)
			c.play(3, 0)
			data, eos := c.dataUntilEnd()
			if uint64(len(data)) != m.packetCount || eos.HR != 0 || eos.PlayIncarnation != 3 {
				t.Fatalf("%d packets of %d, eos %+v", len(data), m.packetCount, eos)
			}
			for i, d := range data {
				if len(d.Payload) != m.packetSize || d.LocationID != uint32(i) || d.AFFlags != uint8(i) || d.PlayIncarnation != 3 {
					t.Fatalf("packet %d: loc %d flags %d inc %d size %d", i, d.LocationID, d.AFFlags, d.PlayIncarnation, len(d.Payload))
				}
			}
		})
	}
	t.Run("NSPlayer without StreamSwitch", func(t *testing.T) {
		c := dial(t, addr)
		c.open(nsplayer, "c.wmv")
		c.readHeader(2)
		c.play(3, 0)
		if data, _ := c.dataUntilEnd(); len(data) != 0 {
			t.Fatalf("%d packets with no stream selected", len(data))
		}
	})
}

// TestStreamSelection: "no stream" entries and thinning level 2 (2.2.4.28).
func TestStreamSelection(t *testing.T) {
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Unpaced: true})
	var audio, video uint16
	for _, s := range m.header.Streams {
		if s.IsVideo() {
			video = s.StreamNumber
		} else {
			audio = s.StreamNumber
		}
	}
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	c.readHeader(2)
	c.selectStreams(mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: audio},
		mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: video, ThinningLevel: mmsproto.ThinningAll},
		mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: mmsproto.NoStream})
	c.play(3, 0)
	data, _ := c.dataUntilEnd()
	if len(data) == 0 {
		t.Fatal("no audio packets")
	}
	var p packetInfo
	for _, d := range data {
		full := append(append([]byte(nil), d.Payload...), make([]byte, m.packetSize-len(d.Payload))...)
		if err := parsePacket(full, &p); err != nil {
			t.Fatal(err)
		}
		for _, pl := range p.payloads {
			if uint16(pl.stream) != audio {
				t.Fatalf("packet %d has a payload of stream %d", d.LocationID, pl.stream)
			}
		}
	}
}

// TestSeekAndStride: StartPlaying from a packet number and from a time,
// StartStriding sends key frames only (3.2.5.11, 3.2.5.12).
func TestSeekAndStride(t *testing.T) {
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Unpaced: true})
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	c.readHeader(2)
	c.selectStreams(all(m.streams...)...)
	c.play(3, 10)
	data, _ := c.dataUntilEnd()
	if len(data) == 0 || data[0].LocationID != 10 || uint64(len(data)) != m.packetCount-10 {
		t.Fatalf("from packet 10: %d packets, first %d", len(data), data[0].LocationID)
	}
	// by time: 2 s lands on the key frame of 2 s (GOP 1 s)
	c.send(&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, Position: 2, ASFOffset: 0xFFFFFFFF,
		LocationID: 0xFFFFFFFF, PlayIncarnation: 4})
	expect[*mmsproto.LinkMacToViewerReportStartedPlaying](c)
	data, _ = c.dataUntilEnd()
	keys := map[uint32]bool{}
	for _, k := range m.keyPackets {
		keys[uint32(k)] = true
	}
	if len(data) == 0 || !keys[data[0].LocationID] || data[0].LocationID == 0 {
		t.Fatalf("seek to 2 s started at packet %v (key packets %v)", data[0].LocationID, m.keyPackets)
	}
	c.send(&mmsproto.LinkViewerToMacStartStriding{OpenFileID: 1, ASFOffset: 0xFFFFFFFF, LocationID: 0xFFFFFFFF,
		PlayIncarnation: 5, Rate: 5})
	expect[*mmsproto.LinkMacToViewerReportStartStriding](c)
	data, _ = c.dataUntilEnd()
	if len(data) != len(m.keyPackets) {
		t.Fatalf("striding sent %d packets, %d key frames", len(data), len(m.keyPackets))
	}
	for _, d := range data {
		if !keys[d.LocationID] {
			t.Fatalf("striding sent packet %d, not a key frame", d.LocationID)
		}
	}
}

// TestStopPlaying: EndOfStream hr 0 echoes StopPlaying's playIncarnation.
func TestStopPlaying(t *testing.T) {
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Rate: 1})
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	c.readHeader(2)
	c.selectStreams(all(m.streams...)...)
	c.play(3, 0)
	expect[*mmsproto.DataPacket](c)
	c.send(&mmsproto.LinkViewerToMacStopPlaying{OpenFileID: 1, PlayIncarnation: 0x77})
	eos := expect[*mmsproto.LinkMacToViewerReportEndOfStream](c)
	if eos.HR != 0 || eos.PlayIncarnation != 0x77 {
		t.Fatalf("%+v", eos)
	}
	c.send(&mmsproto.LinkViewerToMacCloseFile{OpenFileID: 1})
	if _, err := c.next(); err == nil {
		t.Fatal("connection open after CloseFile")
	}
}

// TestTimers: Ping when the KeepAlive timer expires, the connection closed
// when the Idle-Timeout timer does (3.2.6).
func TestTimers(t *testing.T) {
	checkGoroutines(t)
	dir, _ := clipDir(t)
	addr := serve(t, &Server{Dir: dir, KeepAlive: 100 * time.Millisecond, IdleTimeout: 600 * time.Millisecond})
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	if _, ok := c.must().(*mmsproto.LinkMacToViewerPing); !ok {
		t.Fatal("no Ping")
	}
	c.send(&mmsproto.LinkViewerToMacPong{})
	for {
		m, err := c.next()
		if err != nil {
			break // closed by Idle-Timeout
		}
		if _, ok := m.(*mmsproto.LinkMacToViewerPing); !ok {
			t.Fatalf("got %T", m)
		}
	}
}

func TestLoggingAndEvents(t *testing.T) {
	dir, _ := clipDir(t)
	got := make(chan ClientLog, 1)
	srv := &Server{Dir: dir, OnClientLog: func(l ClientLog) { got <- l }}
	addr := serve(t, srv)
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	c.send(&mmsproto.LinkViewerToMacLogging{Log: mmsproto.ClientLog{Transport: "TCP", PacketsLostNet: 7}})
	select {
	case l := <-got:
		if l.Log.PacketsLostNet != 7 || l.Path != "c.wmv" {
			t.Fatalf("%+v", l)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no client log")
	}
	if logs := srv.ClientLogs(); len(logs) != 1 || logs[0].Log.Transport != "TCP" {
		t.Fatalf("ClientLogs %+v", logs)
	}
}

// TestPacketPairTCP: three ReportFunnelInfo in TcpMessageHeader packets of
// 512, 512 and 1056 bytes (3.2.5.4, 4.4.2).
func TestPacketPairTCP(t *testing.T) {
	addr := serve(t, &Server{})
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{PlayIncarnation: mmsproto.MMSUsePacketPair, SubscriberName: nsplayer})
	if r := expect[*mmsproto.LinkMacToViewerReportConnectedEX](c); r.PlayIncarnation != mmsproto.MMSUsePacketPair {
		t.Fatalf("ConnectedEX playIncarnation 0x%x", r.PlayIncarnation)
	}
	c.send(&mmsproto.LinkViewerToMacFunnelInfo{PlayIncarnation: mmsproto.MMSPacketPairTCPHighEntropy})
	var pp [][]byte
	for _, size := range []int{512, 512, 1056} {
		r := expect[*mmsproto.LinkMacToViewerReportFunnelInfo](c)
		if c.last != size || r.PlayIncarnation != mmsproto.MMSPacketPairTCPHighEntropy || r.NCubs == 0 {
			t.Fatalf("ReportFunnelInfo of %d bytes (want %d), %+v", c.last, size, r)
		}
		pp = append(pp, r.PacketPair)
	}
	if bytes.Equal(pp[0], pp[1]) {
		t.Error("packet-pair payloads are equal")
	}
}

func TestRedirect(t *testing.T) {
	addr := serve(t, &Server{Redirects: map[string]string{"old.wmv": "mmst://example.net/new.wmv"}})
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	expect[*mmsproto.LinkMacToViewerReportConnectedEX](c)
	c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "old.wmv"})
	r := expect[*mmsproto.LinkMacToViewerReportRedirect](c)
	if r.Location != "mmst://example.net/new.wmv" || r.RedirectType != mmsproto.RedirectURL {
		t.Fatalf("%+v", r)
	}
	if _, err := c.next(); err == nil {
		t.Fatal("connection open after redirect")
	}
}

// TestBasicAuth: 4.6.1.
func TestBasicAuth(t *testing.T) {
	dir, _ := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Auth: &Auth{Scheme: "basic", Username: "u", Password: "p"}})
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	if r := expect[*mmsproto.LinkMacToViewerReportConnectedEX](c); r.AuthenPackage != "BASIC" {
		t.Fatalf("AuthenPackage %q", r.AuthenPackage)
	}
	c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "c.wmv"})
	ch := expect[*mmsproto.LinkMacToViewerSecurityChallenge](c)
	if realm, err := mmsproto.ParseBasicChallenge(ch.Token); err != nil || realm != "mmsd" {
		t.Fatalf("challenge realm %q %v", realm, err)
	}
	c.send(&mmsproto.LinkViewerToMacSecurityResponse{PlayIncarnation: 2, Cookie: ch.Cookie, Token: []byte("dTp3cm9uZw==\x00")})
	ch = expect[*mmsproto.LinkMacToViewerSecurityChallenge](c)
	c.send(&mmsproto.LinkViewerToMacSecurityResponse{PlayIncarnation: 3, Cookie: ch.Cookie, Token: []byte("dTpw\x00")}) // u:p
	r := expect[*mmsproto.LinkMacToViewerReportOpenFile](c)
	if r.HR != 0 || r.PlayIncarnation != 3 {
		t.Fatalf("%+v", r)
	}
}

// TestNTLMAuth: 4.6.2 with the auth package's client (go-ntlmssp), in both
// token forms (bare and NTLM_AUTH-wrapped).
func TestNTLMAuth(t *testing.T) {
	dir, _ := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Auth: &Auth{Scheme: "ntlm", Username: "alice", Password: "secret"}})
	for _, tc := range []struct {
		name string
		pw   string
		wrap bool
		ok   bool
	}{{"bare", "secret", false, true}, {"wrapped", "secret", true, true}, {"wrong password", "nope", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, addr)
			c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
			if r := expect[*mmsproto.LinkMacToViewerReportConnectedEX](c); r.AuthenPackage != "NTLM" {
				t.Fatalf("AuthenPackage %q", r.AuthenPackage)
			}
			x := (&auth.Client{Username: "alice", Password: tc.pw, WrapNTLMAuth: tc.wrap}).NewExchange("NTLM")
			c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "c.wmv"})
			for inc := uint32(2); inc < 12; inc++ {
				switch m := c.must().(type) {
				case *mmsproto.LinkMacToViewerSecurityChallenge:
					tok, err := x.Step(m.Token)
					if err != nil {
						t.Fatal(err)
					}
					c.send(&mmsproto.LinkViewerToMacSecurityResponse{PlayIncarnation: inc, Cookie: m.Cookie, Token: tok})
				case *mmsproto.LinkMacToViewerReportOpenFile:
					if (m.HR == 0) != tc.ok {
						t.Fatalf("ReportOpenFile hr 0x%x, want ok=%v", m.HR, tc.ok)
					}
					return
				default:
					t.Fatalf("got %T", m)
				}
			}
			t.Fatal("no ReportOpenFile")
		})
	}
}

// TestPlaylistTCP: 3.2.4.1 and 3.2.4.2 over TCP: EndOfStream hr 1,
// ReportStreamChange, the next header and data with playIncarnation 0xFF.
func TestPlaylistTCP(t *testing.T) {
	checkGoroutines(t)
	dir, m := clipDir(t)
	a := filepath.Join(dir, "c.wmv")
	b := clip(t, fixture.Spec{Audio: fixture.AudioWMAV2, Duration: 2 * time.Second})
	srv := &Server{Unpaced: true}
	if err := srv.AddPlaylist("pl", a, b); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	c := dial(t, addr)
	r := c.open(nsplayer, "pl")
	if r.FileAttributes&mmsproto.FileAttributePlaylist == 0 {
		t.Errorf("attributes 0x%x", r.FileAttributes)
	}
	c.readHeader(2)
	c.selectStreams(all(m.streams...)...)
	c.play(3, 0)
	data, eos := c.dataUntilEnd()
	if uint64(len(data)) != m.packetCount || eos.HR != mmsproto.EndOfStreamNext {
		t.Fatalf("entry 1: %d packets, eos %+v", len(data), eos)
	}
	sc := expect[*mmsproto.LinkMacToViewerReportStreamChange](c)
	mb, err := openMedia(b)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	if sc.TcpHdrIncarnation != 0xFF || sc.HeaderSize != uint32(len(mb.headerBytes)) || sc.PacketSize != uint32(mb.packetSize) {
		t.Fatalf("%+v", sc)
	}
	var h []byte
	for {
		dp := expect[*mmsproto.DataPacket](c)
		if dp.PlayIncarnation != 0xFF {
			t.Fatalf("header packet incarnation %d", dp.PlayIncarnation)
		}
		h = append(h, dp.Payload...)
		if dp.AFFlags == mmsproto.AFFlagsHeaderLast {
			break
		}
	}
	if !bytes.Equal(h, mb.headerBytes) {
		t.Fatal("second header differs")
	}
	data, eos = c.dataUntilEnd()
	// EndOfStream carries StartPlaying's playIncarnation (2.2.4.5), not 0xFF
	if uint64(len(data)) != mb.packetCount || eos.HR != 0 || eos.PlayIncarnation != 3 {
		t.Fatalf("entry 2: %d packets of %d, eos %+v", len(data), mb.packetCount, eos)
	}
	for _, d := range data {
		if d.PlayIncarnation != 0xFF {
			t.Fatalf("entry 2 data incarnation %d", d.PlayIncarnation)
		}
	}
}

// TestUDPResend: Data packets over UDP, a share dropped on purpose, and
// RequestPacketListResend bringing them back unmodified (3.2.5.13).
func TestUDPResend(t *testing.T) {
	checkGoroutines(t)
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Unpaced: true, DropUDP: 0.3})
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	expect[*mmsproto.LinkMacToViewerReportConnectedEX](c)
	c.send(&mmsproto.LinkViewerToMacFunnelInfo{PlayIncarnation: mmsproto.MMSDisablePacketPair})
	clientID := expect[*mmsproto.LinkMacToViewerReportFunnelInfo](c).NCubs
	c.send(&mmsproto.LinkViewerToMacConnectFunnel{FunnelMode: 2,
		FunnelName: `\\127.0.0.1\UDP\` + itoa(u.LocalAddr().(*net.UDPAddr).Port) + "\x000"}) // VLC's stray character
	expect[*mmsproto.LinkMacToViewerReportConnectedFunnel](c)
	c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "c.wmv"})
	expect[*mmsproto.LinkMacToViewerReportOpenFile](c)
	c.send(&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, PlayIncarnation: 2})
	expect[*mmsproto.LinkMacToViewerReportReadBlock](c)
	c.selectStreams(all(m.streams...)...)
	c.play(3, 0)
	expect[*mmsproto.LinkMacToViewerReportEndOfStream](c)
	got := map[uint8][]byte{}
	buf := make([]byte, 65536)
	read := func() {
		for {
			u.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			n, err := u.Read(buf)
			if err != nil {
				return
			}
			var dp mmsproto.DataPacket
			if dp.Unmarshal(buf[:n]) == nil && dp.PlayIncarnation == 3 {
				got[dp.AFFlags] = append([]byte(nil), buf[:n]...)
			}
		}
	}
	read()
	var missing []uint32
	for i := uint32(0); i < uint32(m.packetCount); i++ {
		if got[uint8(i)] == nil {
			missing = append(missing, i)
		}
	}
	if len(missing) == 0 || len(missing) == int(m.packetCount) {
		t.Fatalf("%d of %d packets missing with DropUDP 0.3", len(missing), m.packetCount)
	}
	srvUDP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: c.c.RemoteAddr().(*net.TCPAddr).Port}
	for len(missing) > 0 {
		n := min(len(missing), mmsproto.MaxResendPackets)
		req := &mmsproto.RequestPacketListResend{ClientID: clientID, SourceID: 1, Packets: missing[:n]}
		if _, err := u.WriteToUDP(req.Marshal(), srvUDP); err != nil {
			t.Fatal(err)
		}
		missing = missing[n:]
	}
	read()
	for i := uint32(0); i < uint32(m.packetCount); i++ {
		if got[uint8(i)] == nil {
			t.Fatalf("packet %d not recovered", i)
		}
	}
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 || len(b) == 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

// TestPlaylistLinkBandwidth: 3.2.4.2: the streams of a later playlist entry
// are chosen with the dwLinkBandwidth the client sent in StartPlaying: a
// link of 300 kbit/s gets the multi-bit-rate entry's audio and its 150
// kbit/s video, never the 400 kbit/s one; without the field every stream
// plays (TestPlaylistTCP).
func TestPlaylistLinkBandwidth(t *testing.T) {
	checkGoroutines(t)
	dir, m := clipDir(t)
	mbr, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	srv := &Server{Unpaced: true}
	if err := srv.AddPlaylist("pl", filepath.Join(dir, "c.wmv"), mbr); err != nil {
		t.Fatal(err)
	}
	mb, err := openMedia(mbr)
	if err != nil {
		t.Fatal(err)
	}
	defer mb.Close()
	want := mb.header.SelectStreams(300_000, "")
	const audio, low, high = 1, 2, 3
	if !slices.Equal(want, []uint16{audio, low}) {
		t.Fatalf("selection for 300 kbit/s: %v", want)
	}
	c := dial(t, serve(t, srv))
	c.open(nsplayer, "pl")
	c.readHeader(2)
	c.selectStreams(all(m.streams...)...)
	c.send(&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, ASFOffset: 0xFFFFFFFF, PlayIncarnation: 3,
		HasAccel: true, AccelBandwidth: 300_000, HasLinkBandwidth: true, LinkBandwidth: 300_000})
	if r := expect[*mmsproto.LinkMacToViewerReportStartedPlaying](c); r.HR != 0 {
		t.Fatalf("StartedPlaying hr 0x%x", r.HR)
	}
	if _, eos := c.dataUntilEnd(); eos.HR != mmsproto.EndOfStreamNext {
		t.Fatalf("entry 1 eos %+v", eos)
	}
	expect[*mmsproto.LinkMacToViewerReportStreamChange](c)
	for expect[*mmsproto.DataPacket](c).AFFlags != mmsproto.AFFlagsHeaderLast { // the new header
	}
	data, eos := c.dataUntilEnd()
	if eos.HR != 0 {
		t.Fatalf("entry 2 eos %+v", eos)
	}
	seen := map[uint8]int{}
	var pi packetInfo
	for _, d := range data {
		full := append(append([]byte(nil), d.Payload...), make([]byte, mb.packetSize-len(d.Payload))...)
		if err := parsePacket(full, &pi); err != nil {
			t.Fatal(err)
		}
		for _, pl := range pi.payloads {
			seen[pl.stream]++
		}
	}
	if seen[audio] == 0 || seen[low] == 0 || seen[high] != 0 {
		t.Fatalf("payloads per stream in entry 2: %v, want audio and low video only", seen)
	}
}
