package remux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/mmsgate/mmsgate/event"
)

// errHLSClosed is returned by writes after the pipeline closed.
var errHLSClosed = errors.New("remux: HLS output closed")

// hlsOutput owns the channel's one gohlslib.Muxer and its one timeline, for
// the channel's whole life: viewers keep their playlist across upstream
// reconnects, playlist entries and transcoder restarts.
//
// The muxer starts once the tracks are complete: gohlslib needs the H.264
// SPS and PPS before Start (the init segment and the multivariant playlist
// are built from them), and the MPEG-TS reader gives a codec without them,
// so they are taken from the first IDR access unit.
type hlsOutput struct {
	opts    Options
	log     *slog.Logger
	onEvent event.Func

	wmu sync.Mutex // serialises writes: gohlslib's segmenter is not safe for concurrent writers

	mu         sync.Mutex
	ready      chan struct{} // closed when the muxer started
	content    chan struct{} // closed when the playlists have content (see segmentCounter)
	done       chan struct{} // closed by close
	blocked    chan struct{} // a slot per LL-HLS request held inside gohlslib (serveBlocking)
	segs       segmentCounter
	closed     bool
	configured bool
	wantVideo  bool
	wantAudio  bool
	sps, pps   []byte
	audioConf  *mpeg4audio.AudioSpecificConfig
	muxer      *gohlslib.Muxer
	video      *gohlslib.Track
	audio      *gohlslib.Track
	tl         timeline
	startWall  time.Time
	edgeWall   time.Time // when the newest complete segment was cut (see edgeAge)
	samples    int64     // samples written, for tests and stats

	// for endRun
	dtsx     *h264.DTSExtractor // mirrors gohlslib's, whose DTS decide segment cuts
	lastIDR  [][]byte           // the open segment's IDR access unit, with SPS and PPS
	lastDTS  int64              // DTS (90 kHz) of the last video sample written
	open     bool               // samples were written since the last endRun
	closings int                // segments closed by endRun, for tests and stats
}

// edgeAge is how old the newest media that players can fetch is: the time
// since the newest segment was completed, which happened as the sample after
// it (the next random access point) was written. 0 before the first segment.
func (h *hlsOutput) edgeAge(now time.Time) time.Duration {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.edgeWall.IsZero() {
		return 0
	}
	return max(now.Sub(h.edgeWall), 0)
}

func newHLSOutput(opts Options) *hlsOutput {
	return &hlsOutput{
		opts:    opts,
		log:     opts.Logger,
		onEvent: opts.OnEvent,
		ready:   make(chan struct{}),
		content: make(chan struct{}),
		done:    make(chan struct{}),
		blocked: make(chan struct{}, opts.maxBlocked),
	}
}

// setTracks fixes the channel's tracks. Only the first call counts: the
// output parameters are held for the channel's life, and producers conform.
func (h *hlsOutput) setTracks(video, audio bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.configured || (!video && !audio) {
		return
	}
	h.configured = true
	h.wantVideo, h.wantAudio = video, audio
}

// presetAudio fixes the audio configuration before the first audio sample,
// so that the muxer can start at the first video key frame.
func (h *hlsOutput) presetAudio(conf *mpeg4audio.AudioSpecificConfig) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.audioConf == nil && h.wantAudio {
		c := *conf
		h.audioConf = &c
	}
}

// sameAAC reports whether two configurations give the same init segment.
func sameAAC(a, b *mpeg4audio.AudioSpecificConfig) bool {
	return a.Type == b.Type && a.SampleRate == b.SampleRate && a.ChannelConfig == b.ChannelConfig
}

// audioConfig returns the fixed audio configuration once known.
func (h *hlsOutput) audioConfig() *mpeg4audio.AudioSpecificConfig {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.audioConf
}

// currentSPS returns the SPS of the channel's init segment once known.
func (h *hlsOutput) currentSPS() []byte {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.muxer == nil {
		return nil
	}
	return h.sps
}

// beginRun starts a new producer run: its first sample goes where the
// channel's timeline ends.
func (h *hlsOutput) beginRun() {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	h.mu.Lock()
	h.tl.beginRun()
	h.mu.Unlock()
}

