package remux

// clock90k is the clock of MPEG-TS timestamps and of the channel timeline.
const clock90k = 90000

// aacFrameSamples is the length of one AAC-LC access unit.
const aacFrameSamples = 1024

// timeline maps the timestamps of successive producer runs (one ffmpeg
// process, one direct-remux stretch) onto one continuous channel timeline.
//
// gohlslib writes no EXT-X-DISCONTINUITY, builds the fMP4 init segment once
// and rejects timestamps that go backwards, so every run is appended where
// the previous one ended: the first sample of a run lands at the channel's
// end, and later samples keep their distance to it. Producers hand in
// timestamps already unwrapped to int64 (mpegts.TimeDecoder for 33-bit PTS,
// wrapDecoder for 32-bit ASF milliseconds), so a channel runs for days.
type timeline struct {
	end int64 // channel time (90 kHz) just after the last sample written

	inRun    bool
	runBase  int64 // producer time of the run's first sample
	runStart int64 // channel time of the run's first sample

	haveVideo     bool
	videoInRun    bool
	lastVideo     int64 // channel time of the last video sample
	videoDur      int64 // duration of the last video frame (90 kHz)
	haveAudio     bool
	nextAudio     int64 // expected channel time of the next AAC frame, in samples
	audioRate     int64
	runs          int
	clampedFrames int
}

// beginRun makes the next sample start a new run at the channel's end.
func (t *timeline) beginRun() {
	t.inRun = false
	t.videoInRun = false
}

func (t *timeline) toChannel(pts int64) int64 {
	if !t.inRun {
		t.inRun = true
		t.runs++
		t.runBase = pts
		t.runStart = t.end
	}
	return t.runStart + pts - t.runBase
}

// video returns the channel time of a video frame with producer time pts.
func (t *timeline) video(pts int64) int64 {
	c := t.toChannel(pts)
	if !t.videoInRun {
		// the first frame of a run must come after the previous run's last
		// frame; within a run timestamps are the producer's (they may go
		// back with B-frames, the DTS extractor handles that).
		t.videoInRun = true
		if t.haveVideo && c < t.lastVideo+t.videoDur {
			t.runStart += t.lastVideo + t.videoDur - c
			c = t.lastVideo + t.videoDur
			t.clampedFrames++
		}
	}
	if t.haveVideo && c > t.lastVideo && c-t.lastVideo < 10*clock90k {
		t.videoDur = c - t.lastVideo
	}
	if t.videoDur <= 0 {
		t.videoDur = clock90k / 25
	}
	if !t.haveVideo || c > t.lastVideo {
		t.lastVideo = c
	}
	t.haveVideo = true
	t.end = max(t.end, c+t.videoDur)
	return c
}

// audio returns the channel time, in samples at rate, of the first of n AAC
// frames with producer time pts (90 kHz), and false when they are to be
// dropped. Audio is laid out sample-exactly: frames that arrive within half
// a frame of where the previous ones ended go right there, so that rounding
// of 90 kHz or millisecond timestamps never makes fMP4 sample durations
// jitter. A larger gap is kept as a gap; frames that fall a whole frame
// behind (a source clock slower than nominal) are dropped, so audio never
// drifts from video by more than a frame, and never goes back.
func (t *timeline) audio(pts int64, rate int, n int) (int64, bool) {
	c90 := t.toChannel(pts)
	t.audioRate = int64(rate)
	cs := c90 * int64(rate) / clock90k
	if t.haveAudio {
		switch diff := cs - t.nextAudio; {
		case diff <= -aacFrameSamples:
			return 0, false
		case diff < aacFrameSamples/2:
			cs = t.nextAudio
		}
	}
	t.haveAudio = true
	t.nextAudio = cs + int64(n)*aacFrameSamples
	t.end = max(t.end, t.nextAudio*clock90k/int64(rate))
	return cs, true
}

// wrapDecoder unwraps a counter of bits width (32 for ASF milliseconds) into
// a monotonic int64, tolerating small steps back (B-frame presentation times).
type wrapDecoder struct {
	bits    uint
	started bool
	prev    uint64
	overall int64
}

func (d *wrapDecoder) decode(v uint64) int64 {
	mask := uint64(1)<<d.bits - 1
	v &= mask
	if !d.started {
		d.started = true
		d.prev = v
		d.overall = int64(v)
		return d.overall
	}
	diff := (v - d.prev) & mask
	if diff > mask/2 { // a step back
		d.overall -= int64((d.prev - v) & mask)
	} else {
		d.overall += int64(diff)
	}
	d.prev = v
	return d.overall
}

// closeVideo records the closing copy of an IDR that endRun wrote at
// channel time c: it lasts one tick, the next run starts right after it.
// Audio is not counted in the end: it continues where its filler ended (the
// next run's first frames snap there), so that the copy stays this short.
func (t *timeline) closeVideo(c int64) {
	t.haveVideo = true
	t.lastVideo, t.videoDur = c, 1
	t.end = max(t.end, c+1)
}

// closeAudio records silent frames that endRun wrote up to nextAudio (samples).
func (t *timeline) closeAudio(nextAudio int64) {
	t.nextAudio = nextAudio
	if t.audioRate > 0 {
		t.end = max(t.end, (nextAudio*clock90k+t.audioRate-1)/t.audioRate)
	}
}
