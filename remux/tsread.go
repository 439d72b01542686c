package remux

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// MPEG-TS constants (ISO/IEC 13818-1 §2.4.3, §2.4.4).
const (
	tsPacketSize = 188
	tsSyncByte   = 0x47
	tsPIDPAT     = 0x0000

	tsStreamTypeH264 = 0x1B // AVC video (Table 2-34)
	tsStreamTypeAAC  = 0x0F // ISO/IEC 13818-7 audio with ADTS transport syntax

	// tsReadSize is how much one read asks of the pipe: a full pipe buffer,
	// so that ffmpeg's output costs as few syscalls as possible.
	tsReadSize = 64 << 10
	// tsMaxPES bounds one PES packet being reassembled: an access unit no
	// decoder accepts (mediacommon's limit for H.264) plus a header.
	tsMaxPES = h264.MaxAccessUnitSize + 1024
	// tsAudioSlab is the size of the chunks audio AUs are copied into:
	// about 1.5 s of 96 kbit/s AAC.
	tsAudioSlab = 16 << 10
	// tsMaxResync is how much garbage is skipped looking for the sync byte
	// before the stream is declared unreadable.
	tsMaxResync = 1 << 20
)

// errTSNoSync means the input stopped looking like MPEG-TS.
var errTSNoSync = errors.New("no MPEG-TS sync byte found")

// tsDemuxer reads the MPEG-TS that the transcoder's ffmpeg writes: one
// program with an H.264 (stream type 0x1B) and/or an AAC ADTS (0x0F)
// elementary stream. It replaces mediacommon's mpegts.Reader (go-astits),
// which allocates several objects per 188-byte packet: this one reassembles
// PES packets into buffers reused across packets and hands access units to
// its callbacks with the same values that reader gave.
//
// The bytes come from our own child process, but they are parsed like
// network input: sizes are bounded, and damage (lost packets, garbage, a lost
// sync byte, truncation) gives decode errors and a resync, never a panic.
type tsDemuxer struct {
	r io.Reader

	// onH264 gets one access unit (Annex-B split into NALUs, a leading AUD
	// removed) with its 33-bit PTS. The NALUs are only valid during the
	// call, except SPS NALUs, which are never overwritten (gohlslib's DTS
	// extractor keeps the last one it saw).
	onH264 func(pts int64, au [][]byte) error
	// onAAC gets the access units of one PES with its PTS and the
	// configuration of the stream's first ADTS header. The access units are
	// never overwritten (gohlslib keeps them until its part is written);
	// the outer slice is only valid during the call.
	onAAC func(conf *mpeg4audio.AudioSpecificConfig, pts int64, aus [][]byte) error
	// onDecodeError gets damage that the demuxer skipped.
	onDecodeError func(err error)

	buf      []byte
	pos, end int
	eof      bool
	resync   int // bytes skipped since the last good packet

	pmtPID       int // -1 until a PAT named it
	haveTracks   bool
	video, audio tsStream

	nalus   [][]byte // reused for every video access unit
	sps     []byte   // the last SPS, copied: never written again
	aus     [][]byte // reused for every audio PES
	slab    []byte   // where audio AUs are copied to (see audioPES)
	conf    mpeg4audio.AudioSpecificConfig
	confSet bool
}

// tsStream is the reassembly state of one elementary stream's PID.
type tsStream struct {
	pid     int  // -1 when the program has no such stream
	cc      int  // last continuity counter; -1 = none yet
	active  bool // a PES is being reassembled in buf
	length  int  // total PES size from PES_packet_length; 0 = unbounded (video)
	lengthK bool // PES_packet_length has been read
	buf     []byte
}

func newTSDemuxer(r io.Reader) *tsDemuxer {
	return &tsDemuxer{
		r:      r,
		buf:    make([]byte, tsReadSize),
		pmtPID: -1,
		video:  tsStream{pid: -1, cc: -1},
		audio:  tsStream{pid: -1, cc: -1},
	}
}

func (d *tsDemuxer) decodeError(err error) {
	if d.onDecodeError != nil {
		d.onDecodeError(err)
	}
}

// run reads until the end of the input; it returns nil at EOF (also in the
// middle of a packet: ffmpeg was killed), a read error, a callback's error,
// or errTSNoSync.
func (d *tsDemuxer) run() error {
	for {
		pkt, err := d.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return d.flush()
			}
			return err
		}
		if err := d.packet(pkt); err != nil {
			return err
		}
	}
}

