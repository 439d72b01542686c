package remux

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mmsgate/mmsgate/asf"
)

// Errors for content that cannot be turned into HLS. WriteHeader returns
// them wrapped in a *ContentError; ASF passthrough carries on regardless.
var (
	// ErrEncrypted: the header has Content Encryption objects (DRM).
	ErrEncrypted = errors.New("DRM-protected ASF (Content Encryption present): it cannot be decoded for HLS")
	// ErrUnsupportedCodec: no stream uses a codec this gateway can decode.
	ErrUnsupportedCodec = errors.New("unsupported codec")
	// ErrNoStreams: the header declares no audio or video stream.
	ErrNoStreams = errors.New("no audio or video stream")
)

// ContentError says why an entry (a header) cannot be played as HLS.
type ContentError struct {
	Err    error
	Detail string // e.g. "video stream 2: FourCC XYZ1"
}

func (e *ContentError) Error() string {
	if e.Detail == "" {
		return "remux: " + e.Err.Error()
	}
	return "remux: " + e.Err.Error() + ": " + e.Detail
}

func (e *ContentError) Unwrap() error { return e.Err }

// videoCodecs are the FourCCs of ASF video that ffmpeg decodes, by codec name.
var videoCodecs = map[string]string{
	"WMV1": "wmv1", "WMV2": "wmv2", "WMV3": "wmv3", "WMVA": "vc1", "WVC1": "vc1", "WMVP": "wmv3image", "WVP2": "vc1image",
	"MP43": "msmpeg4v3", "DIV3": "msmpeg4v3", "MP42": "msmpeg4v2", "DIV2": "msmpeg4v2", "MPG4": "msmpeg4v1", "MP41": "msmpeg4v1",
	"MP4S": "mpeg4", "M4S2": "mpeg4", "XVID": "mpeg4", "DIVX": "mpeg4", "DX50": "mpeg4", "FMP4": "mpeg4",
	"H264": "h264", "h264": "h264", "AVC1": "h264", "avc1": "h264", "X264": "h264", "x264": "h264", "DAVC": "h264",
	"MJPG": "mjpeg", "MSS1": "mss1", "MSS2": "mss2", "IV50": "indeo5", "IV41": "indeo4", "IV32": "indeo3",
	"CVID": "cinepak", "MSVC": "msvideo1", "CRAM": "msvideo1", "MPEG": "mpeg1video", "MPG2": "mpeg2video",
}

// audioCodecs are the WAVEFORMATEX format tags of ASF audio that ffmpeg decodes.
var audioCodecs = map[uint16]string{
	0x0001: "pcm", 0x0002: "adpcm_ms", 0x0006: "pcm_alaw", 0x0007: "pcm_mulaw", 0x0011: "adpcm_ima_wav",
	0x0031: "gsm_ms", 0x0050: "mp2", 0x0055: "mp3", 0x000A: "wmavoice", 0x0130: "sipr",
	0x0160: "wmav1", 0x0161: "wmav2", 0x0162: "wmapro", 0x0163: "wmalossless",
	0x00FF: "aac", 0x1610: "aac", 0x706D: "aac", 0x2000: "ac3", 0x0401: "imc", 0x0075: "voxware",
}

// codecName names a stream's codec ("wmv2", "aac", "unknown FourCC XYZ1").
func codecName(s *asf.StreamProperties) (string, bool) {
	switch {
	case s.Video != nil:
		cc := s.Video.Compression.String()
		if n, ok := videoCodecs[cc]; ok {
			return n, true
		}
		if n, ok := videoCodecs[strings.ToUpper(cc)]; ok {
			return n, true
		}
		return "unknown FourCC " + printable(cc), false
	case s.Audio != nil:
		if n, ok := audioCodecs[s.Audio.FormatTag]; ok {
			return n, true
		}
		return fmt.Sprintf("unknown format tag 0x%04X", s.Audio.FormatTag), false
	}
	return "", false
}

func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
}

// isH264 and isAAC tell whether a stream can be remuxed without ffmpeg.
func isH264(s *asf.StreamProperties) bool {
	n, ok := codecName(s)
	return ok && n == "h264" && s.Video != nil
}

func isAAC(s *asf.StreamProperties) bool {
	return s != nil && s.Audio != nil && s.Audio.FormatTag == 0x00FF && len(s.Audio.CodecData) >= 2
}