// writeH264 writes one access unit with producer time pts (90 kHz).
func (h *hlsOutput) writeH264(pts int64, au [][]byte) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errHLSClosed
	}
	if !h.wantVideo {
		h.mu.Unlock()
		return nil
	}
	if h.muxer == nil {
		if !h264.IsRandomAccess(au) {
			h.mu.Unlock()
			return nil // wait for the first IDR
		}
		for _, nalu := range au {
			if len(nalu) == 0 {
				continue
			}
			switch h264.NALUType(nalu[0] & 0x1f) {
			case h264.NALUTypeSPS:
				h.sps = append([]byte(nil), nalu...)
			case h264.NALUTypePPS:
				h.pps = append([]byte(nil), nalu...)
			}
		}
		if h.sps == nil || h.pps == nil {
			h.mu.Unlock()
			return nil
		}
		if err := h.startLocked(); err != nil || h.muxer == nil {
			h.mu.Unlock()
			return err
		}
	}
	c := h.tl.video(pts)
	h.trackVideoLocked(c, au)
	m, tr, ntp := h.muxer, h.video, h.startWall.Add(time.Duration(c)*time.Second/clock90k)
	h.samples++
	h.open = true
	h.mu.Unlock()
	// h.mu is released so that playlist requests never wait for a write.
	if err := m.WriteH264(tr, ntp, c, au); err != nil {
		return fmt.Errorf("remux: HLS H.264 write: %w", err)
	}
	return nil
}

// writeAAC writes AAC-LC access units (one PES) with producer time pts (90 kHz).
func (h *hlsOutput) writeAAC(conf *mpeg4audio.AudioSpecificConfig, pts int64, aus [][]byte) error {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return errHLSClosed
	}
	if !h.wantAudio || len(aus) == 0 {
		h.mu.Unlock()
		return nil
	}
	if h.audioConf == nil {
		c := *conf
		h.audioConf = &c
	} else if !sameAAC(h.audioConf, conf) {
		h.mu.Unlock()
		return fmt.Errorf("remux: AAC parameters changed from %d Hz/%d ch to %d Hz/%d ch",
			h.audioConf.SampleRate, h.audioConf.ChannelConfig, conf.SampleRate, conf.ChannelConfig)
	}
	if h.muxer == nil {
		if err := h.startLocked(); err != nil || h.muxer == nil {
			h.mu.Unlock()
			return err
		}
	}
	rate := h.audioConf.SampleRate
	c, ok := h.tl.audio(pts, rate, len(aus))
	if !ok {
		h.mu.Unlock()
		return nil
	}
	if !h.wantVideo {
		for i := range aus {
			h.countLocked(c+int64(i)*aacFrameSamples, rate, true)
		}
	}
	m, tr := h.muxer, h.audio
	ntp := h.startWall.Add(time.Duration(c) * time.Second / time.Duration(rate))
	h.samples += int64(len(aus))
	h.open = true
	h.mu.Unlock()
	// one call per access unit: the MPEG-TS variant counts calls, not
	// access units, when it decides to cut an audio-only segment.
	for i, au := range aus {
		pos := c + int64(i)*aacFrameSamples
		err := m.WriteMPEG4Audio(tr, ntp.Add(time.Duration(i*aacFrameSamples)*time.Second/time.Duration(rate)), pos, [][]byte{au})
		if err != nil {
			return fmt.Errorf("remux: HLS AAC write: %w", err)
		}
	}
	return nil
}

// startLocked starts the muxer when every wanted track is known.
func (h *hlsOutput) startLocked() error {
	if (h.wantVideo && h.sps == nil) || (h.wantAudio && h.audioConf == nil) {
		return nil
	}
	m := &gohlslib.Muxer{
		SegmentCount:       h.opts.SegmentCount,
		SegmentMinDuration: h.opts.SegmentDuration,
		PartMinDuration:    h.opts.PartDuration,
		Directory:          h.opts.Dir,
		OnEncodeError: func(err error) {
			h.log.Warn("HLS muxer", "error", err)
		},
	}
	switch {
	case h.opts.Outputs.LLHLS:
		m.Variant = gohlslib.MuxerVariantLowLatency
	case h.opts.Variant == VariantMPEGTS:
		m.Variant = gohlslib.MuxerVariantMPEGTS
	default:
		m.Variant = gohlslib.MuxerVariantFMP4
	}
	if h.wantVideo {
		h.video = &gohlslib.Track{Codec: &codecs.H264{SPS: h.sps, PPS: h.pps}, ClockRate: clock90k}
		m.Tracks = append(m.Tracks, h.video)
	}
	if h.wantAudio {
		h.audio = &gohlslib.Track{Codec: &codecs.MPEG4Audio{Config: *h.audioConf}, ClockRate: h.audioConf.SampleRate}
		m.Tracks = append(m.Tracks, h.audio)
	}
	if h.opts.Dir != "" {
		if err := os.MkdirAll(h.opts.Dir, 0o755); err != nil {
			return fmt.Errorf("remux: HLS directory: %w", err)
		}
	}
	if err := m.Start(); err != nil {
		return fmt.Errorf("remux: starting HLS muxer: %w", err)
	}
	h.muxer = m
	h.startWall = time.Now()
	close(h.ready)
	h.log.Info("HLS muxer started", "video", h.wantVideo, "audio", h.wantAudio, "variant", h.opts.Variant)
	return nil
}

