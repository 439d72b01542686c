package remux

import (
	"log/slog"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// Transcode modes of Options.Transcode.
const (
	TranscodeAuto   = "auto"   // remux H.264+AAC directly, transcode everything else
	TranscodeAlways = "always" // always run ffmpeg
	TranscodeNever  = "never"  // never run ffmpeg: HLS only for H.264+AAC sources
)

// HLS variants of Options.Variant.
const (
	VariantFMP4   = "fmp4"   // fMP4 segments (default)
	VariantMPEGTS = "mpegts" // MPEG-TS segments, for old devices
)

// Outputs selects what a Pipeline produces. The zero value means HLS and ASF.
type Outputs struct {
	HLS   bool // HLS (fMP4 or MPEG-TS as Options.Variant says)
	LLHLS bool // Low-Latency HLS (fMP4 with parts); implies HLS
	ASF   bool // progressive ASF passthrough (ServeASF)
}

// Options configure a Pipeline. Every field has a useful zero value.
type Options struct {
	Outputs   Outputs
	Transcode string // TranscodeAuto (default), TranscodeAlways or TranscodeNever
	Variant   string // VariantFMP4 (default) or VariantMPEGTS; ignored with Outputs.LLHLS

	// SegmentDuration is the target HLS segment length; the transcoder puts
	// a key frame at every multiple of it. Default 2 s.
	SegmentDuration time.Duration
	// PartDuration is the LL-HLS part length. Default 200 ms.
	PartDuration time.Duration
	// SegmentCount is how many segments the playlist keeps. Default 7
	// (the minimum gohlslib accepts for LL-HLS).
	SegmentCount int
	// Dir, when set, keeps HLS segments on disk there instead of in memory.
	Dir string

	// FFmpegPath is the ffmpeg binary. Default "ffmpeg" from PATH.
	FFmpegPath string
	// Fixed output parameters of the transcoder. Zero means "from the
	// channel's first header" (size rounded to even, capped at 1920x1080;
	// frame rate 25; sample rate 44100 or 48000; at most 2 channels).
	Width, Height int
	FPS           int
	SampleRate    int
	Channels      int
	VideoBitrate  int // bits/s; default about 0.12 bit per pixel
	AudioBitrate  int // bits/s; default 64 kbit/s per channel
	// StallTimeout: ffmpeg is killed and restarted when it was given input
	// but wrote nothing for this long. Default 15 s.
	StallTimeout time.Duration
	// IdleTimeout: when no packet arrives for this long, the transcoder's
	// input is closed so that ffmpeg flushes what it holds into HLS; the
	// next packet starts a new ffmpeg on the same timeline. Default 5 s.
	IdleTimeout time.Duration

	// MaxViewers caps concurrent ASF passthrough viewers; 0 = 1000.
	MaxViewers int
	// ViewerQueue is the per-viewer queue length in packets; a viewer that
	// falls this far behind is dropped. Default 512.
	ViewerQueue int

	OnEvent event.Func
	Logger  *slog.Logger

	// test hooks
	outputTSOffset time.Duration // passed to ffmpeg -output_ts_offset
	maxBlocked     int           // LL-HLS requests held inside gohlslib; default maxBlocked
}

func (o Options) withDefaults() Options {
	if !o.Outputs.HLS && !o.Outputs.LLHLS && !o.Outputs.ASF {
		o.Outputs.HLS, o.Outputs.ASF = true, true
	}
	if o.Outputs.LLHLS {
		o.Outputs.HLS = true
	}
	if o.Transcode == "" {
		o.Transcode = TranscodeAuto
	}
	if o.Variant == "" {
		o.Variant = VariantFMP4
	}
	if o.SegmentDuration <= 0 {
		o.SegmentDuration = 2 * time.Second
	}
	if o.PartDuration <= 0 {
		o.PartDuration = 200 * time.Millisecond
	}
	if o.SegmentCount <= 0 {
		o.SegmentCount = 7
	}
	if o.Outputs.LLHLS && o.SegmentCount < 7 {
		o.SegmentCount = 7
	}
	if o.SegmentCount < 3 {
		o.SegmentCount = 3
	}
	if o.FFmpegPath == "" {
		o.FFmpegPath = "ffmpeg"
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = 15 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 5 * time.Second
	}
	if o.MaxViewers <= 0 {
		o.MaxViewers = 1000
	}
	if o.ViewerQueue <= 0 {
		o.ViewerQueue = 512
	}
	if o.maxBlocked <= 0 {
		o.maxBlocked = maxBlocked
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
