package remux

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sync"
	"time"

	"github.com/bluenviron/gohlslib/v2"
	"github.com/bluenviron/gohlslib/v2/pkg/codecs"
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
	h.countLocked(true, c, h264.IsRandomAccess(au), 1)
	m, tr, ntp := h.muxer, h.video, h.startWall.Add(time.Duration(c)*time.Second/clock90k)
	h.samples++
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
		h.countLocked(false, c*clock90k/int64(rate), true, len(aus))
	}
	m, tr := h.muxer, h.audio
	ntp := h.startWall.Add(time.Duration(c) * time.Second / time.Duration(rate))
	h.samples += int64(len(aus))
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
// track (video, else audio) cuts a segment at a random access sample at
// least SegmentMinDuration after the segment's start (and, in MPEG-TS, after
// 100 audio access units when audio leads). gohlslib's playlist handlers wait
// for content without watching the request's context, so requests are only
// handed to them once the playlists have content (fMP4: two segments).
type segmentCounter struct {
	started bool
	start   int64 // channel time (90 kHz) of the open segment
	aus     int   // audio access units in it
	cut     int   // segments completed
}

func (h *hlsOutput) countLocked(video bool, c int64, random bool, n int) {
	sc := &h.segs
	if !sc.started {
		sc.started, sc.start = true, c
	}
	minDur := int64(h.opts.SegmentDuration) * clock90k / int64(time.Second)
	mpegtsAudio := !video && h.opts.Variant == VariantMPEGTS && !h.opts.Outputs.LLHLS
	sc.aus += n
	if !random || c-sc.start < minDur || (mpegtsAudio && sc.aus < 100) {
		return
	}
	sc.cut++
	sc.start, sc.aus = c, n
	h.edgeWall = time.Now()
	need := 2
	if h.opts.Outputs.LLHLS || h.opts.Variant == VariantMPEGTS {
		need = 1
	}
	if sc.cut == need {
		close(h.content)
	}
}

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
	tw := &trackingWriter{ResponseWriter: w}
	m.Handle(tw, r2)
	if !tw.wrote {
		// gohlslib writes nothing for a name it does not know (a segment
		// that rolled off the playlist, a typo).
		http.Error(w, "not found", http.StatusNotFound)
	}
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