// segmentCounter follows gohlslib's segmenter from outside: the leading
// track (video, else audio) cuts a segment at a random access sample whose
// DTS is at least SegmentMinDuration after the segment's start (and, in
// MPEG-TS, after 100 audio access units when audio leads). gohlslib's
// playlist handlers wait for content without watching the request's
// context, so requests are only handed to them once the playlists have
// content (fMP4: two segments). endRun uses it to know what closes the open
// segment.
type segmentCounter struct {
	started bool
	start   time.Duration // DTS of the open segment's first leading sample, as gohlslib computes it
	aus     int           // leading audio access units in it
	cut     int           // segments completed
}

// mpegtsSegmentMinAUs is gohlslib's mpegtsSegmentMinAUCount.
const mpegtsSegmentMinAUs = 100

// tsDuration converts a timestamp like gohlslib's timestampToDuration.
func tsDuration(ts int64, clockRate int) time.Duration {
	secs, dec := ts/int64(clockRate), ts%int64(clockRate)
	return time.Duration(secs)*time.Second + time.Duration(dec)*time.Second/time.Duration(clockRate)
}

// countLocked follows one sample of the leading track: ts is its DTS in
// clockRate units.
func (h *hlsOutput) countLocked(ts int64, clockRate int, random bool) {
	sc := &h.segs
	d := tsDuration(ts, clockRate)
	if !sc.started {
		sc.started, sc.start, sc.aus = true, d, 1
		return
	}
	mpegtsAudio := !h.wantVideo && h.opts.Variant == VariantMPEGTS && !h.opts.Outputs.LLHLS
	if !random || d-sc.start < h.opts.SegmentDuration || (mpegtsAudio && sc.aus < mpegtsSegmentMinAUs) {
		sc.aus++
		return
	}
	sc.cut++
	sc.start, sc.aus = d, 1
	h.edgeWall = time.Now()
	need := 2
	if h.opts.Outputs.LLHLS || h.opts.Variant == VariantMPEGTS {
		need = 1
	}
	if sc.cut == need {
		close(h.content)
	}
}

// trackVideoLocked follows a video access unit at channel time pts as
// gohlslib's segmenter sees it: access units without a picture are skipped,
// the DTS comes from the same extractor, and the last IDR access unit is
// kept for endRun.
func (h *hlsOutput) trackVideoLocked(pts int64, au [][]byte) {
	idr, picture := false, false
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeIDR:
			idr, picture = true, true
		case h264.NALUTypeNonIDR:
			picture = true
		}
	}
	if !picture {
		return
	}
	if h.dtsx == nil {
		h.dtsx = &h264.DTSExtractor{} // the muxer starts at an IDR, like gohlslib's extractor
		h.dtsx.Initialize()
	}
	dts, err := h.dtsx.Extract(au, pts)
	if err != nil {
		return // gohlslib drops the sample too
	}
	h.lastDTS = dts
	if idr {
		h.lastIDR = cloneAU(h.lastIDR[:0], au)
	}
	h.countLocked(dts, clock90k, idr)
}

// cloneAU copies an access unit into one buffer, reusing dst's array.
func cloneAU(dst [][]byte, au [][]byte) [][]byte {
	n := 0
	for _, nalu := range au {
		n += len(nalu)
	}
	buf := make([]byte, 0, n)
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		start := len(buf)
		buf = append(buf, nalu...)
		dst = append(dst, buf[start:len(buf):len(buf)])
	}
	return dst
}

// maxAudioFill bounds the silence endRun writes beside video: audio that
// stopped long before the video leaves a gap rather than seconds of filler.
const maxAudioFill = 4 * time.Second

