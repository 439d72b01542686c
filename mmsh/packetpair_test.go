package mmsh

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// The three $P packets read back with the sizes of 2.2.3.7 for every
// Reason, including the boundary 504 (an empty first payload).
func TestPacketPairFraming(t *testing.T) {
	for _, hb := range []int{0, 1, 300, 503, 504, 900} {
		b := AppendPacketPair(nil, hb)
		reason := min(hb, 504)
		if want := 3*8 + 504 + 504 + 1048; len(b) != want {
			t.Fatalf("header %d: %d bytes, want %d", hb, len(b), want)
		}
		rd := NewReader(bytes.NewReader(b))
		var p Packet
		for i, want := range []int{504 - reason, 504, 1048 + reason} {
			if err := rd.Next(&p); err != nil {
				t.Fatalf("header %d, $P %d: %v", hb, i, err)
			}
			if p.Type != TypePacketPair || int(p.Reason) != reason || len(p.Payload) != want {
				t.Fatalf("header %d, $P %d: type %c reason %d payload %d, want reason %d payload %d", hb, i, p.Type, p.Reason, len(p.Payload), reason, want)
			}
		}
		if err := rd.Next(&p); err != io.EOF {
			t.Fatalf("after three $P: %v", err)
		}
	}
}

// The server's first $P says how many bytes of response header precede it
// (2.2.3.7): checked on the raw bytes of a real response.
func TestServerPacketPairReason(t *testing.T) {
	src := clip(t, fixture.WMV2())
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true})
	for _, proto := range []string{"HTTP/1.0", "HTTP/1.1"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		fmt.Fprintf(c, "GET /%s %s\r\nHost: %s\r\nUser-Agent: NSPlayer/10.0.0.3802\r\nPragma: no-cache,rate=1.000,stream-time=0\r\n"+
			"Pragma: packet-pair-experiment=1\r\nSupported: com.microsoft.wm.srvppair\r\nConnection: close\r\n\r\n", filepath.Base(src), proto, addr)
		raw, err := io.ReadAll(bufio.NewReader(c))
		if err != nil {
			t.Fatal(err)
		}
		i := bytes.Index(raw, []byte("\r\n\r\n"))
		if i < 0 || !bytes.Contains(raw[:i], []byte("packet-pair-experiment=1")) {
			t.Fatalf("%s: response header without packet-pair-experiment=1:\n%.600s", proto, raw)
		}
		off := i + 4
		if len(raw) < off+8 || raw[off] != '$' || raw[off+1] != 'P' {
			t.Fatalf("%s: body does not start with $P: % x", proto, raw[off:min(len(raw), off+8)])
		}
		if got := int(binary.LittleEndian.Uint32(raw[off+4:])); got != min(off, 504) {
			t.Fatalf("%s: Reason %d, response header is %d bytes", proto, got, off)
		}
		rd := NewReader(bytes.NewReader(raw[off:]))
		var p Packet
		var types []byte
		for rd.Next(&p) == nil {
			types = append(types, p.Type)
		}
		if string(types) != "PPPMH" { // 4.3: $P $P $P, $M (a 9.0+ client), $H
			t.Fatalf("%s: packets %q, want $P $P $P $M $H", proto, types)
		}
	}
}

// Over loopback our client estimates the bandwidth from the server's
// packet pair and selects the streams of a multi-bit-rate file with it;
// a forced bandwidth skips the experiment and selects by itself.
func TestClientPacketPairSelection(t *testing.T) {
	p, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	addr := serve(t, &Handler{Dir: filepath.Dir(p), Unpaced: true})
	url := "mmsh://" + addr + "/" + filepath.Base(p)

	var log eventLog
	s := dial(t, url, Options{OnEvent: log.add})
	bw := s.Bandwidth()
	st := s.Stats()
	if bw <= 0 || st.BandwidthMethod != "packet-pair-http" {
		t.Fatalf("bandwidth %d (%s), want a packet-pair estimate", bw, st.BandwidthMethod)
	}
	if want := s.Header().SelectStreams(bw, ""); !slices.Equal(st.Streams, want) {
		t.Fatalf("streams %v, selection for %d bit/s is %v", st.Streams, bw, want)
	}
	if !bandwidthEvent(&log, "packet-pair-http", bw) {
		t.Fatalf("no bandwidth event with the estimate %d", bw)
	}
	_, got := readAll(t, s)
	if len(got) == 0 {
		t.Fatal("no packets")
	}

	// A forced 250 kbit/s: no $P asked for, the 150 kbit/s video chosen,
	// unlike with the (loopback-fast) estimate.
	var flog eventLog
	f := dial(t, url, Options{Bandwidth: 250_000, OnEvent: flog.add})
	fst := f.Stats()
	if fst.BandwidthMethod != "forced" || f.Bandwidth() != 250_000 {
		t.Fatalf("forced: bandwidth %d (%s)", f.Bandwidth(), fst.BandwidthMethod)
	}
	if slices.Equal(fst.Streams, st.Streams) {
		t.Fatalf("forced 250 kbit/s selects %v as the estimate %d did", fst.Streams, bw)
	}
	if fst.StreamsBitrate > 250_000 || st.StreamsBitrate <= fst.StreamsBitrate {
		t.Fatalf("bit rates: estimate %d selects %d, forced selects %d", bw, st.StreamsBitrate, fst.StreamsBitrate)
	}
}

func bandwidthEvent(l *eventLog, method string, bps int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if e.Kind == event.Bandwidth && e.Fields["method"] == method && e.Fields["bps"] == bps {
			return true
		}
	}
	return false
}