// next returns the next 188-byte packet that starts with the sync byte,
// skipping garbage. The packet is valid until the next call.
func (d *tsDemuxer) next() ([]byte, error) {
	for {
		if d.end-d.pos < tsPacketSize {
			if err := d.fill(); err != nil {
				return nil, err
			}
			continue
		}
		b := d.buf[d.pos:d.end]
		if b[0] == tsSyncByte && (len(b) < 2*tsPacketSize || b[tsPacketSize] == tsSyncByte) {
			if d.resync > 0 {
				d.decodeError(fmt.Errorf("MPEG-TS: skipped %d bytes to regain sync", d.resync))
				d.resync = 0
			}
			d.pos += tsPacketSize
			return b[:tsPacketSize], nil
		}
		// lost sync (§2.4.3.2: sync_byte): skip to the next candidate
		skip := len(b)
		if i := bytes.IndexByte(b[1:], tsSyncByte); i >= 0 {
			skip = 1 + i
		}
		d.pos += skip
		d.resync += skip
		if d.resync > tsMaxResync {
			return nil, fmt.Errorf("%w in %d bytes", errTSNoSync, d.resync)
		}
	}
}

// fill moves the unread bytes to the front and reads more; io.EOF once the
// input ended (a partial packet at the end is dropped).
func (d *tsDemuxer) fill() error {
	if d.eof {
		return io.EOF
	}
	n := copy(d.buf, d.buf[d.pos:d.end])
	d.pos, d.end = 0, n
	for empty := 0; d.end < tsPacketSize; {
		m, err := d.r.Read(d.buf[d.end:])
		d.end += m
		if m == 0 && err == nil {
			if empty++; empty >= 100 {
				return io.ErrNoProgress
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				d.eof = true
				if d.end >= tsPacketSize {
					return nil
				}
				return io.EOF
			}
			return err
		}
	}
	return nil
}

// packet handles one transport packet (§2.4.3.2, §2.4.3.4).
func (d *tsDemuxer) packet(p []byte) error {
	if p[1]&0x80 != 0 {
		return nil // transport_error_indicator: the packet is damaged
	}
	pusi := p[1]&0x40 != 0
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	afc := p[3] >> 4 & 0x3
	cc := int(p[3] & 0xf)
	if afc&0x1 == 0 {
		return nil // adaptation field only (or reserved): no payload
	}
	payload, discontinuity := p[4:], false
	if afc&0x2 != 0 {
		n := int(p[4])
		if n > tsPacketSize-5 {
			d.decodeError(fmt.Errorf("MPEG-TS: PID %d: adaptation field of %d bytes", pid, n))
			return nil
		}
		discontinuity = n > 0 && p[5]&0x80 != 0
		payload = p[5+n:]
	}
	if len(payload) == 0 {
		return nil // the adaptation field took the whole packet
	}
	switch {
	case d.haveTracks && pid == d.video.pid:
		return d.pes(&d.video, pusi, cc, discontinuity, payload)
	case d.haveTracks && pid == d.audio.pid:
		return d.pes(&d.audio, pusi, cc, discontinuity, payload)
	case d.haveTracks:
		return nil
	case pid == tsPIDPAT && pusi:
		d.pat(payload)
	case pid == d.pmtPID && pusi:
		return d.pmt(payload)
	}
	return nil
}

// section returns the PSI section that starts in payload (§2.4.4), with its
// CRC checked. A section longer than one packet is not supported: ffmpeg's
// PAT and PMT for one program with two streams take a few dozen bytes.
func (d *tsDemuxer) section(payload []byte, tableID byte) []byte {
	ptr := int(payload[0])
	if 1+ptr+3 > len(payload) {
		d.decodeError(fmt.Errorf("MPEG-TS: PSI pointer_field %d beyond the packet", ptr))
		return nil
	}
	s := payload[1+ptr:]
	if s[0] != tableID {
		return nil
	}
	n := 3 + (int(s[1]&0x0f)<<8 | int(s[2]))
	if n > len(s) {
		d.decodeError(fmt.Errorf("MPEG-TS: table 0x%02x of %d bytes spans packets (not supported)", tableID, n))
		return nil
	}
	if n < 12 || s[1]&0x80 == 0 {
		d.decodeError(fmt.Errorf("MPEG-TS: malformed table 0x%02x", tableID))
		return nil
	}
	if crc32MPEG2(s[:n]) != 0 {
		d.decodeError(fmt.Errorf("MPEG-TS: table 0x%02x: CRC mismatch", tableID))
		return nil
	}
	if s[5]&0x01 == 0 {
		return nil // current_next_indicator 0: not valid yet
	}
	return s[8 : n-4]
}

