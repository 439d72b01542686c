package mmsserver

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/mmsgate/mmsgate/asf"
)

// maxHeaderSize bounds the ASF Header Object the server accepts from a file.
const maxHeaderSize = 4 << 20

// media is one ASF file opened for streaming, with what the server needs
// to seek, stride and pace: every packet's send time and which packets
// start a key frame.
type media struct {
	path        string
	r           io.ReaderAt
	closer      io.Closer
	header      *asf.Header
	headerBytes []byte // Header Object + 50-byte Data Object header (2.2.2)
	dataOffset  int64
	packetSize  int
	packetCount uint64
	preroll     uint32 // ms
	duration    float64
	bitRate     uint32             // computed: bits/s needed to send every packet on time
	video       map[uint8]bool     // video stream numbers
	streams     []uint16           // all stream numbers
	sendTimes   []uint32           // per packet, ms
	keyPackets  []uint64           // packets starting a key frame (video, else any)
	keyTimes    []uint32           // presentation time (ms) of that key frame
	simpleIndex []simpleIndexEntry // from the Simple Index Object, nil when absent
	indexStep   uint64             // Index Entry Time Interval, 100-ns units
	playEnd     uint32             // ms: presentation end of the content (for looping)
}

type simpleIndexEntry struct {
	packet uint32
	count  uint16
}

var (
	dataObjectID        = mustGUID("75B22636-668E-11CF-A6D9-00AA0062CE6C")
	simpleIndexObjectID = mustGUID("33000890-E5B1-11CF-89F4-00A0C90349CB")
)

func mustGUID(s string) asf.GUID {
	g, err := asf.ParseGUID(s)
	if err != nil {
		panic(err)
	}
	return g
}

