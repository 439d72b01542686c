package mmsh

import (
	"encoding/binary"
	"fmt"
	"net/http"
	"time"

	"github.com/mmsgate/mmsgate/asf"
)

// Writer writes the body of a Play response (2.2.2.6, WMS-PlayResp-Body)
// for code that has its own sequence of ASF headers and packets, such as
// the gateway's ASF passthrough: WriteHeader for each entry's header,
// WritePacket for each data packet, End at the end. It buffers; Flush (or
// a header, or End) sends. Not safe for concurrent use.
type Writer struct {
	// WriteTimeout bounds each write (default 20 s).
	WriteTimeout time.Duration

	w       http.ResponseWriter
	rc      *http.ResponseController
	ci      clientInfo
	off     map[uint8]bool // streams switched off by the request
	sw      switcher       // SelectStream changes under way
	seq     uint8          // AFFlags of $D: a sequence number (2.2.3.1.2)
	loc     uint32         // next LocationId when the caller has none
	buf     []byte
	full    []byte
	pkt     asf.Packet
	psize   int
	entries int
}

// StartPlay answers a Play request with the response headers (features
// from live: "broadcast,live" or "seekable") and returns the Writer for
// its body. Streams that the request's stream-switch-entry tokens switch
// off are taken out of the packets.
func StartPlay(w http.ResponseWriter, r *http.Request, live bool) *Writer {
	prag, _ := ParsePragma(r.Header.Values("Pragma"))
	ci := parseUserAgent(r.Header.Get("User-Agent"))
	resp := NewPragma()
	resp.NoCache = true
	resp.ClientID = prag.ClientID
	if resp.ClientID < 0 {
		resp.ClientID = int64(randUint32() & 0x7fffffff)
	}
	resp.Features = features(Entry{Live: live, Seekable: !live}, ci)
	h := w.Header()
	h.Set("Server", serverName)
	h.Set("Cache-Control", "no-cache")
	for _, v := range resp.Values() {
		h.Add("Pragma", v)
	}
	h.Set("Content-Type", "application/x-mms-framed")
	w.WriteHeader(http.StatusOK)
	return &Writer{w: w, rc: http.NewResponseController(w), ci: ci, off: selection(prag.StreamSwitch)}
}

