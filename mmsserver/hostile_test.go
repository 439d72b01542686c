package mmsserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// closedWithin reports whether the server closes c within d.
func closedWithin(c net.Conn, d time.Duration) bool {
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	var ne net.Error
	// EOF (nil from io.Copy) or a reset: closed by the server
	return err == nil || !(errors.As(err, &ne) && ne.Timeout())
}

// TestHostileClients: bad input gets the connection closed, the server
// keeps serving others and leaks no goroutine.
func TestHostileClients(t *testing.T) {
	checkGoroutines(t)
	dir, _ := clipDir(t)
	srv := &Server{Dir: dir, Unpaced: true, HandshakeTimeout: 500 * time.Millisecond,
		WriteTimeout: 500 * time.Millisecond, MaxConns: 20, MaxMessageSize: 4096}
	addr := serve(t, srv)

	connect := mmsproto.Marshal(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer}, 0, 0)
	lying := bytes.Clone(connect)
	binary.LittleEndian.PutUint32(lying[8:], 1<<30) // messageLength far beyond the limit
	badChunk := bytes.Clone(connect)
	binary.LittleEndian.PutUint32(badChunk[32:], 0xFFFF) // chunkLen beyond the packet
	cases := map[string][]byte{
		"garbage":       bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64),
		"lying length":  lying,
		"bad chunkLen":  badChunk,
		"http":          []byte("GET / HTTP/1.0\r\n\r\n"),
		"not connect":   mmsproto.Marshal(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "c.wmv"}, 0, 0),
		"silent client": nil,
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.Write(b)
			if !closedWithin(c, 5*time.Second) {
				t.Fatal("connection not closed")
			}
		})
	}

	t.Run("split writes", func(t *testing.T) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range connect {
			if _, err := c.Write(connect[i : i+1]); err != nil {
				t.Fatal(err)
			}
		}
		tc := &tclient{t: t, c: c}
		expect[*mmsproto.LinkMacToViewerReportConnectedEX](tc)
	})

	t.Run("trickling message", func(t *testing.T) {
		c := dial(t, addr)
		c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
		expect[*mmsproto.LinkMacToViewerReportConnectedEX](c)
		open := mmsproto.Marshal(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: "c.wmv"}, 1, 0)
		c.c.Write(open[:10]) // and never the rest
		if !closedWithin(c.c, 5*time.Second) {
			t.Fatal("connection not closed")
		}
	})

	t.Run("never reads", func(t *testing.T) {
		// A client that asks for data and never reads is dropped once a
		// write has blocked for WriteTimeout. The clip is larger than what
		// the loopback socket buffers hold.
		big := fixture.WMV2()
		big.VideoBitrate, big.Duration = 3_000_000, 20*time.Second
		bdir := t.TempDir()
		copyFile(t, clip(t, big), filepath.Join(bdir, "big.wmv"))
		bsrv := &Server{Dir: bdir, Unpaced: true, WriteTimeout: 500 * time.Millisecond}
		c := dial(t, serve(t, bsrv))
		c.open("Spooooon!", "big.wmv")
		c.readHeader(2)
		c.send(&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, LocationID: 0xFFFFFFFF, ASFOffset: 0xFFFFFFFF, PlayIncarnation: 3})
		deadline := time.Now().Add(20 * time.Second)
		for bsrv.Sessions() > 0 && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if n := bsrv.Sessions(); n > 0 {
			t.Fatalf("%d sessions left with a client that never reads", n)
		}
	})

	t.Run("many connections", func(t *testing.T) {
		var conns []net.Conn
		for i := 0; i < 1000; i++ {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		// beyond MaxConns, connections are closed at once
		refused := 0
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			var b [1]byte
			if _, err := c.Read(b[:]); err == io.EOF {
				refused++
			}
		}
		if refused < len(conns)-25 {
			t.Errorf("%d of %d connections refused with MaxConns 20", refused, len(conns))
		}
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		// and once they are gone the server serves again
		deadline := time.Now().Add(10 * time.Second)
		for srv.Sessions() > 0 && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		c := dial(t, addr)
		if r := c.open(nsplayer, "c.wmv"); r.HR != 0 {
			t.Fatalf("hr 0x%x", r.HR)
		}
	})
}

// TestUDPGarbage: junk on the UDP port is ignored.
func TestUDPGarbage(t *testing.T) {
	addr := serve(t, &Server{})
	u, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	for _, b := range [][]byte{{1, 2, 3}, bytes.Repeat([]byte{0xff}, 1500),
		(&mmsproto.RequestPacketListResend{ClientID: 1, SourceID: 1, Packets: []uint32{1, 2}}).Marshal()} {
		u.Write(b)
	}
	c := dial(t, addr)
	c.send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	expect[*mmsproto.LinkMacToViewerReportConnectedEX](c)
}

// FuzzParsePacket: the packet parser and rewriter never panic and never
// return offsets outside the packet.
func FuzzParsePacket(f *testing.F) {
	if p, err := fixture.Generate(f.Context(), fixture.CacheDir(), fixture.WMV2()); err == nil {
		if m, err := openMedia(p); err == nil {
			buf := make([]byte, m.packetSize)
			for _, n := range []uint64{0, 1, 5} {
				if m.readPacket(n, buf) == nil {
					f.Add(bytes.Clone(buf))
				}
			}
			m.Close()
		}
	}
	f.Add([]byte{0x82, 0, 0, 0x09, 0x5d, 0x10, 0, 0, 0, 0, 0, 0, 0x81, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		var p packetInfo
		if parsePacket(b, &p) != nil {
			return
		}
		for _, pl := range p.payloads {
			if pl.start < 0 || pl.end > len(b) || pl.start > pl.end {
				t.Fatalf("payload %d..%d in %d bytes", pl.start, pl.end, len(b))
			}
		}
		out, _ := p.rewrite(nil, b, func(pl *payloadInfo) bool { return pl.stream%2 == 0 }, true)
		if len(out) > len(b) {
			t.Fatalf("rewrite grew the packet: %d > %d", len(out), len(b))
		}
		p.shiftTimes(bytes.Clone(b), 1000)
		p.keyFrameStart(nil)
	})
}
