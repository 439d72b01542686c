package remux

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/mmsgate/mmsgate/asf"
)

// directRemux turns H.264 and AAC carried in ASF into HLS without ffmpeg:
// media objects are reassembled from the packets, access units handed to the
// channel's HLS output with their ASF presentation times. When the codec
// parameters differ from the channel's (a new SPS, another AAC
// configuration), it says so and the pipeline switches the channel to
// transcoding rather than break the fMP4 init segment.
type directRemux struct {
	hls          *hlsOutput
	video, audio *asf.StreamProperties
	ra           *asf.Reassembler
	conf         *mpeg4audio.AudioSpecificConfig
	td           wrapDecoder // 32-bit ASF milliseconds, shared by both streams
	needKey      bool        // skip video until an IDR (start of a run, after a gap)
	runOpen      bool        // the run's first IDR was written: audio flows
	sps, pps     []byte      // from the H.264 stream, for access units that lack them
	objects      int64
}

// errSwitch means: this entry cannot go on without ffmpeg.
type errSwitch struct{ reason string }

func (e *errSwitch) Error() string { return "switch to transcoding: " + e.reason }

func newDirectRemux(hls *hlsOutput, h *asf.Header, es entryStreams) (*directRemux, error) {
	d := &directRemux{hls: hls, video: es.video, audio: es.audio, ra: asf.NewReassembler(h),
		td: wrapDecoder{bits: 32}, needKey: true}
	if es.audio != nil {
		var c mpeg4audio.AudioSpecificConfig
		if err := c.Unmarshal(es.audio.Audio.CodecData); err != nil {
			return nil, &errSwitch{reason: fmt.Sprintf("AAC configuration unreadable: %v", err)}
		}
		if c.Type != mpeg4audio.ObjectTypeAACLC {
			return nil, &errSwitch{reason: fmt.Sprintf("AAC object type %d is not AAC-LC", c.Type)}
		}
		if cur := hls.audioConfig(); cur != nil && !sameAAC(cur, &c) {
			return nil, &errSwitch{reason: "AAC parameters differ from the channel's"}
		}
		d.conf = &c
		hls.presetAudio(&c)
	}
	if es.video != nil {
		if err := d.codecData(videoCodecData(es.video)); err != nil {
			return nil, err
		}
	}
	hls.beginRun()
	return d, nil
}

// codecData takes SPS and PPS from the stream's codec data: Annex-B (what
// ffmpeg writes) or an avcC record.
func (d *directRemux) codecData(cd []byte) error {
	if len(cd) == 0 {
		return nil
	}
	var nalus [][]byte
	var au h264.AnnexB
	if err := au.Unmarshal(cd); err == nil {
		nalus = au
	} else if len(cd) > 7 && cd[0] == 1 {
		nalus = avcCParameterSets(cd)
	}
	for _, n := range nalus {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if cur := d.hls.currentSPS(); cur != nil && !bytes.Equal(cur, n) {
				return &errSwitch{reason: "H.264 SPS differs from the channel's"}
			}
			d.sps = append([]byte(nil), n...)
		case h264.NALUTypePPS:
			d.pps = append([]byte(nil), n...)
		}
	}
	return nil
}

// avcCParameterSets returns the SPS and PPS of an AVCDecoderConfigurationRecord.
func avcCParameterSets(b []byte) [][]byte {
	var out [][]byte
	pos := 5
	for _, count := range []int{1, 1} {
		_ = count
		if pos >= len(b) {
			return out
		}
		n := int(b[pos] & 0x1f)
		if len(out) > 0 {
			n = int(b[pos]) // PPS count is a full byte
		}
		pos++
		for range n {
			if pos+2 > len(b) {
				return out
			}
			l := int(b[pos])<<8 | int(b[pos+1])
			pos += 2
			if pos+l > len(b) {
				return out
			}
			out = append(out, b[pos:pos+l])
			pos += l
		}
	}
	return out
}

// discontinuity ends the run: the open segment is closed (its media reaches
// the playlist now, not when media comes again) and the next sample starts
// a new run at the channel's end.
func (d *directRemux) discontinuity() {
	d.hls.endRun()
	d.ra.Reset()
	d.td = wrapDecoder{bits: 32}
	d.needKey, d.runOpen = true, false
	d.hls.beginRun()
}

// push adds one packet. An *errSwitch error asks for transcoding from here on.
func (d *directRemux) push(pkt *asf.Packet) error {
	objs, err := d.ra.Push(pkt) // gaps drop the damaged objects; the rest is valid
	if err != nil && d.video != nil {
		d.needKey = true // a lost video frame breaks every frame until the next IDR
	}
	for _, o := range objs {
		d.objects++
		if err := d.object(o); err != nil {
			return err
		}
	}
	return nil
}

func (d *directRemux) object(o asf.MediaObject) error {
	switch {
	case d.video != nil && uint16(o.StreamNumber) == d.video.StreamNumber:
		return d.videoObject(o)
	case d.audio != nil && uint16(o.StreamNumber) == d.audio.StreamNumber:
		if !d.runOpen && d.video != nil {
			return nil // audio waits for the video key frame that opens the run
		}
		pts := d.td.decode(uint64(o.PresentationTime)) * clock90k / 1000
		return softDirect(d.hls.writeAAC(d.conf, pts, [][]byte{o.Data}))
	}
	return nil
}

func (d *directRemux) videoObject(o asf.MediaObject) error {
	var au h264.AnnexB
	if err := au.Unmarshal(o.Data); err != nil {
		var avcc h264.AVCC
		if err2 := avcc.Unmarshal(o.Data); err2 != nil {
			return nil // a damaged frame: skip it
		}
		au = h264.AnnexB(avcc)
	}
	idr := h264.IsRandomAccess(au)
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			if d.sps != nil && !bytes.Equal(d.sps, nalu) {
				return &errSwitch{reason: "H.264 SPS changed mid-stream"}
			}
			if cur := d.hls.currentSPS(); cur != nil && !bytes.Equal(cur, nalu) {
				return &errSwitch{reason: "H.264 SPS differs from the channel's"}
			}
			d.sps = append([]byte(nil), nalu...)
		case h264.NALUTypePPS:
			if d.pps != nil && !bytes.Equal(d.pps, nalu) {
				return &errSwitch{reason: "H.264 PPS changed mid-stream"}
			}
			d.pps = append([]byte(nil), nalu...)
		}
	}
	if d.needKey {
		if !idr {
			return nil
		}
		d.needKey, d.runOpen = false, true
	}
	if idr && d.sps != nil && d.pps != nil && !hasNALU(au, h264.NALUTypeSPS) {
		au = append([][]byte{d.sps, d.pps}, au...)
	}
	pts := d.td.decode(uint64(o.PresentationTime)) * clock90k / 1000
	return softDirect(d.hls.writeH264(pts, au))
}

func hasNALU(au [][]byte, typ h264.NALUType) bool {
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == typ {
			return true
		}
	}
	return false
}

// softDirect keeps a sample's write error from stopping the channel.
func softDirect(err error) error {
	if err == nil || errors.Is(err, errHLSClosed) {
		return err
	}
	return nil
}