// WriteDescribe answers a Describe request with the ASF header hdr
// (Header Object plus Data Object header) in $H packets.
func WriteDescribe(w http.ResponseWriter, r *http.Request, hdr []byte, live bool) {
	ci := parseUserAgent(r.Header.Get("User-Agent"))
	resp := NewPragma()
	resp.NoCache = true
	resp.ClientID = int64(randUint32() & 0x7fffffff)
	e := Entry{Header: hdr, Live: live, Seekable: !live}
	resp.Features = features(e, ci)
	var body []byte
	if sendMetadata(ci) {
		body = appendMetadata(body, 1, e, ci)
	}
	body = AppendHeaderPackets(body, TypeHeader, hdr, 0)
	h := w.Header()
	h.Set("Server", serverName)
	h.Set("Cache-Control", "no-cache")
	for _, v := range resp.Values() {
		h.Add("Pragma", v)
	}
	h.Set("Content-Type", "application/vnd.ms.wms-hdr.asfv1")
	h.Set("Content-Length", fmt.Sprint(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// IsPlayRequest reports whether r is a Play (or PlayNextEntry) request
// rather than a Describe (2.2.2.1, 2.2.2.6).
func IsPlayRequest(r *http.Request) bool {
	p, err := ParsePragma(r.Header.Values("Pragma"))
	return err == nil && (p.XPlayStrm == 1 || p.XPlayNextEntry)
}

// WriteHeader starts an entry with its ASF header and sends it: the first
// time $H alone; then $E (S_FALSE), $C and $H, as a server-side playlist
// changes entries (2.2.3.2). Clients before 9.0 (FFmpeg, VLC) take an $E
// as the end of everything, so they get the $C alone.
func (w *Writer) WriteHeader(hdr []byte) error {
	return w.startEntry(Entry{Header: hdr})
}

func (w *Writer) startEntry(e Entry) error {
	if e.Playlist && w.ci.major < 9 && !e.Live {
		// Clients before 9.0 get playlists as a broadcast (2.2.1.4.8.1);
		// FFmpeg also stops after a file's packet count unless told so.
		if b, err := BroadcastHeader(e.Header); err == nil {
			e.Header = b
		}
	}
	hd, err := asf.ParseHeader(e.Header)
	if err != nil {
		return fmt.Errorf("mmsh: entry header: %w", err)
	}
	if w.entries > 0 {
		if w.ci.major >= 9 {
			w.buf, _ = AppendPacket(w.buf, &Packet{Type: TypeEnd, Reason: EndNextEntry})
		}
		w.buf, _ = AppendPacket(w.buf, &Packet{Type: TypeStreamChange})
	}
	w.entries++
	if sendMetadata(w.ci) {
		w.buf = appendMetadata(w.buf, uint32(w.entries), e, w.ci)
	}
	w.buf = AppendHeaderPackets(w.buf, TypeHeader, e.Header, 0)
	if w.entries > 1 && w.ci.major >= 5 && w.ci.major < 9 {
		// VLC (NSPlayer/7.10) reads a new header until the first packet
		// that is not $H and drops that packet when it is a $D; a $T (four
		// bytes, no body) ends its header loop instead. FFmpeg (NSPlayer/4)
		// would fail on $T, 9.0+ clients do not need it.
		w.buf, _ = AppendPacket(w.buf, &Packet{Type: TypeTest})
	}
	w.psize = hd.PacketSize()
	return w.Flush()
}

// WritePacket appends the $D packet of one full-size ASF data packet,
// numbered in sequence from 0 (the "virtual file" of live content,
// 2.2.3.1.2). It sends when enough is buffered.
func (w *Writer) WritePacket(pkt []byte) error {
	if err := w.data(pkt, w.loc); err != nil {
		return err
	}
	if len(w.buf) >= 32<<10 {
		return w.Flush()
	}
	return nil
}

// End sends $E with reason (EndOK at the end of the content).
func (w *Writer) End(reason uint32) error {
	w.buf, _ = AppendPacket(w.buf, &Packet{Type: TypeEnd, Reason: reason})
	return w.Flush()
}

// Flush sends what is buffered, within WriteTimeout.
func (w *Writer) Flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	to := w.WriteTimeout
	if to <= 0 {
		to = DefaultWriteTimeout
	}
	_ = w.rc.SetWriteDeadline(time.Now().Add(to))
	_, err := w.w.Write(w.buf)
	w.buf = w.buf[:0]
	if err == nil {
		err = w.rc.Flush()
	}
	return err
}

// data appends the $D packet of one ASF data packet: streams that are off
// are taken out, and the padding of packets with multiple payloads removed
// (2.2.3.3) unless the client is an NSServer before 5.0.
func (w *Writer) data(pkt []byte, loc uint32) error {
	if w.psize == 0 {
		return fmt.Errorf("mmsh: data packet before a header")
	}
	w.loc = loc + 1
	if w.switching() {
		if err := w.pkt.Unmarshal(pkt); err != nil {
			return nil // unparseable: skipped, like a lost packet
		}
		kept := w.pkt.Payloads[:0]
		for i := range w.pkt.Payloads {
			if w.keep(&w.pkt.Payloads[i]) {
				kept = append(kept, w.pkt.Payloads[i])
			}
		}
		if len(kept) == 0 {
			return nil
		}
		changed := len(kept) != len(w.pkt.Payloads)
		w.pkt.Payloads = kept
		if changed {
			var err error
			if w.full, err = w.pkt.Append(w.full[:0], w.psize); err != nil {
				return nil
			}
			pkt = w.full
		}
	}
	start := len(w.buf)
	w.buf = append(w.buf, 0x24, TypeData, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	if w.ci.nsServer {
		w.buf = append(w.buf, pkt...)
	} else {
		var err error
		// Only packets with multiple payloads lose their padding: their
		// payload lengths are explicit. FFmpeg and VLC pad $D packets back
		// with zeros without restoring Padding Length, which would grow
		// the implicit length of a single payload (2.2.3.3 says SHOULD).
		if w.buf, err = asf.StripPadding(w.buf, pkt, true); err != nil {
			w.buf = append(w.buf[:start+12], pkt...)
		}
	}
	n := len(w.buf) - start - framingHeaderSize
	if n > MaxPacketLength {
		w.buf = w.buf[:start]
		return fmt.Errorf("mmsh: ASF packet of %d bytes does not fit a $D packet", n-dataHeaderSize)
	}
	b := w.buf[start:]
	binary.LittleEndian.PutUint16(b[2:], uint16(n))
	binary.LittleEndian.PutUint32(b[4:], loc)
	b[8], b[9] = 0, w.seq
	binary.LittleEndian.PutUint16(b[10:], uint16(n))
	w.seq++
	return nil
}
