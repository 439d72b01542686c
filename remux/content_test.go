package remux

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// readClip returns a clip's header item and packets.
func readClip(t testing.TB, path string) ([]byte, [][]byte) {
	t.Helper()
	src := NewFileSource(0, false, path)
	defer src.Close()
	first, err := src.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for {
		it, err := src.Next(context.Background())
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, bytes.Clone(it.Packet))
	}
	return first.Header, pkts
}

// withEncryption adds a Content Encryption Object (ASF 3.14) to a header.
func withEncryption(t *testing.T, hdr []byte) []byte {
	t.Helper()
	h, err := asf.ParseHeader(bytes.Clone(hdr))
	if err != nil {
		t.Fatal(err)
	}
	var body []byte
	body = binary.LittleEndian.AppendUint32(body, 0) // Secret Data Length
	body = binary.LittleEndian.AppendUint32(body, 4) // Protection Type Length
	body = append(body, 'D', 'R', 'M', 0)            //
	body = binary.LittleEndian.AppendUint32(body, 0) // Key ID Length
	body = binary.LittleEndian.AppendUint32(body, 0) // License URL Length
	raw := append(asf.ContentEncryptionObjectID[:0:0], asf.ContentEncryptionObjectID[:]...)
	raw = binary.LittleEndian.AppendUint64(raw, uint64(24+len(body)))
	raw = append(raw, body...)
	h.Objects = append(h.Objects, asf.Object{ID: asf.ContentEncryptionObjectID, Raw: raw})
	return h.Marshal()
}

func TestContentErrors(t *testing.T) {
	hdr, pkts := readClip(t, clip(t, fixture.AudioOnly()))

	t.Run("drm", func(t *testing.T) {
		ev := newEvents()
		p, _ := New(Options{OnEvent: ev.fn()})
		defer p.Close()
		err := p.WriteHeader(withEncryption(t, hdr))
		var ce *ContentError
		if !errors.As(err, &ce) || !errors.Is(err, ErrEncrypted) {
			t.Fatalf("err = %v, want ErrEncrypted", err)
		}
		if !strings.Contains(err.Error(), "DRM") {
			t.Errorf("message %q does not say DRM", err)
		}
		m := p.Metadata()
		if !m.Encrypted || m.Mode != "" || !strings.Contains(m.Error, "DRM") {
			t.Errorf("metadata %+v", m)
		}
		if ev.count(event.Error) != 1 {
			t.Errorf("events:\n%s", ev.dump())
		}
		// passthrough still carries the entry
		srv := hlsServer(t, p.ServeHLS, p.ServeASF)
		res, err := http.Get(srv.URL + "/asf")
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "viewer", func() bool { return p.Viewers() == 1 })
		for _, pk := range pkts {
			if err := p.WritePacket(pk); err != nil {
				t.Fatal(err)
			}
		}
		p.Close()
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if len(b) < len(pkts)*len(pkts[0]) {
			t.Errorf("viewer got %d bytes", len(b))
		}
		// and HLS says it has nothing rather than hanging
		rec := httpGet(t, p.ServeHLS, "index.m3u8")
		if rec >= 200 && rec < 300 {
			t.Errorf("HLS answered %d for DRM content", rec)
		}
	})

	t.Run("unknown-codec", func(t *testing.T) {
		bad := bytes.Clone(hdr)
		h, _ := asf.ParseHeader(bad)
		// WAVEFORMATEX format tag of the only stream: 0x0161 -> 0x7777
		i := bytes.Index(bad, h.Streams[0].TypeSpecificData)
		bad[i], bad[i+1] = 0x77, 0x77
		p, _ := New(Options{})
		defer p.Close()
		err := p.WriteHeader(bad)
		if !errors.Is(err, ErrUnsupportedCodec) || !strings.Contains(err.Error(), "0x7777") {
			t.Fatalf("err = %v", err)
		}
		if s := p.Metadata().Streams; len(s) != 1 || !strings.Contains(s[0].Codec, "unknown") {
			t.Errorf("streams %+v", s)
		}
		// the next entry plays
		if err := p.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if m := p.Metadata(); m.Mode != "transcode" || m.Error != "" || m.Entries != 2 {
			t.Errorf("metadata %+v", m)
		}
	})

	t.Run("garbage", func(t *testing.T) {
		p, _ := New(Options{})
		defer p.Close()
		if err := p.WritePacket(pkts[0]); err == nil {
			t.Error("packet before header accepted")
		}
		if err := p.WriteHeader([]byte("not an ASF header at all, not at all")); !errors.Is(err, asf.ErrNotHeader) {
			t.Errorf("err = %v", err)
		}
	})
}

