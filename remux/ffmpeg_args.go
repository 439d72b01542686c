package remux

import (
	"fmt"
	"strconv"
	"time"
)

// outParams are a channel's fixed transcoder output parameters: chosen from
// the options or the first header, then held for the channel's life, because
// the fMP4 init segment (resolution, sample rate, channels) is built once.
type outParams struct {
	video, audio  bool
	width, height int
	fps           int
	sampleRate    int
	channels      int
	videoBitrate  int
	audioBitrate  int
	segment       time.Duration
	tsOffset      time.Duration // test hook: -output_ts_offset
}

// runInput describes what one ffmpeg run reads.
type runInput struct {
	// ASF stream numbers to map; 0 = the first stream of the kind. Stream
	// ids of ffmpeg's ASF demuxer are the ASF stream numbers.
	videoStream, audioStream uint16
	// whether the entry carries video / audio at all: when the channel's
	// output has a track the entry lacks, ffmpeg makes black frames or
	// silence so that the channel's tracks never change.
	hasVideo, hasAudio bool
	// packetInterval is how often a packet comes at the entry's bit rate.
	packetInterval time.Duration
}

// ffmpegArgs returns the arguments of one transcoder run: ASF on stdin,
// MPEG-TS with H.264 (main, no B-frames) and AAC-LC on stdout.
func ffmpegArgs(out outParams, in runInput) []string {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning",
		"-probesize", "500000", "-analyzeduration", "2000000",
		"-f", "asf", "-i", "pipe:0"}
	next := 1 // index of the next extra input
	videoIn, audioIn := "", ""
	if out.video {
		if in.hasVideo {
			videoIn = "0:v:0"
			if in.videoStream != 0 {
				videoIn = "0:i:" + strconv.Itoa(int(in.videoStream))
			}
		} else {
			args = append(args, "-f", "lavfi", "-i",
				fmt.Sprintf("color=c=black:s=%dx%d:r=%d", out.width, out.height, out.fps))
			videoIn = strconv.Itoa(next) + ":v:0"
			next++
		}
	}
	if out.audio {
		if in.hasAudio {
			audioIn = "0:a:0"
			if in.audioStream != 0 {
				audioIn = "0:i:" + strconv.Itoa(int(in.audioStream))
			}
		} else {
			args = append(args, "-f", "lavfi", "-i",
				fmt.Sprintf("anullsrc=r=%d:cl=%s", out.sampleRate, channelLayout(out.channels)))
			audioIn = strconv.Itoa(next) + ":a:0"
		}
	}
	if out.video {
		gop := max(1, int(out.segment.Seconds()*float64(out.fps)+0.5))
		br := strconv.Itoa(out.videoBitrate)
		args = append(args, "-map", videoIn,
			"-vf", fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease,pad=%d:%d:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=%d,format=yuv420p",
				out.width, out.height, out.width, out.height, out.fps),
			"-c:v", "libx264", "-preset", "veryfast", "-tune", "zerolatency",
			"-profile:v", "main", "-bf", "0",
			"-b:v", br, "-maxrate", br, "-bufsize", strconv.Itoa(2*out.videoBitrate),
			// a key frame at every segment boundary, and nowhere else
			"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0")
	}
	if out.audio {
		args = append(args, "-map", audioIn,
			"-af", "aresample=async=1",
			"-c:a", "aac", "-profile:a", "aac_low", "-b:a", strconv.Itoa(out.audioBitrate),
			"-ar", strconv.Itoa(out.sampleRate), "-ac", strconv.Itoa(out.channels))
	}
	if out.video && out.audio && (!in.hasVideo || !in.hasAudio) {
		args = append(args, "-shortest")
	}
	if out.tsOffset != 0 {
		args = append(args, "-output_ts_offset", strconv.FormatFloat(out.tsOffset.Seconds(), 'f', 3, 64))
	}
	// one audio frame per PES and no output buffering: every access unit
	// reaches HLS as soon as ffmpeg has it.
	args = append(args, "-f", "mpegts", "-pes_payload_size", "0", "-flush_packets", "1",
		"-muxdelay", "0", "-muxpreload", "0", "pipe:1")
	return args
}

func channelLayout(n int) string {
	if n == 1 {
		return "mono"
	}
	return "stereo"
}