// openMedia opens and scans the ASF file at path.
func openMedia(path string) (*media, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	m, err := newMedia(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.path, m.closer = path, f
	return m, nil
}

func (m *media) Close() error {
	if m.closer != nil {
		return m.closer.Close()
	}
	return nil
}

// newMedia reads the header, locates the Data Object and the Simple Index,
// and scans every packet once.
func newMedia(r io.ReaderAt, size int64) (*media, error) {
	var top [30]byte
	if _, err := r.ReadAt(top[:], 0); err != nil {
		return nil, fmt.Errorf("reading ASF header: %w", err)
	}
	hsize := binary.LittleEndian.Uint64(top[16:])
	if hsize < 30 || hsize > maxHeaderSize || int64(hsize)+50 > size {
		return nil, fmt.Errorf("ASF Header Object size %d in a %d-byte file", hsize, size)
	}
	buf := make([]byte, hsize+50)
	if _, err := r.ReadAt(buf, 0); err != nil {
		return nil, fmt.Errorf("reading ASF header: %w", err)
	}
	h, err := asf.ParseHeader(buf)
	if err != nil {
		return nil, err
	}
	dobj := buf[hsize:]
	if !bytes.Equal(dobj[:16], dataObjectID[:]) {
		return nil, errors.New("no Data Object after the Header Object")
	}
	m := &media{
		r:           r,
		header:      h,
		headerBytes: buf,
		dataOffset:  int64(hsize) + 50,
		packetSize:  h.PacketSize(),
		preroll:     uint32(h.FileProperties.Preroll),
		video:       map[uint8]bool{},
	}
	if m.packetSize <= 0 || m.packetSize > 0xFFFF-8 {
		return nil, fmt.Errorf("ASF packet size %d", m.packetSize)
	}
	dsize := binary.LittleEndian.Uint64(dobj[16:])
	end := size
	if dsize >= 50 && int64(hsize)+int64(dsize) <= size {
		end = int64(hsize) + int64(dsize)
	}
	m.packetCount = uint64(end-m.dataOffset) / uint64(m.packetSize)
	for _, s := range h.Streams {
		m.streams = append(m.streams, s.StreamNumber)
		if s.IsVideo() {
			m.video[uint8(s.StreamNumber)] = true
		}
	}
	m.readSimpleIndex(end, size)
	if err := m.scan(); err != nil {
		return nil, err
	}
	return m, nil
}

// readSimpleIndex looks for a Simple Index Object among the objects after
// the Data Object (ASF 6.1).
func (m *media) readSimpleIndex(off, size int64) {
	var oh [24]byte
	for off+24 <= size {
		if _, err := m.r.ReadAt(oh[:], off); err != nil {
			return
		}
		osize := int64(binary.LittleEndian.Uint64(oh[16:]))
		if osize < 24 || off+osize > size {
			return
		}
		if bytes.Equal(oh[:16], simpleIndexObjectID[:]) && osize >= 56 && osize < 64<<20 {
			b := make([]byte, osize)
			if _, err := m.r.ReadAt(b, off); err != nil {
				return
			}
			step := binary.LittleEndian.Uint64(b[40:])
			n := binary.LittleEndian.Uint32(b[52:])
			if step == 0 || int64(n)*6 > osize-56 {
				return
			}
			m.indexStep = step
			m.simpleIndex = make([]simpleIndexEntry, n)
			for i := range m.simpleIndex {
				e := b[56+6*i:]
				m.simpleIndex[i] = simpleIndexEntry{binary.LittleEndian.Uint32(e), binary.LittleEndian.Uint16(e[4:])}
			}
			return
		}
		off += osize
	}
}

// scan reads every packet once: send times, key frames, the presentation
// end and the bit rate needed to send each packet by its send time.
func (m *media) scan() error {
	buf := make([]byte, m.packetSize)
	var p packetInfo
	m.sendTimes = make([]uint32, 0, m.packetCount)
	for n := uint64(0); n < m.packetCount; n++ {
		if err := m.readPacket(n, buf); err != nil {
			return err
		}
		if err := parsePacket(buf, &p); err != nil {
			return fmt.Errorf("packet %d: %w", n, err)
		}
		m.sendTimes = append(m.sendTimes, p.sendTime(buf))
		if p.keyFrameStart(m.video) {
			m.keyPackets = append(m.keyPackets, n)
			m.keyTimes = append(m.keyTimes, m.keyTime(buf, &p))
		}
		for _, pl := range p.payloads {
			if pl.presTime.size > 0 {
				if t := pl.presTime.get(buf); t > m.playEnd {
					m.playEnd = t
				}
			}
		}
	}
	// The period of a loop is the play duration; ffmpeg and Windows Media
	// encoders store it with the preroll included, like presentation times.
	if pd := uint32(m.header.FileProperties.PlayDuration / 10000); pd > m.playEnd {
		m.playEnd = pd
	} else {
		m.playEnd += 100
	}
	m.duration = m.header.FileProperties.Duration().Seconds()
	if m.duration <= 0 && len(m.sendTimes) > 0 {
		m.duration = float64(m.sendTimes[len(m.sendTimes)-1]) / 1000
	}
	m.bitRate = m.computeBitRate()
	return nil
}

func (m *media) keyTime(b []byte, p *packetInfo) uint32 {
	for _, pl := range p.payloads {
		if pl.keyFrame && (len(m.video) == 0 || m.video[pl.stream]) && pl.presTime.size > 0 {
			return pl.presTime.get(b)
		}
	}
	return p.sendTime(b) + m.preroll
}

// computeBitRate returns the bit rate of the file's packets over its send
// duration, or the sum of the stream bit rates the header declares when
// that is larger. (FFmpeg writes no Stream Bitrate Properties, and the File
// Properties Maximum Bitrate is often wrong, so the packets decide.)
func (m *media) computeBitRate() uint32 {
	var declared uint64
	for _, s := range m.header.Streams {
		declared += uint64(s.Bitrate)
	}
	var measured uint64
	if n := len(m.sendTimes); n > 1 {
		span := uint64(m.sendTimes[n-1]-m.sendTimes[0]) + 1
		measured = uint64(n) * uint64(m.packetSize) * 8 * 1000 / span
	} else {
		measured = uint64(m.packetSize) * 8
	}
	r := max(declared, measured)
	if r > 0xFFFFFFFF {
		r = 0xFFFFFFFF
	}
	return uint32(r)
}

// readPacket reads packet n (0-based) into buf (packetSize bytes).
func (m *media) readPacket(n uint64, buf []byte) error {
	if n >= m.packetCount {
		return io.EOF
	}
	_, err := m.r.ReadAt(buf[:m.packetSize], m.dataOffset+int64(n)*int64(m.packetSize))
	if err != nil {
		return fmt.Errorf("reading packet %d: %w", n, err)
	}
	return nil
}

// packetForTime returns the packet to start from to play from presentation
// time t (ms from the start of the content, preroll excluded): the last key
// frame at or before t, found with the Simple Index when the file has one
// (ASF 6.1), else with the key frames found by scan.
func (m *media) packetForTime(t uint32) uint64 {
	if m.simpleIndex != nil {
		// Index entries are spaced by indexStep in presentation time, 100-ns
		// units, preroll included.
		i := (uint64(t) + uint64(m.preroll)) * 10000 / m.indexStep
		if i >= uint64(len(m.simpleIndex)) {
			i = uint64(len(m.simpleIndex)) - 1
		}
		if len(m.simpleIndex) > 0 {
			return min(uint64(m.simpleIndex[i].packet), m.packetCount)
		}
	}
	target := t + m.preroll
	i := sort.Search(len(m.keyTimes), func(i int) bool { return m.keyTimes[i] > target })
	if i == 0 {
		return 0
	}
	return m.keyPackets[i-1]
}

// broadcastHeader returns the file's header marked as a broadcast (ASF 3.2:
// Broadcast Flag set, Seekable Flag cleared; size, count and duration fields
// are then invalid and set to 0), with a Data Object header of unknown size.
func (m *media) broadcastHeader() []byte {
	b := bytes.Clone(m.headerBytes)
	hsize := len(b) - 50
	off := 30
	for off+24 <= hsize {
		osize := int(binary.LittleEndian.Uint64(b[off+16:]))
		if osize < 24 || off+osize > hsize {
			break
		}
		if bytes.Equal(b[off:off+16], asf.FilePropertiesObjectID[:]) && osize >= 104 {
			fp := b[off+24:]
			binary.LittleEndian.PutUint64(fp[16:], 0) // File Size
			binary.LittleEndian.PutUint64(fp[32:], 0) // Data Packets Count
			binary.LittleEndian.PutUint64(fp[40:], 0) // Play Duration
			binary.LittleEndian.PutUint64(fp[48:], 0) // Send Duration
			flags := binary.LittleEndian.Uint32(fp[64:])
			binary.LittleEndian.PutUint32(fp[64:], flags&^2|1)
		}
		off += osize
	}
	d := b[hsize:]
	binary.LittleEndian.PutUint64(d[16:], 50) // Object Size: unknown for a broadcast
	binary.LittleEndian.PutUint64(d[40:], 0)  // Total Data Packets
	return b
}