// endRun closes the open segment at the end of a producer run (a file played
// to its end, the upstream gone, ffmpeg drained). gohlslib cuts a segment
// only when the next random-access sample arrives at least
// SegmentMinDuration after the segment's start, so without this the run's
// last seconds would stay out of the playlist until media comes again,
// maybe never.
//
// It writes one closing sample on the leading track, at a time T no earlier
// than the segment's start plus SegmentMinDuration and after everything
// written; the last real frame is stretched up to T (players show a freeze):
//
//   - video: a copy of the open segment's IDR access unit. It opens the next
//     segment (in fMP4 gohlslib holds it until the next sample gives its
//     duration, in MPEG-TS it is written there at once), and the timeline
//     starts the next run one 90 kHz tick after it, so the copy is on screen
//     for 1/90000 s, never really shown; when no run follows it is never
//     written at all. Audio beside video is padded with silent AAC frames up
//     to T, which also pushes gohlslib's held-back last audio frame out.
//   - audio only: silent AAC frames from where the audio ended until one of
//     them cuts the segment (MPEG-TS also wants 100 access units); that one
//     opens the next segment, which is silence.
//
// Low-Latency HLS before the first cut is left alone: gohlslib derives the
// part length from the sample durations until then and would fix a part
// target as long as the stretched frame for the channel's life.
//
// Call it when a run ends with no successor in sight: the upstream gone
// (Pipeline.Discontinuity), the input idle. Not at a new header: the next
// entry's first key frame closes the segment within a second or so, while
// endRun would add a freeze of up to a segment at every entry change.
//
// It is safe to call when nothing was written since the last call (nothing
// happens) and after close.
func (h *hlsOutput) endRun() {
	h.wmu.Lock()
	defer h.wmu.Unlock()
	h.mu.Lock()
	skip := h.closed || h.muxer == nil || !h.open || !h.segs.started ||
		(h.opts.Outputs.LLHLS && h.segs.cut == 0)
	var w []func() error
	if !skip {
		h.open = false
		if h.wantVideo {
			w = h.closeVideoLocked()
		} else {
			w = h.closeAudioLocked()
		}
		if len(w) > 0 {
			h.closings++
		}
	}
	h.tl.beginRun()
	h.mu.Unlock()
	// h.mu is released so that playlist requests never wait for a write.
	for _, f := range w {
		if err := f(); err != nil {
			h.log.Warn("HLS closing sample", "error", err)
			return
		}
	}
}

// ntpLocked is the wall time gohlslib is given for channel time ts.
func (h *hlsOutput) ntpLocked(ts int64, clockRate int) time.Time {
	return h.startWall.Add(tsDuration(ts, clockRate))
}

// closeVideoLocked plans endRun's writes for a channel led by video.
func (h *hlsOutput) closeVideoLocked() []func() error {
	if h.lastIDR == nil || h.dtsx == nil {
		return nil
	}
	target := h.segs.start + h.opts.SegmentDuration
	var w []func() error
	if h.opts.Outputs.LLHLS {
		w = h.bridgeVideoLocked(durationTo90k(target))
	}
	t := max(h.tl.end, h.tl.lastVideo+1, durationTo90k(target))
	// the DTS of the copy decides the cut; with B-frames it lags the PTS
	var (
		dts int64
		x   h264.DTSExtractor // a trial copy; kept once its DTS fits
		ok  bool
	)
	for range 64 {
		x = *h.dtsx
		d, err := x.Extract(h.lastIDR, t)
		if err != nil {
			return nil
		}
		if tsDuration(d, clock90k) >= target && d > h.lastDTS {
			dts, ok = d, true
			break
		}
		t += max(durationTo90k(target)-d, h.lastDTS+1-d, 1)
	}
	if !ok {
		h.log.Debug("HLS: no time found for the closing sample")
		return nil
	}
	if h.wantAudio && h.tl.haveAudio && h.audioConf != nil {
		w = append(w, h.fillAudioLocked(t)...)
	}
	return append(w, h.idrCopyLocked(&x, t, dts))
}

