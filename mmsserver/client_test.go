package mmsserver

import (
	"encoding/binary"
	"io"
	"net"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// tclient is a minimal MMS client for protocol tests: it sends messages and
// reads back messages and Data packets exactly as framed.
type tclient struct {
	t    *testing.T
	c    net.Conn
	seq  uint16
	last int // size of the last TcpMessageHeader packet read
}

func dial(t *testing.T, addr string) *tclient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &tclient{t: t, c: c}
}

func (c *tclient) send(m mmsproto.Message) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := mmsproto.WriteMessage(c.c, m, c.seq, 0); err != nil {
		c.t.Fatal(err)
	}
	c.seq++
}

// next returns the next message or *mmsproto.DataPacket.
func (c *tclient) next() (mmsproto.Message, error) {
	c.c.SetReadDeadline(time.Now().Add(15 * time.Second))
	var pre [8]byte
	if _, err := io.ReadFull(c.c, pre[:]); err != nil {
		return nil, err
	}
	if binary.LittleEndian.Uint32(pre[4:]) == mmsproto.SessionID {
		rest := make([]byte, mmsproto.HeaderSize-8)
		if _, err := io.ReadFull(c.c, rest); err != nil {
			return nil, err
		}
		hdr := append(pre[:], rest...)
		var h mmsproto.TcpMessageHeader
		if err := h.Unmarshal(hdr); err != nil {
			return nil, err
		}
		body := make([]byte, h.MessageLength-16)
		if _, err := io.ReadFull(c.c, body); err != nil {
			return nil, err
		}
		c.last = len(hdr) + len(body)
		return mmsproto.UnmarshalMessage(body)
	}
	size := int(binary.LittleEndian.Uint16(pre[6:]))
	b := make([]byte, size)
	copy(b, pre[:])
	if _, err := io.ReadFull(c.c, b[8:]); err != nil {
		return nil, err
	}
	var dp mmsproto.DataPacket
	if err := dp.Unmarshal(b); err != nil {
		return nil, err
	}
	return &dp, nil
}

func (c *tclient) must() mmsproto.Message {
	c.t.Helper()
	m, err := c.next()
	if err != nil {
		c.t.Fatal(err)
	}
	return m
}

// expect reads until a message of type T arrives, skipping Data packets
// and Pings; it fails on anything else.
func expect[T mmsproto.Message](c *tclient) T {
	c.t.Helper()
	for {
		m := c.must()
		if v, ok := m.(T); ok {
			return v
		}
		switch m.(type) {
		case *mmsproto.DataPacket, *mmsproto.LinkMacToViewerPing:
			continue
		}
		var zero T
		c.t.Fatalf("got %T, want %T", m, zero)
		return zero
	}
}

const nsplayer = "NSPlayer/9.0.0.2980; {3300AD50-2C39-46c0-AE0A-000000000000}; Host: 127.0.0.1"

// open runs Connect, ConnectFunnel (TCP) and OpenFile.
func (c *tclient) open(subscriber, name string) *mmsproto.LinkMacToViewerReportOpenFile {
	c.t.Helper()
	c.send(&mmsproto.LinkViewerToMacConnect{PlayIncarnation: mmsproto.MMSDisablePacketPair,
		MacToViewerProtocolRevision: mmsproto.MacToViewerProtocolRevision,
		ViewerToMacProtocolRevision: mmsproto.ViewerToMacProtocolRevision, SubscriberName: subscriber})
	if r := expect[*mmsproto.LinkMacToViewerReportConnectedEX](c); r.HR != 0 {
		c.t.Fatalf("ConnectedEX hr 0x%x", r.HR)
	}
	c.send(&mmsproto.LinkViewerToMacConnectFunnel{MaxBlockBytes: 0xFFFFFFFF, MaxBitRate: mmsproto.DefaultMaxBitRate,
		FunnelMode: mmsproto.FunnelMode, FunnelName: `\\127.0.0.1\TCP\1755`})
	expect[*mmsproto.LinkMacToViewerReportConnectedFunnel](c)
	c.send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: name})
	return expect[*mmsproto.LinkMacToViewerReportOpenFile](c)
}

// readHeader sends ReadBlock and returns the reassembled ASF file header.
func (c *tclient) readHeader(inc uint32) []byte {
	c.t.Helper()
	c.send(&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, Length: 0x8000, Flags: 0xFFFFFFFF, TDeadline: 3600,
		PlayIncarnation: inc})
	expect[*mmsproto.LinkMacToViewerReportReadBlock](c)
	var h []byte
	for {
		dp := expect[*mmsproto.DataPacket](c)
		if uint32(dp.PlayIncarnation) != inc {
			c.t.Fatalf("header packet incarnation %d, want %d", dp.PlayIncarnation, inc)
		}
		h = append(h, dp.Payload...)
		if dp.AFFlags == mmsproto.AFFlagsHeaderLast {
			return h
		}
		if dp.AFFlags != mmsproto.AFFlagsHeaderPart {
			c.t.Fatalf("header AFFlags 0x%x", dp.AFFlags)
		}
	}
}

func (c *tclient) selectStreams(entries ...mmsproto.StreamSwitchEntry) {
	c.t.Helper()
	c.send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: entries})
	if r := expect[*mmsproto.LinkMacToViewerReportStreamSwitch](c); r.HR != 0 {
		c.t.Fatalf("StreamSwitch hr 0x%x", r.HR)
	}
}

func all(streams ...uint16) []mmsproto.StreamSwitchEntry {
	var e []mmsproto.StreamSwitchEntry
	for _, s := range streams {
		e = append(e, mmsproto.StreamSwitchEntry{SrcStreamNumber: mmsproto.NoStream, DstStreamNumber: s})
	}
	return e
}

func (c *tclient) play(inc uint32, locationID uint32) {
	c.t.Helper()
	c.send(&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, ASFOffset: 0xFFFFFFFF, LocationID: locationID,
		PlayIncarnation: inc})
	if r := expect[*mmsproto.LinkMacToViewerReportStartedPlaying](c); r.HR != 0 {
		c.t.Fatalf("StartedPlaying hr 0x%x", r.HR)
	}
}

// dataUntilEnd collects Data packets until ReportEndOfStream.
func (c *tclient) dataUntilEnd() ([]*mmsproto.DataPacket, *mmsproto.LinkMacToViewerReportEndOfStream) {
	c.t.Helper()
	var d []*mmsproto.DataPacket
	for {
		switch m := c.must().(type) {
		case *mmsproto.DataPacket:
			d = append(d, m)
		case *mmsproto.LinkMacToViewerReportEndOfStream:
			return d, m
		case *mmsproto.LinkMacToViewerPing:
		default:
			c.t.Fatalf("unexpected %T while streaming", m)
		}
	}
}
