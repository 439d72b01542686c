package mmsserver

import (
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

func avStreams(m *media) (audio, video uint16) {
	for _, s := range m.header.Streams {
		if s.IsVideo() {
			video = s.StreamNumber
		} else {
			audio = s.StreamNumber
		}
	}
	return
}

// TestStreamSwitchWhileStreaming: a stream selected while streaming starts
// with a key frame (3.2.5.10).
func TestStreamSwitchWhileStreaming(t *testing.T) {
	dir, m := clipDir(t)
	addr := serve(t, &Server{Dir: dir, Rate: 2})
	audio, video := avStreams(m)
	c := dial(t, addr)
	c.open(nsplayer, "c.wmv")
	c.readHeader(2)
	c.selectStreams(mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: audio},
		mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: video, ThinningLevel: mmsproto.ThinningAll})
	c.play(3, 0)
	for i := 0; i < 3; i++ {
		expect[*mmsproto.DataPacket](c)
	}
	c.send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: all(audio, video)})
	var p packetInfo
	sawSwitch := false
	for {
		switch msg := c.must().(type) {
		case *mmsproto.LinkMacToViewerReportStreamSwitch:
			sawSwitch = true
		case *mmsproto.DataPacket:
			full := append(append([]byte(nil), msg.Payload...), make([]byte, m.packetSize-len(msg.Payload))...)
			if err := parsePacket(full, &p); err != nil {
				t.Fatal(err)
			}
			for _, pl := range p.payloads {
				if uint16(pl.stream) == video {
					if !pl.keyFrame || pl.offset != 0 {
						t.Fatalf("video starts with a non-key payload in packet %d", msg.LocationID)
					}
					if !sawSwitch {
						t.Fatal("video before ReportStreamSwitch")
					}
					return
				}
			}
		case *mmsproto.LinkMacToViewerReportEndOfStream:
			t.Fatal("no video after StreamSwitch")
		}
	}
}

// TestPaddingPolicies checks the Data packets themselves: "all" strips
// every packet, "multi" only packets with several payloads, "none" none.
func TestPaddingPolicies(t *testing.T) {
	dir, m := clipDir(t)
	for _, mode := range []string{StripAll, StripMulti, StripNone} {
		t.Run(mode, func(t *testing.T) {
			addr := serve(t, &Server{Dir: dir, Unpaced: true, StripPadding: mode})
			c := dial(t, addr)
			c.open(nsplayer, "c.wmv")
			c.readHeader(2)
			c.selectStreams(all(m.streams...)...)
			c.play(3, 0)
			data, _ := c.dataUntilEnd()
			var p packetInfo
			orig := make([]byte, m.packetSize)
			short := 0
			for _, d := range data {
				if err := m.readPacket(uint64(d.LocationID), orig); err != nil {
					t.Fatal(err)
				}
				if err := parsePacket(orig, &p); err != nil {
					t.Fatal(err)
				}
				stripped := len(d.Payload) < m.packetSize
				if stripped {
					short++
				}
				want := p.padding > 0 && (mode == StripAll || mode == StripMulti && p.multi)
				if stripped != want {
					t.Fatalf("packet %d (multi %v, padding %d): stripped %v", d.LocationID, p.multi, p.padding, stripped)
				}
				if stripped && len(d.Payload) != m.packetSize-p.padding {
					t.Fatalf("packet %d: %d bytes, want %d", d.LocationID, len(d.Payload), m.packetSize-p.padding)
				}
			}
			if mode == StripAll && short == 0 {
				t.Fatal("nothing stripped")
			}
		})
	}
}