// idrCopyLocked plans the write of a copy of the segment's IDR at channel
// time t with DTS dts, x being the DTS extractor that gave it (it becomes
// the mirror's, as gohlslib's advances with the write).
func (h *hlsOutput) idrCopyLocked(x *h264.DTSExtractor, t, dts int64) func() error {
	*h.dtsx = *x
	h.lastDTS = dts
	h.countLocked(dts, clock90k, true)
	h.tl.closeVideo(t)
	m, tr, ntp, au := h.muxer, h.video, h.ntpLocked(t, clock90k), h.lastIDR
	return func() error { return m.WriteH264(tr, ntp, t, au) }
}

// bridgeVideoLocked plans, for Low-Latency HLS, copies of the segment's
// IDR at the stream's frame interval from the last frame up to (not
// including) the closing time: the samples keep their cadence, so gohlslib
// cuts parts exactly as before and no part grows longer than the part
// target (RFC 8216bis: a Partial Segment must not exceed PART-TARGET;
// gohlslib would raise the target for as long as a stretched part stays in
// the playlist). A sparser cadence would not do: parts are cut at the first
// sample a part duration after the part's start, which a copy one part
// after the last frame overshoots. The cost is a segment's worth of key
// frames once per feed end. Audio is filled with silence up to each copy
// so that every part carries both tracks. Copies stop before the segment's
// end: only the closing sample may cut it.
func (h *hlsOutput) bridgeVideoLocked(end int64) []func() error {
	step := h.tl.videoDur
	if part := durationTo90k(h.opts.PartDuration); step <= 1 || step > part {
		step = part
	}
	if step <= 0 {
		return nil
	}
	var w []func() error
	for ti := h.tl.lastVideo + step; ti+step <= end && len(w) < 1024; ti += step {
		x := *h.dtsx
		d, err := x.Extract(h.lastIDR, ti)
		if err != nil || d <= h.lastDTS || d >= end {
			continue
		}
		if h.wantAudio && h.tl.haveAudio && h.audioConf != nil &&
			h.tl.nextAudio*clock90k/int64(h.audioConf.SampleRate) < ti {
			w = append(w, h.fillAudioLocked(ti)...)
		}
		w = append(w, h.idrCopyLocked(&x, ti, d))
	}
	return w
}

// fillAudioLocked plans silent AAC frames from where the audio ended up to
// the video's closing time t (90 kHz), at least one: gohlslib holds each
// track's last sample back until the next one gives its duration.
func (h *hlsOutput) fillAudioLocked(t int64) []func() error {
	conf := h.audioConf
	silent := silentAAC(conf.ChannelConfig)
	if silent == nil {
		return nil
	}
	rate := int64(conf.SampleRate)
	until := (t*rate + clock90k - 1) / clock90k
	pos := max(h.tl.nextAudio, until-int64(maxAudioFill.Seconds()*float64(rate)))
	var w []func() error
	for {
		p := pos
		m, tr, ntp := h.muxer, h.audio, h.ntpLocked(p, int(rate))
		w = append(w, func() error { return m.WriteMPEG4Audio(tr, ntp, p, [][]byte{silent}) })
		pos += aacFrameSamples
		if pos >= until {
			break
		}
	}
	h.tl.nextAudio = pos
	return w
}

// closeAudioLocked plans endRun's writes for an audio-only channel: silent
// frames until one of them cuts the segment.
func (h *hlsOutput) closeAudioLocked() []func() error {
	conf := h.audioConf
	silent := silentAAC(conf.ChannelConfig)
	if silent == nil || !h.tl.haveAudio {
		return nil
	}
	rate := conf.SampleRate
	pos := h.tl.nextAudio
	cut := h.segs.cut
	var w []func() error
	// bounded: a cut comes after SegmentDuration and 100 frames at most
	for i := 0; h.segs.cut == cut && i < 10000; i++ {
		p := pos
		h.countLocked(p, rate, true)
		m, tr, ntp := h.muxer, h.audio, h.ntpLocked(p, rate)
		w = append(w, func() error { return m.WriteMPEG4Audio(tr, ntp, p, [][]byte{silent}) })
		pos += aacFrameSamples
	}
	h.tl.closeAudio(pos)
	return w
}

func durationTo90k(d time.Duration) int64 {
	secs, dec := d/time.Second, d%time.Second
	return int64(secs)*clock90k + (int64(dec)*clock90k+int64(time.Second)-1)/int64(time.Second)
}

