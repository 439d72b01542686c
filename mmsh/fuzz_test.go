package mmsh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// FuzzReader feeds arbitrary bytes to the packet reader: no panic, no
// packet beyond the limits, and every packet it accepts (but $P) marshals
// back to what it read.
func FuzzReader(f *testing.F) {
	f.Add(AppendHeaderPackets(nil, TypeHeader, []byte("0123456789abcdefghijklmnopqrstuvwxyz"), 0))
	d, _ := AppendPacket(nil, &Packet{Type: TypeData, LocationID: 7, AFFlags: 3, Payload: []byte{0x82, 0, 0, 1, 2, 3}})
	e, _ := AppendPacket(nil, &Packet{Type: TypeEnd, Reason: EndNextEntry})
	c, _ := AppendPacket(nil, &Packet{Type: TypeStreamChange})
	f.Add(append(append(d, c...), e...))
	f.Add([]byte{0xA4, 'T', 0, 0, 0x24, 'P', 0xf8, 0x01, 0xf8, 0x01, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		var p Packet
		for range 64 {
			err := r.Next(&p)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrFraming) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(p.Payload) > MaxPacketLength+1048+504 {
				t.Fatalf("payload of %d bytes", len(p.Payload))
			}
			if p.Type == TypePacketPair {
				continue
			}
			out, err := AppendPacket(nil, &p)
			if err != nil {
				t.Fatalf("re-marshal: %v", err)
			}
			var q Packet
			if err := NewReader(bytes.NewReader(out)).Next(&q); err != nil {
				t.Fatalf("re-read: %v", err)
			}
			if q.Type != p.Type || q.Reason != p.Reason || q.LocationID != p.LocationID || q.AFFlags != p.AFFlags ||
				!bytes.Equal(q.Payload, p.Payload) {
				t.Fatalf("round trip: %+v != %+v", q, p)
			}
		}
	})
}

// FuzzPragma parses arbitrary Pragma values: no panic, limits kept, and
// what Values formats parses back to the same tokens.
func FuzzPragma(f *testing.F) {
	f.Add("no-cache,rate=1.000000,stream-time=0,stream-offset=0:0,request-context=1,max-duration=0", "stream-switch-entry=ffff:1:0 ffff:2:2")
	f.Add(`packet-pair-experiment=1, no-cache, client-id=2676631236, xResetStrm=1, features="seekable,stridable", timeout=60000`, "xClientGUID={52CB2BDB-6925-4E19-8D1D-62D10E9E2705}")
	f.Add("no-cache,rate=1.000000,stream-time=0Connection: Close", "xPlayStrm=1")
	f.Add("client-id=2338761264, no-cache", "log-line=- 2026-11-26 05:30:15 - http://h/a,b 0 12 1 200")
	f.Add("no-cache, log-line=a b c", "LOG-LINE= x , y ")
	f.Fuzz(func(t *testing.T, a, b string) {
		p, err := ParsePragma([]string{a, b})
		if err != nil {
			return
		}
		if len(p.StreamSwitch) > maxSwitchEntries || len(p.Features) > maxFeatures {
			t.Fatalf("limits: %d entries, %d features", len(p.StreamSwitch), len(p.Features))
		}
		q, err := ParsePragma(p.Values())
		if err != nil {
			t.Fatalf("re-parse of %q: %v", p.Values(), err)
		}
		if q.ClientID != p.ClientID || q.StreamTime != p.StreamTime || q.XPlayStrm != p.XPlayStrm ||
			len(q.StreamSwitch) != len(p.StreamSwitch) || q.XClientGUID != p.XClientGUID || q.Rate != roundRate(p.Rate) ||
			q.LogLine != p.LogLine {
			t.Fatalf("round trip:\n%+v\n%+v\nvia %q", p, q, p.Values())
		}
	})
}

func roundRate(r float64) float64 {
	q, _ := ParsePragma([]string{"rate=" + formatRate(r)})
	return q.Rate
}

