package asf

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
)

// WriterStream describes one stream of a file made by Writer.
type WriterStream struct {
	Number uint16 // 1..127
	Type   GUID   // StreamTypeAudio, StreamTypeVideo, ...
	Audio  *WaveFormatEx
	Video  *BitmapInfoHeader
	// TypeSpecificData is used when neither Audio nor Video is set.
	TypeSpecificData []byte
	Bitrate          uint32 // bits/s, for Stream Bitrate Properties and Extended Stream Properties
	Language         string // e.g. "en-us": goes to the Language List
	AvgTimePerFrame  uint64 // 100-ns units, 0 when unknown
	// Spread, for audio, declares audio spread error correction (9.1.1);
	// objects of VirtualPacketLength*Span bytes are scrambled as it says.
	Spread *AudioSpreadInfo
}

// WriterConfig is what Writer needs to know before the first media object.
type WriterConfig struct {
	PacketSize int    // fixed data packet size; 0 means 3200
	Preroll    uint32 // ms
	FileID     GUID   // zero: random
	Streams    []WriterStream
	// MutualExclusions of type MutexBitrate produce the Bitrate Mutual
	// Exclusion Object (3.8, the first one) and every other one an Advanced
	// Mutual Exclusion Object (4.2) in the Header Extension.
	MutualExclusions   []MutualExclusion
	ContentDescription *ContentDescription
	// SimpleIndexStream, when non-zero, gets a Simple Index Object with a
	// one-second interval pointing at packets that start its key frames.
	SimpleIndexStream uint16
}

// Writer makes an ASF file from media objects: a Header Object with File
// Properties, Stream Properties, a Header Extension with Extended Stream
// Properties (and Language List, Advanced Mutual Exclusion), Stream Bitrate
// Properties and Bitrate Mutual Exclusion, then a Data Object with fixed-size
// packets holding multiple payloads, then an optional Simple Index. Packets
// are kept in memory until Close, which writes the whole file; it is meant
// for fixtures and short clips.
type Writer struct {
	w       io.Writer
	cfg     WriterConfig
	packets bytes.Buffer
	count   uint64

	cur      []byte // packet being filled
	curN     int    // payloads in cur
	lastSend uint32
	maxPTS   uint32
	objNum   [128]uint8
	maxObj   [128]uint32
	index    []uint32 // simple index: packet number per second
	lastKey  uint32   // packet of the latest key frame of SimpleIndexStream
	closed   bool
}

// Packet layout written: error correction (0x82 0 0), length type flags
// with multiple payloads and a WORD Padding Length, property flags for
// BYTE replicated data length, DWORD offset, BYTE object number, then send
// time, duration and payload flags (WORD payload lengths).
const (
	writerLTF          = 0x01 | 2<<3
	writerPF           = 1 | 3<<2 | 1<<4 | 1<<6
	writerPacketHeader = 3 + 2 + 2 + 6 + 1
	writerPayloadHead  = 1 + 1 + 4 + 1 + 8 + 2
)

// NewWriter checks cfg and returns a Writer that writes the file to w on Close.
func NewWriter(w io.Writer, cfg WriterConfig) (*Writer, error) {
	if cfg.PacketSize == 0 {
		cfg.PacketSize = 3200
	}
	if cfg.PacketSize < writerPacketHeader+writerPayloadHead+1 || cfg.PacketSize > 65535 {
		return nil, fmt.Errorf("asf: writer packet size %d out of range", cfg.PacketSize)
	}
	if len(cfg.Streams) == 0 {
		return nil, errors.New("asf: writer needs at least one stream")
	}
	seen := map[uint16]bool{}
	for _, s := range cfg.Streams {
		if s.Number == 0 || s.Number > 127 || seen[s.Number] {
			return nil, fmt.Errorf("asf: writer stream number %d invalid or repeated", s.Number)
		}
		seen[s.Number] = true
	}
	if cfg.FileID == (GUID{}) {
		_, _ = rand.Read(cfg.FileID[:])
	}
	return &Writer{w: w, cfg: cfg}, nil
}