// silentAAC returns one AAC-LC raw data block of silence for a channel
// configuration (ISO/IEC 14496-3 4.4.2.1, Table 1.19): its elements with
// global_gain 0, max_sfb 0 (no spectral data: every coefficient is zero),
// then ID_END. nil for configuration 0 (layout in a PCE) and above 7.
func silentAAC(channelConfig uint8) []byte {
	const (
		idSCE, idCPE, idLFE, idEND = 0, 1, 3, 7
	)
	layouts := [...][]uint{
		1: {idSCE},
		2: {idCPE},
		3: {idSCE, idCPE},
		4: {idSCE, idCPE, idSCE},
		5: {idSCE, idCPE, idCPE},
		6: {idSCE, idCPE, idCPE, idLFE},
		7: {idSCE, idCPE, idCPE, idCPE, idLFE},
	}
	if channelConfig == 0 || int(channelConfig) >= len(layouts) {
		return nil
	}
	var bw bitWriter
	ics := func() {
		bw.put(0, 8) // global_gain
		bw.put(0, 1) // ics_reserved_bit
		bw.put(0, 2) // window_sequence ONLY_LONG_SEQUENCE
		bw.put(0, 1) // window_shape
		bw.put(0, 6) // max_sfb: no section, scale factor or spectral data
		bw.put(0, 1) // predictor_data_present
		bw.put(0, 3) // pulse, tns, gain control data present
	}
	var tags [8]uint64
	for _, id := range layouts[channelConfig] {
		bw.put(uint64(id), 3)
		bw.put(tags[id], 4) // element_instance_tag
		tags[id]++
		if id == idCPE {
			bw.put(0, 1) // common_window
			ics()
		}
		ics()
	}
	bw.put(idEND, 3)
	return bw.bytes()
}

// bitWriter writes big-endian bit fields.
type bitWriter struct {
	b []byte
	n uint // bits used in the last byte
}

func (w *bitWriter) put(v uint64, bits uint) {
	for i := int(bits) - 1; i >= 0; i-- {
		if w.n == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 != 0 {
			w.b[len(w.b)-1] |= 0x80 >> w.n
		}
		w.n = (w.n + 1) % 8
	}
}

func (w *bitWriter) bytes() []byte { return w.b }

func (h *hlsOutput) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.done)
	m := h.muxer
	h.mu.Unlock()
	if m != nil {
		m.Close()
	}
}

// hlsWaitReady is how long a request waits for a channel's first segments.
const hlsWaitReady = 30 * time.Second

// serve answers one HLS request for file (index.m3u8 or what it references).
func (h *hlsOutput) serve(w http.ResponseWriter, r *http.Request, file string) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hlsWaitReady)
	defer cancel()
	select {
	case <-h.content:
	case <-h.done:
	case <-ctx.Done():
		w.Header().Set("Retry-After", "2")
		http.Error(w, "stream not ready yet", http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	m, closed := h.muxer, h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "stream closed", http.StatusGone)
		return
	}
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: "/" + file, RawQuery: r.URL.RawQuery}
	if h.opts.Outputs.LLHLS {
		switch {
		case r.URL.Query().Has("_HLS_msn"):
			h.serveBlocking(w, r, func(rw http.ResponseWriter) { m.Handle(rw, r2) })
			return
		case isPart(file):
			h.servePart(w, r, m, r2, file)
			return
		}
	}
	handleOrNotFound(w, r2, m)
}

// handleOrNotFound passes a request to gohlslib, which writes nothing for a
// name it does not know (a segment that rolled off the playlist, a typo).
func handleOrNotFound(w http.ResponseWriter, r *http.Request, m *gohlslib.Muxer) {
	tw := &trackingWriter{ResponseWriter: w}
	m.Handle(tw, r)
	if !tw.wrote {
		http.Error(w, "not found", http.StatusNotFound)
	}
}

// maxBlocked bounds a channel's LL-HLS requests held inside gohlslib.
const maxBlocked = 256

// blockLimit is how long a blocking LL-HLS request is held before 503:
// three Target Durations (RFC 8216bis 6.2.5.2), the Target Duration being
// the segment length rounded up to whole seconds (4.4.3.1).
func (h *hlsOutput) blockLimit() time.Duration {
	return 3 * max(time.Second, h.opts.SegmentDuration.Round(time.Second))
}