// entryStreams is what one header offers the HLS side.
type entryStreams struct {
	video, audio *asf.StreamProperties // the streams to decode; nil when absent or unplayable
	problems     []string              // streams that are skipped, and why
}

// pickStreams chooses the audio and video stream of an entry. seen, when not
// nil, holds the stream numbers that actually carry packets (multi-bit-rate
// content lists every rate, the upstream sends one).
func pickStreams(h *asf.Header, seen map[uint16]bool) (entryStreams, error) {
	var es entryStreams
	if h.Encrypted {
		return es, &ContentError{Err: ErrEncrypted}
	}
	var unknown []string
	for _, s := range h.Streams {
		if s.Video == nil && s.Audio == nil {
			continue
		}
		if seen != nil && !seen[s.StreamNumber] {
			continue
		}
		name, ok := codecName(s)
		kind := "audio"
		if s.Video != nil {
			kind = "video"
		}
		if !ok {
			unknown = append(unknown, fmt.Sprintf("%s stream %d: %s", kind, s.StreamNumber, name))
			continue
		}
		if s.Encrypted {
			es.problems = append(es.problems, fmt.Sprintf("%s stream %d is encrypted", kind, s.StreamNumber))
			continue
		}
		switch {
		case s.Video != nil && es.video == nil:
			if name == "mjpeg" && s.Video.Width <= 0 {
				continue
			}
			es.video = s
		case s.Audio != nil && es.audio == nil:
			es.audio = s
		}
	}
	es.problems = append(es.problems, unknown...)
	if es.video == nil && es.audio == nil {
		if len(unknown) > 0 {
			return es, &ContentError{Err: ErrUnsupportedCodec, Detail: strings.Join(unknown, "; ")}
		}
		if len(es.problems) > 0 {
			return es, &ContentError{Err: ErrEncrypted, Detail: strings.Join(es.problems, "; ")}
		}
		return es, &ContentError{Err: ErrNoStreams}
	}
	return es, nil
}

// aacRates are sample rates AAC-LC in browsers copes with.
var aacRates = []int{8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000}

// chooseOutParams fixes a channel's transcoder output from the options and
// its first entry.
func chooseOutParams(o Options, es entryStreams) outParams {
	out := outParams{video: es.video != nil, audio: es.audio != nil, segment: o.SegmentDuration,
		tsOffset: o.outputTSOffset}
	if out.video {
		w, h := o.Width, o.Height
		if w <= 0 || h <= 0 {
			w, h = int(es.video.Video.Width), int(es.video.Video.Height)
			if h < 0 {
				h = -h
			}
			if w <= 0 || h <= 0 {
				w, h = 320, 240
			}
			for w > 1920 || h > 1080 {
				w, h = w*3/4, h*3/4
			}
		}
		out.width, out.height = max(16, w&^1), max(16, h&^1)
		out.fps = o.FPS
		if out.fps <= 0 {
			out.fps = 25
			if x := es.video.Extended; x != nil && x.AvgTimePerFrame > 0 {
				out.fps = min(60, max(5, int((10_000_000+x.AvgTimePerFrame/2)/x.AvgTimePerFrame)))
			}
		}
		out.videoBitrate = o.VideoBitrate
		if out.videoBitrate <= 0 {
			// about 0.12 bit per pixel, which x264 makes look fine at these sizes
			out.videoBitrate = min(4_000_000, max(250_000, out.width*out.height*out.fps*12/100))
		}
	}
	if out.audio {
		out.sampleRate = o.SampleRate
		if out.sampleRate <= 0 {
			out.sampleRate = 44100
			src := int(es.audio.Audio.SamplesPerSec)
			for _, r := range aacRates {
				if r == src {
					out.sampleRate = r
				}
			}
			if src > 48000 {
				out.sampleRate = 48000
			}
		}
		out.channels = o.Channels
		if out.channels <= 0 {
			out.channels = min(2, max(1, int(es.audio.Audio.Channels)))
		}
		out.audioBitrate = o.AudioBitrate
		if out.audioBitrate <= 0 {
			out.audioBitrate = 64_000 * out.channels
		}
	}
	return out
}

// videoCodecData returns the codec data after the BITMAPINFOHEADER (for
// H.264: SPS and PPS).
func videoCodecData(s *asf.StreamProperties) []byte {
	if s.Video == nil {
		return nil
	}
	return s.Video.CodecData
}