// httpGet runs one request against a handler with a short deadline and
// returns the status.
func httpGet(t *testing.T, serve func(http.ResponseWriter, *http.Request, string), file string) int {
	t.Helper()
	srv := hlsServer(t, serve, nil)
	c := &http.Client{Timeout: 45 * time.Second}
	res, err := c.Get(srv.URL + "/hls/" + file)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

func TestMetadata(t *testing.T) {
	hdr, _ := readClip(t, "/work/shared/media/glass.wmv")
	p, _ := New(Options{Outputs: Outputs{ASF: true}})
	defer p.Close()
	if err := p.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	m := p.Metadata()
	if m.Title != "Glass" || m.Author != "Oscillator 505" || !strings.HasPrefix(m.Copyright, "(c) Microsoft") || m.NowPlaying != "Glass" {
		t.Errorf("metadata %+v", m)
	}
	if len(m.Streams) != 2 || m.Streams[0].Codec != "wmav2" || m.Streams[0].SampleRate != 32000 ||
		m.Streams[1].Codec != "wmv1" || m.Streams[1].Width != 320 || m.Bitrate < 200_000 {
		t.Errorf("streams %+v bitrate %d", m.Streams, m.Bitrate)
	}
}

func TestParseCommand(t *testing.T) {
	enc := func(s string) []byte {
		var b []byte
		for _, r := range s {
			b = append(b, byte(r), 0)
		}
		return b
	}
	typ, cmd, ok := parseCommand(enc("TEXT\x00Now: Song A\x00"))
	if !ok || typ != "TEXT" || cmd != "Now: Song A" || !nowPlayingType(typ) {
		t.Errorf("%q %q %v", typ, cmd, ok)
	}
	if _, _, ok := parseCommand([]byte{1}); ok {
		t.Error("one byte parsed")
	}
}

// withScript adds a Script Command Object (ASF 3.6) with TEXT commands.
func withScript(t *testing.T, hdr []byte, cmds map[uint32]string) []byte {
	t.Helper()
	h, err := asf.ParseHeader(bytes.Clone(hdr))
	if err != nil {
		t.Fatal(err)
	}
	str := func(b []byte, s string) []byte {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(s)+1))
		for _, r := range s + "\x00" {
			b = binary.LittleEndian.AppendUint16(b, uint16(r))
		}
		return b
	}
	body := append([]byte(nil), asf.Reserved3[:]...)
	body = binary.LittleEndian.AppendUint16(body, uint16(len(cmds)))
	body = binary.LittleEndian.AppendUint16(body, 2)
	body = str(body, "URL")
	body = str(body, "TEXT")
	ats := make([]uint32, 0, len(cmds))
	for at := range cmds {
		ats = append(ats, at)
	}
	slices.Sort(ats)
	for _, at := range ats {
		body = binary.LittleEndian.AppendUint32(body, at)
		body = binary.LittleEndian.AppendUint16(body, 1)
		body = str(body, cmds[at])
	}
	raw := append([]byte(nil), asf.ScriptCommandObjectID[:]...)
	raw = binary.LittleEndian.AppendUint64(raw, uint64(24+len(body)))
	raw = append(raw, body...)
	h.Objects = append(h.Objects, asf.Object{ID: asf.ScriptCommandObjectID, Raw: raw})
	return h.Marshal()
}

// TestNowPlayingFromScriptCommands: TEXT script commands become "now
// playing" as playback passes their time.
func TestNowPlayingFromScriptCommands(t *testing.T) {
	hdr, pkts := readClip(t, clip(t, fixture.AudioOnly()))
	ev := newEvents()
	p, _ := New(Options{Outputs: Outputs{ASF: true}, OnEvent: ev.fn()})
	defer p.Close()
	h, _ := asf.ParseHeader(bytes.Clone(hdr))
	pre := uint32(h.FileProperties.Preroll)
	if err := p.WriteHeader(withScript(t, hdr, map[uint32]string{pre + 1000: "Artist - First", pre + 2000: "Artist - Second"})); err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, pk := range pkts {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
		if np := p.Metadata().NowPlaying; len(seen) == 0 || seen[len(seen)-1] != np {
			seen = append(seen, np)
		}
	}
	if got := strings.Join(seen, "|"); got != "|Artist - First|Artist - Second" {
		t.Errorf("now playing went %q", got)
	}
	if ev.count(event.EntryChange) != 2 {
		t.Errorf("events:\n%s", ev.dump())
	}
}

// TestHeaderWithoutDataObject: an upstream may hand over the Header Object
// alone; viewers and ffmpeg still get a Data Object header.
func TestHeaderWithoutDataObject(t *testing.T) {
	hdr, pkts := readClip(t, clip(t, fixture.AudioOnly()))
	h, err := asf.ParseHeader(bytes.Clone(hdr))
	if err != nil {
		t.Fatal(err)
	}
	p, _ := New(Options{SegmentDuration: time.Second})
	defer p.Close()
	if err := p.WriteHeader(hdr[:len(h.Raw)]); err != nil {
		t.Fatal(err)
	}
	if got := p.live[len(p.live)-asf.DataObjectHeaderSize:]; !bytes.Equal(got[:16], asf.DataObjectID[:]) {
		t.Fatalf("live header does not end with a Data Object header")
	}
	for _, pk := range pkts {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
	}
	p.Discontinuity()
	waitIdle(t, p)
	if n := p.hls.sampleCount(); n < 100 {
		t.Errorf("%d AAC frames from 3 s of audio", n)
	}
}