// serveBlocking answers a request that gohlslib may hold until media comes
// (a blocking playlist reload, a preload-hinted part). gohlslib waits on a
// condition variable without watching the request's context, so its handler
// runs in a goroutine into a buffer and the answer comes from here: its
// response once it is done, nothing once the client went away, 503 with
// Retry-After after blockLimit (an upstream that stalled). A handler left
// behind ends when gohlslib wakes (the next part, or Close); at most
// maxBlocked of them per channel, beyond that 503 at once.
func (h *hlsOutput) serveBlocking(w http.ResponseWriter, r *http.Request, handle func(http.ResponseWriter)) {
	sem := h.blocked
	select {
	case sem <- struct{}{}:
	default:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many blocked requests", http.StatusServiceUnavailable)
		return
	}
	rec := &bufferedResponse{header: http.Header{}}
	done := make(chan struct{})
	go func() {
		defer func() { <-sem }()
		defer close(done)
		handle(rec)
	}()
	tm := time.NewTimer(h.blockLimit())
	defer tm.Stop()
	select {
	case <-done:
		rec.copyTo(w)
	case <-r.Context().Done():
	case <-tm.C:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no new media in time", http.StatusServiceUnavailable)
	}
}

// isPart reports whether file names an LL-HLS part ("<prefix>_<stream>_part<N>.mp4").
func isPart(file string) bool {
	_, _, ok := partID(file)
	return ok
}

// partID splits a part's name into its stream and part number.
func partID(file string) (stream string, id uint64, ok bool) {
	f := strings.Split(strings.TrimSuffix(file, ".mp4"), "_")
	if len(f) != 3 || !strings.HasPrefix(f[2], "part") {
		return "", 0, false
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(f[2], "part"), 10, 64)
	if err != nil {
		return "", 0, false
	}
	return f[1], n, true
}

// servePart answers a part request. Parts that exist are answered at once.
// The preload-hinted part is waited for through a blocking playlist reload
// for it (serveBlocking), never through gohlslib's own preload-hint handler:
// that one returns with the muxer's mutex still locked when the muxer
// closes, which would leave every other waiting handler blocked for good.
func (h *hlsOutput) servePart(w http.ResponseWriter, r *http.Request, m *gohlslib.Muxer, r2 *http.Request, file string) {
	stream, id, _ := partID(file)
	plReq := r.Clone(r.Context())
	plReq.URL = &url.URL{Path: "/" + stream + "_stream.m3u8"}
	var rec bufferedResponse
	rec.header = http.Header{}
	m.Handle(&rec, plReq) // not blocking: the playlists have content (see serve)
	if rec.code != http.StatusOK {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	pl, err := playlist.Unmarshal(rec.body.Bytes())
	media, ok := pl.(*playlist.Media)
	if err != nil || !ok || media.PreloadHint == nil {
		handleOrNotFound(w, r2, m)
		return
	}
	_, hint, ok := partID(strings.SplitN(media.PreloadHint.URI, "?", 2)[0])
	switch {
	case !ok || id < hint:
		handleOrNotFound(w, r2, m) // done, or gone
	case id > hint:
		http.Error(w, "part not announced yet", http.StatusNotFound)
	default:
		msn := media.MediaSequence + len(media.Segments)
		q := url.Values{"_HLS_msn": {strconv.Itoa(msn)}, "_HLS_part": {strconv.Itoa(len(media.Parts))}}
		wait := r.Clone(r.Context())
		wait.URL = &url.URL{Path: plReq.URL.Path, RawQuery: q.Encode()}
		h.serveBlocking(w, r, func(rw http.ResponseWriter) {
			var pr bufferedResponse
			pr.header = http.Header{}
			m.Handle(&pr, wait)
			if pr.code != http.StatusOK {
				rw.WriteHeader(pr.code)
				return
			}
			m.Handle(rw, r2) // finished now: gohlslib's part handler answers at once
		})
	}
}

// bufferedResponse holds a handler's response until it is copied out.
type bufferedResponse struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (b *bufferedResponse) Header() http.Header { return b.header }

func (b *bufferedResponse) WriteHeader(code int) {
	if b.code == 0 {
		b.code = code
	}
}

func (b *bufferedResponse) Write(p []byte) (int, error) {
	if b.code == 0 {
		b.code = http.StatusOK
	}
	return b.body.Write(p)
}

// copyTo writes the held response; nothing written means not found.
func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	if b.code == 0 {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	for k, v := range b.header {
		w.Header()[k] = v
	}
	w.WriteHeader(b.code)
	_, _ = w.Write(b.body.Bytes())
}

// trackingWriter notes whether a handler wrote a response.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