// WriteObject adds one media object. PresentationTime is in ms and includes
// the preroll, as in the payloads it is copied to; objects must come in
// non-decreasing presentation time order across streams (within a preroll).
func (w *Writer) WriteObject(o MediaObject) error {
	if w.closed {
		return errors.New("asf: writer closed")
	}
	sn := uint16(o.StreamNumber)
	ws := w.stream(sn)
	if ws == nil {
		return fmt.Errorf("asf: writer: unknown stream %d", sn)
	}
	if sp := ws.Spread; sp != nil && sp.Span > 1 && sp.VirtualChunkLength > 0 &&
		sp.VirtualPacketLength%sp.VirtualChunkLength == 0 &&
		len(o.Data) == int(sp.VirtualPacketLength)*int(sp.Span) {
		o.Data = scramble(o.Data, sp)
	}
	num := w.objNum[sn]
	w.objNum[sn]++
	w.maxObj[sn] = max(w.maxObj[sn], uint32(len(o.Data)))
	w.maxPTS = max(w.maxPTS, o.PresentationTime)
	for off := 0; off < len(o.Data) || (off == 0 && len(o.Data) == 0); {
		space := w.cfg.PacketSize - len(w.cur) - writerPayloadHead
		if w.cur == nil {
			space -= writerPacketHeader
		}
		if w.cur != nil && (space < 1 || w.curN == 63) {
			w.flush()
			continue
		}
		if w.cur == nil {
			w.startPacket(o.PresentationTime)
		}
		n := min(space, len(o.Data)-off)
		sb := uint8(o.StreamNumber)
		if o.KeyFrame {
			sb |= 0x80
			if off == 0 && sn == w.cfg.SimpleIndexStream {
				w.noteKeyFrame(o.PresentationTime)
			}
		}
		b := append(w.cur, sb, num)
		b = putU32(b, uint32(off))
		b = append(b, 8)
		b = putU32(b, uint32(len(o.Data)))
		b = putU32(b, o.PresentationTime)
		b = putU16(b, uint16(n))
		w.cur = append(b, o.Data[off:off+n]...)
		w.curN++
		off += n
		if len(o.Data) == 0 {
			break
		}
	}
	return nil
}

func (w *Writer) stream(n uint16) *WriterStream {
	for i := range w.cfg.Streams {
		if w.cfg.Streams[i].Number == n {
			return &w.cfg.Streams[i]
		}
	}
	return nil
}

func (w *Writer) startPacket(pts uint32) {
	send := uint32(0)
	if pts > w.cfg.Preroll {
		send = pts - w.cfg.Preroll
	}
	send = max(send, w.lastSend)
	w.lastSend = send
	w.cur = make([]byte, 0, w.cfg.PacketSize)
	w.cur = append(w.cur, 0x82, 0, 0, writerLTF, writerPF, 0, 0)
	w.cur = putU32(w.cur, send)
	w.cur = putU16(w.cur, 0)
	w.cur = append(w.cur, 0x80) // payload flags, count set in flush
	w.curN = 0
}

func (w *Writer) flush() {
	if w.cur == nil {
		return
	}
	pad := w.cfg.PacketSize - len(w.cur)
	w.cur[5], w.cur[6] = byte(pad), byte(pad>>8)
	w.cur[13] = 0x80 | byte(w.curN)
	w.cur = append(w.cur, make([]byte, pad)...)
	w.packets.Write(w.cur)
	w.count++
	w.cur = nil
}

// noteKeyFrame records that a key frame presented at pts (ms, with preroll)
// starts in the packet being filled: Simple Index entries for the seconds
// before it point at the previous key frame (6.1).
func (w *Writer) noteKeyFrame(pts uint32) {
	t := pts - min(pts, w.cfg.Preroll)
	for uint32(len(w.index))*1000 < t {
		w.index = append(w.index, w.lastKey)
	}
	w.lastKey = uint32(w.count)
}

// Close writes the header, the packets and the index to the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	w.flush()
	w.closed = true
	if w.cfg.SimpleIndexStream != 0 {
		for end := w.maxPTS - min(w.maxPTS, w.cfg.Preroll); uint32(len(w.index))*1000 <= end; {
			w.index = append(w.index, w.lastKey)
		}
	}
	hdr := w.header()
	data := AppendDataObjectHeader(nil, w.cfg.FileID, w.count, w.cfg.PacketSize, false)
	for _, b := range [][]byte{hdr, data, w.packets.Bytes(), w.simpleIndex()} {
		if _, err := w.w.Write(b); err != nil {
			return fmt.Errorf("asf: writing file: %w", err)
		}
	}
	return nil
}

func (w *Writer) simpleIndex() []byte {
	if w.cfg.SimpleIndexStream == 0 || len(w.index) == 0 {
		return nil
	}
	var b []byte
	b = append(b, w.cfg.FileID[:]...)
	b = putU64(b, 10_000_000)
	b = putU32(b, 1)
	b = putU32(b, uint32(len(w.index)))
	for _, n := range w.index {
		b = putU32(b, n)
		b = putU16(b, 1)
	}
	return makeObject(SimpleIndexObjectID, b)
}