// pat finds the first program's PMT PID (§2.4.4.3).
func (d *tsDemuxer) pat(payload []byte) {
	s := d.section(payload, 0x00)
	for ; len(s) >= 4; s = s[4:] {
		program := int(s[0])<<8 | int(s[1])
		if program != 0 { // 0 is the network PID
			d.pmtPID = int(s[2]&0x1f)<<8 | int(s[3])
			return
		}
	}
}

// pmt fixes the demuxer's streams from the program's first PMT (§2.4.4.8):
// the first H.264 and the first AAC ADTS stream.
func (d *tsDemuxer) pmt(payload []byte) error {
	s := d.section(payload, 0x02)
	if len(s) < 4 {
		return nil
	}
	info := int(s[2]&0x0f)<<8 | int(s[3])
	if 4+info > len(s) {
		d.decodeError(errors.New("MPEG-TS: PMT program_info_length beyond the section"))
		return nil
	}
	video, audio := -1, -1
	for s = s[4+info:]; len(s) >= 5; {
		typ, pid := s[0], int(s[1]&0x1f)<<8|int(s[2])
		n := 5 + (int(s[3]&0x0f)<<8 | int(s[4]))
		if n > len(s) {
			d.decodeError(errors.New("MPEG-TS: PMT ES_info_length beyond the section"))
			return nil
		}
		switch {
		case typ == tsStreamTypeH264 && video < 0:
			video = pid
		case typ == tsStreamTypeAAC && audio < 0:
			audio = pid
		}
		s = s[n:]
	}
	if video < 0 && audio < 0 {
		return errors.New("MPEG-TS: the program has neither H.264 nor AAC")
	}
	d.video.pid, d.audio.pid, d.haveTracks = video, audio, true
	return nil
}

// pes adds one packet's payload to the stream's PES (§2.4.3.6) and passes
// a complete PES on.
func (d *tsDemuxer) pes(st *tsStream, pusi bool, cc int, discontinuity bool, payload []byte) error {
	if st.cc >= 0 && !discontinuity {
		switch cc {
		case st.cc:
			return nil // a duplicate packet (§2.4.3.3 allows one)
		case (st.cc + 1) & 0xf:
		default:
			msg := ""
			if st.active {
				msg = ": PES dropped"
			}
			d.decodeError(fmt.Errorf("MPEG-TS: PID %d: continuity counter %d after %d: packets lost%s", st.pid, cc, st.cc, msg))
			st.active = false
		}
	}
	st.cc = cc
	if pusi {
		if st.active {
			if err := d.complete(st); err != nil {
				return err
			}
		}
		st.active, st.lengthK, st.length, st.buf = true, false, 0, st.buf[:0]
	}
	if !st.active {
		return nil // the rest of a PES whose start was lost
	}
	if len(st.buf)+len(payload) > tsMaxPES {
		d.decodeError(fmt.Errorf("MPEG-TS: PID %d: PES larger than %d bytes: dropped", st.pid, tsMaxPES))
		st.active = false
		return nil
	}
	st.buf = append(st.buf, payload...)
	if !st.lengthK && len(st.buf) >= 6 {
		if st.buf[0] != 0 || st.buf[1] != 0 || st.buf[2] != 1 {
			d.decodeError(fmt.Errorf("MPEG-TS: PID %d: no PES start code", st.pid))
			st.active = false
			return nil
		}
		st.lengthK = true
		if n := int(st.buf[4])<<8 | int(st.buf[5]); n > 0 {
			st.length = 6 + n
		}
	}
	if st.length > 0 && len(st.buf) >= st.length {
		// a bounded PES (audio) goes on at once, not at the next one's start
		return d.complete(st)
	}
	return nil
}

// flush passes on the PES packets still open at the end of the input, in
// PID order like go-astits did.
func (d *tsDemuxer) flush() error {
	first, second := &d.video, &d.audio
	if second.pid < first.pid {
		first, second = second, first
	}
	for _, st := range []*tsStream{first, second} {
		if st.active {
			if err := d.complete(st); err != nil {
				return err
			}
		}
	}
	return nil
}