// FuzzPlayResponse feeds an arbitrary Play response body to the client's
// packet state machine (header assembly, $C/$E/$M handling, padding
// restoration) after a real header: it must end with an error or io.EOF,
// never panic or loop. (The HTTP side is covered by the hostile server
// tests; net/http itself is fuzzed upstream.)
func FuzzPlayResponse(f *testing.F) {
	hdr := fuzzHeader(f)
	good := AppendHeaderPackets(nil, TypeHeader, hdr, 0)
	good, _ = AppendPacket(good, &Packet{Type: TypeStreamChange})
	good = AppendHeaderPackets(good, TypeHeader, hdr, 0)
	good, _ = AppendPacket(good, &Packet{Type: TypeEnd})
	f.Add(good)
	f.Add([]byte{0x24, 'D', 8, 0, 0, 0, 0, 0, 0, 0, 8, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &Session{clientID: -1, ctx: context.Background(), url: &url.URL{Scheme: "http", Host: "127.0.0.1:1", Path: "/a"}}
		s.opts.MaxHeaderSize = 1 << 20
		// $E sends a Log request (3.1.5.13): on no network here.
		s.opts.DialContext = func(context.Context, string, string) (net.Conn, error) { return nil, errors.New("no network") }
		s.opts.setDefaults()
		s.log = s.opts.Logger
		if err := s.setHeader(hdr); err != nil {
			t.Fatal(err)
		}
		s.rd = NewReader(bytes.NewReader(body))
		s.inHeader = true
		for range maxControlPackets + 100 {
			it, err := s.next()
			if err != nil {
				return
			}
			if it.Packet != nil && len(it.Packet) != s.packetSize {
				t.Fatalf("packet of %d bytes, packet size %d", len(it.Packet), s.packetSize)
			}
		}
		t.Fatal("next never ended")
	})
}

// fuzzHeader is a real ASF header (Header Object and Data Object header
// of jeanne.wma) from the checked-in FuzzReader seed.
func fuzzHeader(f *testing.F) []byte {
	b, err := os.ReadFile("testdata/fuzz/FuzzReader/seed-jeanne-describe-and-data")
	if err != nil {
		f.Fatal(err)
	}
	// The seed is a Go corpus file holding a quoted []byte.
	_, q, _ := strings.Cut(string(b), "[]byte(")
	q = strings.TrimSuffix(strings.TrimSpace(q), ")")
	raw, err := strconv.Unquote(q)
	if err != nil {
		f.Fatal(err)
	}
	var p Packet
	r := NewReader(strings.NewReader(raw))
	var hdr []byte
	for r.Next(&p) == nil && p.Type == TypeHeader {
		hdr = append(hdr, p.Payload...)
	}
	return hdr
}

// FuzzMetadata parses arbitrary $M payloads: no panic, limits kept, and
// what AppendMetadata writes parses back the same.
func FuzzMetadata(f *testing.F) {
	f.Add([]byte("playlist-gen-id=2587, broadcast-id=0, features=\"seekable\"\x007,language,31,5,en-us,9,copyright,31,30,(c) 1999 Microsoft Corporation\r\n"))
	f.Add([]byte("playlist-gen-id=1, broadcast-id=4294967295, features=\"broadcast,playlist\"\x00" + "8,language,31,0,,5,title,31,3,abc\r\n8,language,31,2,de,5,title,31,3,xyz\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMetadata(b)
		if err != nil {
			return
		}
		n := 0
		for _, d := range m.Descriptions {
			n += len(d.Values) + 1
		}
		if n > 2*maxMetadataPairs {
			t.Fatalf("%d pairs", n)
		}
		again, err := ParseMetadata(AppendMetadata(nil, &m))
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.PlaylistGenID != m.PlaylistGenID || again.BroadcastID != m.BroadcastID {
			t.Fatalf("round trip %+v != %+v", again, m)
		}
	})
}