// header builds the Header Object for what was written.
func (w *Writer) header() []byte {
	cfg := &w.cfg
	var objs [][]byte
	var total uint32
	for _, s := range cfg.Streams {
		total += s.Bitrate
	}
	dur := uint64(w.maxPTS)*10000 + 10000 // 100-ns, includes preroll
	fp := FileProperties{FileID: cfg.FileID, DataPacketsCount: w.count, PlayDuration: dur,
		SendDuration: uint64(w.lastSend)*10000 + 10000, Preroll: uint64(cfg.Preroll), Seekable: true,
		MinDataPacketSize: uint32(cfg.PacketSize), MaxDataPacketSize: uint32(cfg.PacketSize), MaxBitrate: total}
	objs = append(objs, nil) // File Properties, filled when the size is known
	for _, s := range cfg.Streams {
		objs = append(objs, makeObject(StreamPropertiesObjectID, streamPropertiesBody(s)))
	}
	objs = append(objs, makeObject(HeaderExtensionObjectID, w.extension()))
	if cfg.ContentDescription != nil {
		objs = append(objs, cfg.ContentDescription.Marshal())
	}
	var sbp []byte
	sbp = putU16(sbp, uint16(len(cfg.Streams)))
	for _, s := range cfg.Streams {
		sbp = putU16(sbp, s.Number)
		sbp = putU32(sbp, s.Bitrate)
	}
	objs = append(objs, makeObject(StreamBitratePropertiesObjectID, sbp))
	for _, m := range cfg.MutualExclusions {
		if m.Type == MutexBitrate {
			objs = append(objs, makeObject(BitrateMutualExclusionObjectID, mutexBody(m)))
			break
		}
	}
	size := headerObjectFixedSize + objectHeaderSize + filePropertiesSize
	for _, o := range objs[1:] {
		size += len(o)
	}
	fp.FileSize = uint64(size) + DataObjectHeaderSize + uint64(w.packets.Len()) + uint64(len(w.simpleIndex()))
	objs[0] = fp.appendObject(nil)
	b := make([]byte, 0, size)
	b = append(b, HeaderObjectID[:]...)
	b = putU64(b, uint64(size))
	b = putU32(b, uint32(len(objs)))
	b = append(b, 1, 2)
	for _, o := range objs {
		b = append(b, o...)
	}
	return b
}

func streamPropertiesBody(s WriterStream) []byte {
	ts := s.TypeSpecificData
	switch {
	case s.Audio != nil:
		ts = s.Audio.Marshal()
	case s.Video != nil:
		ts = s.Video.Marshal()
	}
	ecType, ec := NoErrorCorrection, []byte(nil)
	if sp := s.Spread; sp != nil {
		ecType = AudioSpread
		ec = append(ec, sp.Span)
		ec = putU16(ec, sp.VirtualPacketLength)
		ec = putU16(ec, sp.VirtualChunkLength)
		ec = putU16(ec, uint16(len(sp.SilenceData)))
		ec = append(ec, sp.SilenceData...)
	}
	var b []byte
	b = append(b, s.Type[:]...)
	b = append(b, ecType[:]...)
	b = putU64(b, 0)
	b = putU32(b, uint32(len(ts)))
	b = putU32(b, uint32(len(ec)))
	b = putU16(b, s.Number)
	b = putU32(b, 0)
	b = append(b, ts...)
	return append(b, ec...)
}

func mutexBody(m MutualExclusion) []byte {
	b := append([]byte(nil), m.Type[:]...)
	b = putU16(b, uint16(len(m.Streams)))
	for _, s := range m.Streams {
		b = putU16(b, s)
	}
	return b
}

// extension builds the Header Extension Object's body.
func (w *Writer) extension() []byte {
	cfg := &w.cfg
	var langs []string
	langIndex := func(l string) uint16 {
		for i, x := range langs {
			if x == l {
				return uint16(i)
			}
		}
		langs = append(langs, l)
		return uint16(len(langs) - 1)
	}
	var children []byte
	for _, s := range cfg.Streams {
		var e []byte
		e = putU64(e, 0)                                           // start time
		e = putU64(e, uint64(w.maxPTS-min(w.maxPTS, cfg.Preroll))) // end time
		e = putU32(e, s.Bitrate)
		e = putU32(e, cfg.Preroll) // buffer size (ms)
		e = putU32(e, cfg.Preroll)
		e = putU32(e, s.Bitrate)
		e = putU32(e, cfg.Preroll)
		e = putU32(e, cfg.Preroll)
		e = putU32(e, w.maxObj[s.Number])
		e = putU32(e, 2) // seekable
		e = putU16(e, s.Number)
		li := uint16(0)
		if w.hasLanguages() {
			// streams without a language point at an empty entry
			li = langIndex(s.Language)
		}
		e = putU16(e, li)
		e = putU64(e, s.AvgTimePerFrame)
		e = putU16(e, 0) // stream names
		e = putU16(e, 0) // payload extension systems
		children = append(children, makeObject(ExtendedStreamPropertiesObjectID, e)...)
	}
	for i, m := range cfg.MutualExclusions {
		if m.Type == MutexBitrate && w.firstBitrateMutex() == i {
			continue
		}
		children = append(children, makeObject(AdvancedMutualExclusionObjectID, mutexBody(m))...)
	}
	if len(langs) > 0 {
		var l []byte
		l = putU16(l, uint16(len(langs)))
		for _, x := range langs {
			s := encodeUTF16(x)
			l = append(l, byte(len(s)))
			l = append(l, s...)
		}
		children = append(children, makeObject(LanguageListObjectID, l)...)
	}
	var b []byte
	b = append(b, Reserved1[:]...)
	b = putU16(b, 6)
	b = putU32(b, uint32(len(children)))
	return append(b, children...)
}

func (w *Writer) hasLanguages() bool {
	for _, s := range w.cfg.Streams {
		if s.Language != "" {
			return true
		}
	}
	return false
}

func (w *Writer) firstBitrateMutex() int {
	for i, m := range w.cfg.MutualExclusions {
		if m.Type == MutexBitrate {
			return i
		}
	}
	return -1
}