// complete parses a reassembled PES and passes its access units on.
func (d *tsDemuxer) complete(st *tsStream) error {
	st.active = false
	b := st.buf
	if st.length > 0 {
		if len(b) < st.length {
			d.decodeError(fmt.Errorf("MPEG-TS: PID %d: PES truncated (%d of %d bytes)", st.pid, len(b), st.length))
			return nil
		}
		b = b[:st.length]
	}
	pts, dts, data, err := parsePES(b)
	if err != nil {
		d.decodeError(fmt.Errorf("MPEG-TS: PID %d: %w", st.pid, err))
		return nil
	}
	if st == &d.video {
		return d.videoAU(pts, data)
	}
	if pts != dts {
		d.decodeError(fmt.Errorf("MPEG-TS: PID %d: audio PTS is not equal to DTS", st.pid))
		return nil
	}
	return d.audioPES(pts, data)
}

// parsePES returns the PTS, DTS (the PTS when absent) and payload of one PES
// packet (§2.4.3.6, §2.4.3.7).
func parsePES(b []byte) (pts, dts int64, data []byte, err error) {
	if len(b) < 9 || b[0] != 0 || b[1] != 0 || b[2] != 1 {
		return 0, 0, nil, errors.New("not a PES packet")
	}
	switch b[3] {
	case 0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff: // no optional header: no PTS
		return 0, 0, nil, errors.New("PTS is missing")
	}
	if b[6]&0xc0 != 0x80 {
		return 0, 0, nil, errors.New("malformed PES header")
	}
	hl := int(b[8])
	if 9+hl > len(b) {
		return 0, 0, nil, errors.New("PES header longer than the packet")
	}
	switch b[7] >> 6 {
	case 0x2:
		if hl < 5 {
			return 0, 0, nil, errors.New("PES header too short for its PTS")
		}
		pts = tsClock(b[9:14])
		dts = pts
	case 0x3:
		if hl < 10 {
			return 0, 0, nil, errors.New("PES header too short for its PTS and DTS")
		}
		pts, dts = tsClock(b[9:14]), tsClock(b[14:19])
	default:
		return 0, 0, nil, errors.New("PTS is missing")
	}
	return pts, dts, b[9+hl:], nil
}

// tsClock decodes a 33-bit PTS or DTS field, marker bits ignored.
func tsClock(b []byte) int64 {
	return int64(b[0]>>1&0x7)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}

// videoAU splits one H.264 access unit (Annex B) into NALUs, as
// h264.AnnexB.Unmarshal does, into a reused slice.
func (d *tsDemuxer) videoAU(pts int64, data []byte) error {
	au, err := splitAnnexB(d.nalus[:0], data)
	d.nalus = au[:0]
	if err != nil {
		d.decodeError(fmt.Errorf("MPEG-TS: H.264: %w", err))
		return nil
	}
	if au[0][0] == byte(h264.NALUTypeAccessUnitDelimiter) {
		au = au[1:]
		if len(au) == 0 {
			return nil
		}
	}
	for i, nalu := range au {
		if h264.NALUType(nalu[0]&0x1f) == h264.NALUTypeSPS {
			// the PES buffer is reused, but gohlslib's DTS extractor keeps a
			// reference to the last SPS and compares the next one with it
			if !bytes.Equal(nalu, d.sps) {
				d.sps = bytes.Clone(nalu)
			}
			au[i] = d.sps
		}
	}
	return d.onH264(pts, au)
}

// splitAnnexB appends the NALUs of an Annex-B access unit to au (ITU-T
// H.264 Annex B): mediacommon's h264.AnnexB.Unmarshal without allocations.
func splitAnnexB(au [][]byte, buf []byte) ([][]byte, error) {
	var pos int
	switch {
	case len(buf) >= 4 && buf[0] == 0 && buf[1] == 0 && buf[2] == 0 && buf[3] == 1:
		pos = 4
	case len(buf) >= 3 && buf[0] == 0 && buf[1] == 0 && buf[2] == 1:
		pos = 3
	default:
		return au, h264.ErrAnnexBNoInitialDelimiter
	}
	size := 0
	for pos < len(buf) {
		i := indexStartCode(buf[pos:])
		if i < 0 {
			size += len(buf) - pos
			au = append(au, buf[pos:])
			break
		}
		end := pos + i
		if i > 0 && buf[end-1] == 0 {
			end-- // a 4-byte start code
		}
		if end > pos {
			size += end - pos
			au = append(au, buf[pos:end])
		}
		pos += i + 3
	}
	switch {
	case len(au) == 0:
		return au, h264.ErrAnnexBNoNALUs
	case size > h264.MaxAccessUnitSize:
		return au, fmt.Errorf("access unit size (%d) is too big, maximum is %d", size, h264.MaxAccessUnitSize)
	case len(au) > h264.MaxNALUsPerAccessUnit:
		return au, fmt.Errorf("NALU count (%d) exceeds maximum allowed (%d)", len(au), h264.MaxNALUsPerAccessUnit)
	}
	return au, nil
}