// FuzzLogLine parses arbitrary log-line values (2.2.1.4.10): no panic,
// the size limit kept, and what parses formats back to a line that parses
// to the same figures.
func FuzzLogLine(f *testing.F) {
	l := sampleLog()
	f.Add(string(AppendLogLine(nil, &l, time.Date(2026, 11, 26, 5, 30, 15, 0, time.UTC))))
	f.Add(string(AppendLogLine(nil, &mmsproto.ClientLog{}, time.Unix(0, 0))))
	f.Add("192.168.1.2 2001-01-01 10:00:00 - mms://h/a.asf 0 31 1 200 {C579D042-CECC-11D1-BB31-00A0C9603954} 6.4.7.1112 en-US " +
		"Mozilla/4.0_(compatible;_MSIE_4.01;_Windows_98) - mplayer2.exe 6.4.7.1112 Windows_98 4.10.0.2222 Pentium 60 1234567 " +
		"28000 mms UDP Windows_Media_Audio_V2 - - - 200000 - 100 0 0 0 0 0 0 1 2.5 100")
	f.Add("- - - - - -1 NaN 1e9 200 - 1.2.3.4.5 - - - - - - - - - - - - - - - - - - - - - - - - - - - - -")
	f.Fuzz(func(t *testing.T, s string) {
		l, err := ParseLogLine(s)
		if err != nil {
			return
		}
		if len(s) > MaxLogLine {
			t.Fatalf("accepted %d bytes", len(s))
		}
		at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		line := AppendLogLine(nil, &l, at)
		m, err := ParseLogLine(string(line))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", line, err)
		}
		if m.Info.PacketsReceived != l.Info.PacketsReceived || m.Info.BytesReceived != l.Info.BytesReceived ||
			m.Info.FileSize != l.Info.FileSize || m.Info.ClientVersion != l.Info.ClientVersion || m.PacketsLostNet != l.PacketsLostNet {
			t.Fatalf("round trip of %q:\n%+v\n%+v", s, l, m)
		}
	})
}

// FuzzXMLSummary reads the Summary of arbitrary XML log bodies: no panic,
// nothing longer than the body.
func FuzzXMLSummary(f *testing.F) {
	f.Add([]byte(`<XML><Summary>- 2026-01-01 00:00:00 - http://h/a?x=1&amp;y=2 0 1 1 200</Summary><c-ip>-</c-ip></XML>`))
	f.Add([]byte(`<summary><![CDATA[a b]]></SUMMARY>`))
	f.Add([]byte(`<Summary><s>x</s></Summary>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		s, ok := xmlSummary(body)
		if ok && len(s) > len(body) {
			t.Fatalf("summary of %d bytes from %d", len(s), len(body))
		}
	})
}

// FuzzSelectStream sends SelectStream and Stop requests with arbitrary
// Pragma values to a Handler whose session 7 is playing: never a panic
// or a 5xx; then the entries that parsed are applied to a play's Writer
// with an arbitrary data packet: never a panic, never a packet larger
// than the packet size.
func FuzzSelectStream(f *testing.F) {
	hdr := fuzzHeader(f)
	f.Add("no-cache, client-id=7, stream-switch-count=2", "stream-switch-entry=ffff:1:0 ffff:2:2", false, []byte{0x82, 0, 0, 0x11, 0x5d})
	f.Add("no-cache, client-id=7, xStopStrm=1", "", true, []byte{})
	f.Add("client-id=8, stream-switch-count=1", "stream-switch-entry=2:3:0", false, []byte{0x82, 0, 0})
	f.Add("stream-switch-count=999", "stream-switch-entry=zz:1:0 ffff:80:0 0:0:0", true, []byte{0xff})
	f.Fuzz(func(t *testing.T, p1, p2 string, get bool, pkt []byte) {
		h := &Handler{}
		ctl := &playCtl{stop: func(error) {}, done: make(chan struct{})}
		close(ctl.done)
		h.plays = map[int64]*playCtl{7: ctl}
		method := http.MethodPost
		if get {
			method = http.MethodGet
		}
		req := httptest.NewRequest(method, "/a", nil)
		req.Header.Add("Pragma", p1)
		req.Header.Add("Pragma", p2)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%d for %q, %q", rec.Code, p1, p2)
		}
		prag, err := ParsePragma([]string{p1, p2})
		if err != nil {
			return
		}
		w := &Writer{w: httptest.NewRecorder(), psize: 0}
		w.rc = http.NewResponseController(w.w)
		hd, err := asf.ParseHeader(hdr)
		if err != nil {
			t.Fatal(err)
		}
		w.psize = hd.PacketSize()
		w.applySwitch(prag.StreamSwitch)
		w.applySwitch(ctl.takeSelection())
		if err := w.data(pkt, 0); err != nil {
			return
		}
		if len(w.buf) > framingHeaderSize+dataHeaderSize+w.psize {
			t.Fatalf("$D of %d bytes for a packet size of %d", len(w.buf), w.psize)
		}
	})
}