// TestPlaylistUDP: over UDP the server waits in READY for ReadBlock at a
// new entry (3.2.4.2).
func TestPlaylistUDP(t *testing.T) {
	dir, m := clipDir(t)
	b := clip(t, fixture.Spec{Audio: fixture.AudioWMAV2, Duration: 2 * time.Second})
	srv := &Server{Unpaced: true}
	if err := srv.AddPlaylist("pl", filepath.Join(dir, "c.wmv"), b); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	go func() { // drain
		buf := make([]byte, 65536)
		for {
			if _, err := u.Read(buf); err != nil {
				return
			}
		}
	}()
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	expect[*mmsproto.LinkMacToViewerReportConnectedEX](c)
	c.send(&mmsproto.LinkViewerToMacConnectFunnel{FunnelMode: 2,
		FunnelName: `\\127.0.0.1\UDP\` + itoa(u.LocalAddr().(*net.UDPAddr).Port)})
	expect[*mmsproto.LinkMacToViewerReportConnectedFunnel](c)
	c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "pl"})
	expect[*mmsproto.LinkMacToViewerReportOpenFile](c)
	c.send(&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, PlayIncarnation: 2})
	expect[*mmsproto.LinkMacToViewerReportReadBlock](c)
	c.selectStreams(all(m.streams...)...)
	c.play(3, 0)
	if eos := expect[*mmsproto.LinkMacToViewerReportEndOfStream](c); eos.HR != mmsproto.EndOfStreamNext {
		t.Fatalf("%+v", eos)
	}
	expect[*mmsproto.LinkMacToViewerReportStreamChange](c)
	// nothing more until ReadBlock
	c.c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	var one [1]byte
	if n, _ := c.c.Read(one[:]); n != 0 {
		t.Fatal("server sent more before ReadBlock")
	}
	c.send(&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, PlayIncarnation: 4})
	expect[*mmsproto.LinkMacToViewerReportReadBlock](c)
	c.play(5, 0)
	if eos := expect[*mmsproto.LinkMacToViewerReportEndOfStream](c); eos.HR != 0 || eos.PlayIncarnation != 5 {
		t.Fatalf("%+v", eos)
	}
}

// TestStreamReplace: with a multi-bit-rate file, replacing the low video
// stream by the high one while streaming (2.2.4.28.1) starts the high one
// at a key frame and sends the low one until then, never both after.
func TestStreamReplace(t *testing.T) {
	p, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile(t, p, filepath.Join(dir, "mbr.wmv"))
	addr := serve(t, &Server{Dir: dir, Rate: 2})
	const audio, low, high = 1, 2, 3
	c := dial(t, addr)
	c.open(nsplayer, "mbr.wmv")
	c.readHeader(2)
	c.selectStreams(all(audio, low)...)
	c.play(3, 0)
	for i := 0; i < 5; i++ {
		expect[*mmsproto.DataPacket](c)
	}
	c.send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: []mmsproto.StreamSwitchEntry{{SrcStreamNumber: low, DstStreamNumber: high}}})
	m, err := openMedia(filepath.Join(dir, "mbr.wmv"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var pi packetInfo
	highStarted := false
	for {
		switch msg := c.must().(type) {
		case *mmsproto.DataPacket:
			full := append(append([]byte(nil), msg.Payload...), make([]byte, m.packetSize-len(msg.Payload))...)
			if err := parsePacket(full, &pi); err != nil {
				t.Fatal(err)
			}
			for _, pl := range pi.payloads {
				switch pl.stream {
				case high:
					if !highStarted && (!pl.keyFrame || pl.offset != 0) {
						t.Fatalf("high stream starts with a non-key payload (packet %d)", msg.LocationID)
					}
					highStarted = true
				case low:
					if highStarted {
						t.Fatalf("low stream still sent after the high one started (packet %d)", msg.LocationID)
					}
				}
			}
		case *mmsproto.LinkMacToViewerReportEndOfStream:
			if !highStarted {
				t.Fatal("high stream never started")
			}
			return
		}
	}
}

// TestFFmpegMultiBitrate: FFmpeg selects every stream of a multi-bit-rate
// file and gets them all.
func TestFFmpegMultiBitrate(t *testing.T) {
	p, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	copyFile(t, p, filepath.Join(dir, "mbr.wmv"))
	addr := serve(t, &Server{Dir: dir, Unpaced: true, EndIdleTimeout: time.Second})
	samePackets(t, packets(t, remux(t, filepath.Join(dir, "mbr.wmv"))), packets(t, ffmpegPlay(t, addr, "mbr.wmv")))
}