// indexStartCode returns the index of the first 00 00 01 in b, or -1.
func indexStartCode(b []byte) int {
	for off := 0; ; {
		i := bytes.IndexByte(b[off:], 1)
		if i < 0 {
			return -1
		}
		j := off + i
		if j >= 2 && b[j-1] == 0 && b[j-2] == 0 {
			return j - 2
		}
		off = j + 1
	}
}

// audioPES splits one PES of ADTS frames (ISO/IEC 14496-3 1.A.2) into access
// units, with the checks of mediacommon's ADTSPackets.Unmarshal. The stream's
// configuration is the one of its first frame.
func (d *tsDemuxer) audioPES(pts int64, data []byte) error {
	aus := d.aus[:0]
	total := 0
	var first mpeg4audio.AudioSpecificConfig
	for pos := 0; ; {
		b := data[pos:]
		if len(b) < 8 {
			d.decodeError(errors.New("MPEG-TS: invalid ADTS: invalid length"))
			return nil
		}
		conf, n, err := parseADTS(b)
		if err != nil {
			d.decodeError(fmt.Errorf("MPEG-TS: invalid ADTS: %w", err))
			return nil
		}
		if pos == 0 {
			first = conf
		}
		aus = append(aus, b[7:7+n])
		total += n
		pos += 7 + n
		if pos == len(data) {
			break
		}
	}
	d.aus = aus[:0]
	if !d.confSet {
		d.conf, d.confSet = first, true
	}
	// the PES buffer is reused, but gohlslib keeps the AUs: they are copied
	// to a slab whose bytes are never written twice (a slab stays alive as
	// long as gohlslib keeps one of its AUs, about a segment's worth)
	if cap(d.slab)-len(d.slab) < total {
		d.slab = make([]byte, 0, max(tsAudioSlab, total))
	}
	for i, au := range aus {
		d.slab = append(d.slab, au...)
		aus[i] = d.slab[len(d.slab)-len(au) : len(d.slab) : len(d.slab)]
	}
	return d.onAAC(&d.conf, pts, aus)
}

// parseADTS reads one ADTS header (which has at least 8 bytes behind it)
// and returns the configuration and the length of the access unit after
// the 7-byte header.
func parseADTS(b []byte) (mpeg4audio.AudioSpecificConfig, int, error) {
	var c mpeg4audio.AudioSpecificConfig
	if b[0] != 0xff || b[1]&0xf0 != 0xf0 {
		return c, 0, errors.New("invalid syncword")
	}
	if b[1]&0x01 != 1 {
		return c, 0, errors.New("CRC is not supported")
	}
	c.Type = mpeg4audio.ObjectType(b[2]>>6 + 1)
	sri := b[2] >> 2 & 0x0f
	if sri > 12 {
		return c, 0, fmt.Errorf("invalid sample rate index: %d", sri)
	}
	c.SampleRate = adtsSampleRates[sri]
	c.ChannelConfig = (b[2]&0x01)<<2 | b[3]>>6&0x03
	if c.ChannelConfig > 7 {
		return c, 0, fmt.Errorf("unsupported channel configuration: %d", c.ChannelConfig)
	}
	n := (int(b[3]&0x03)<<11 | int(b[4])<<3 | int(b[5]>>5)) - 7
	switch {
	case n <= 0:
		return c, 0, errors.New("invalid FrameLen")
	case n > mpeg4audio.MaxAccessUnitSize:
		return c, 0, fmt.Errorf("access unit size (%d) is too big, maximum is %d", n, mpeg4audio.MaxAccessUnitSize)
	case b[6]&0x03 != 0:
		return c, 0, errors.New("frame count greater than 1 is not supported")
	case len(b)-7 < n:
		return c, 0, errors.New("invalid frame length")
	}
	return c, n, nil
}

// adtsSampleRates are the sampling_frequency_index values 0..12 (ISO/IEC
// 14496-3 Table 1.18).
var adtsSampleRates = [13]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// crc32MPEG2 is the CRC of PSI sections (ISO/IEC 13818-1 Annex A:
// polynomial 0x04C11DB7, initial value all ones, no reflection); it is 0
// over a section including its CRC_32 field. Bitwise: only the PAT and the
// first PMT of a run are checked.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, c := range b {
		crc ^= uint32(c) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}
