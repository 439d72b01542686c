// Package remux is a channel's media pipeline: it is fed an ASF header and
// full-size ASF data packets (from mmsclient, a file, a test) and produces
//
//   - HLS through one gohlslib Muxer for the channel's whole life (fMP4 by
//     default, Low-Latency HLS or MPEG-TS as options), on one continuous
//     timeline across playlist entries, reconnects and transcoder restarts;
//   - H.264/AAC for it by remuxing directly when the ASF carries H.264 and
//     AAC, else by transcoding through a supervised ffmpeg subprocess;
//   - ASF passthrough over progressive HTTP for players that want the original;
//   - metadata (title, author, now playing, streams) for the status API.
//
// One Pipeline serves one channel; its feeding methods (WriteHeader,
// WritePacket, Discontinuity) are called from one goroutine, its serving
// methods from any number.
package remux

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
)

// ErrClosed is returned by the feeding methods after Close.
var ErrClosed = errors.New("remux: pipeline closed")

// mbrProbePackets is how many packets of a multi-bit-rate entry are held to
// learn which of its streams the upstream actually sends.
const mbrProbePackets = 32

// Pipeline is one channel's media pipeline. Create it with New.
type Pipeline struct {
	opts    Options
	log     *slog.Logger
	onEvent event.Func

	hls  *hlsOutput   // nil without HLS
	pass *passthrough // nil without ASF passthrough

	closed    atomic.Bool
	closeOnce sync.Once

	tcPtr atomic.Pointer[transcoder] // for Close, which must not wait for feedMu

	feedMu   sync.Mutex // the feeding methods; everything below is the feeder's
	tc       *transcoder
	out      outParams
	fixed    bool // out and the HLS tracks are chosen (first playable entry)
	sticky   bool // the channel transcodes from now on
	hdr      *asf.Header
	live     []byte // the current header as viewers and ffmpeg get it
	es       entryStreams
	mode     string
	direct   *directRemux
	pkt      asf.Packet
	isVideo  [128]bool // video stream numbers of the entry: their key frames start viewers and runs
	hasVideo bool      // false: every media object start counts as a key frame

	watch trackWatch // a declared stream that never sends data

	probing bool // multi-bit-rate entry: packets held until the streams in use are known
	held    [][]byte
	seen    map[uint16]bool

	cmdStream uint16
	cmdRA     *asf.Reassembler
	scripts   []asf.ScriptCommand // header script commands not yet reached
	preroll   uint32

	metaMu sync.Mutex
	meta   Metadata
	bad    int64 // packets that did not parse
}

// New returns a Pipeline for one channel. Nothing runs until the first header.
func New(opts Options) (*Pipeline, error) {
	opts = opts.withDefaults()
	switch opts.Transcode {
	case TranscodeAuto, TranscodeAlways, TranscodeNever:
	default:
		return nil, fmt.Errorf("remux: Transcode %q is not auto, always or never", opts.Transcode)
	}
	switch opts.Variant {
	case VariantFMP4, VariantMPEGTS:
	default:
		return nil, fmt.Errorf("remux: Variant %q is not fmp4 or mpegts", opts.Variant)
	}
	p := &Pipeline{opts: opts, log: opts.Logger, onEvent: opts.OnEvent}
	if opts.Outputs.HLS {
		p.hls = newHLSOutput(opts)
	}
	if opts.Outputs.ASF {
		p.pass = newPassthrough(opts.MaxViewers, opts.ViewerQueue)
	}
	return p, nil
}

// WriteHeader starts an entry: the first header, a new playlist entry, or
// the header again after a reconnect. hdr is the Header Object, optionally
// followed by the Data Object header; it is copied.
//
// A *ContentError (wrapping ErrEncrypted, ErrUnsupportedCodec or
// ErrNoStreams) means that this entry gives no HLS; the pipeline stays
// usable, ASF passthrough carries the entry, and the next header may play.
func (p *Pipeline) WriteHeader(hdr []byte) error {
	if p.closed.Load() {
		return ErrClosed
	}
	p.feedMu.Lock()
	defer p.feedMu.Unlock()
	b := bytes.Clone(hdr)
	h, err := asf.ParseHeader(b)
	if err != nil {
		return fmt.Errorf("remux: header: %w", err)
	}
	if ps := h.PacketSize(); ps <= 0 || ps > asf.MaxPacketSize {
		return fmt.Errorf("remux: header: packet size %d", ps)
	}
	meta := headerMetadata(h)
	live := liveHeader(h)
	// the previous entry's held packets still go out; its ffmpeg run ends
	// with the new header item (no flush item: that means "upstream gone",
	// after which the run's open segment is closed, see hlsOutput.endRun)
	_ = p.finishProbe()
	p.hdr, p.live = h, live
	p.endEntry()
	p.isVideo, p.hasVideo = [128]bool{}, false
	for _, s := range h.Streams {
		if s.Video != nil && s.StreamNumber < 128 {
			p.isVideo[s.StreamNumber], p.hasVideo = true, true
		}
	}
	if p.pass != nil {
		p.pass.setHeader(live)
	}
	p.setupCommands(h)

	var entryErr error
	if p.hls != nil {
		es, err := pickStreams(h, nil)
		switch {
		case err != nil:
			entryErr = err
		case countKinds(h):
			// several audio or video streams: wait for packets to tell
			// which ones flow before ffmpeg is told what to map
			p.probing, p.held, p.seen = true, nil, map[uint16]bool{}
			p.es = es
		default:
			entryErr = p.startEntry(es)
		}
	}
	p.metaMu.Lock()
	entries := p.meta.Entries + 1
	p.meta = meta
	p.meta.Entries = entries
	p.meta.Mode = p.mode
	if entryErr != nil {
		p.meta.Error = entryErr.Error()
	}
	p.metaMu.Unlock()
	fields := map[string]any{"bytes": len(h.Raw), "packet_size": h.PacketSize(), "streams": len(h.Streams),
		"entry": entries, "mode": p.mode}
	p.log.Info("header", "entry", entries, "title", meta.Title, "mode", p.mode, "error", entryErr)
	if entryErr != nil {
		fields["error"] = entryErr.Error()
		p.onEvent.Emit(event.Error, entryErr.Error(), fields)
		return entryErr
	}
	return nil
}

// countKinds reports whether h has more than one audio or video stream.
func countKinds(h *asf.Header) bool {
	a, v := 0, 0
	for _, s := range h.Streams {
		if s.Audio != nil {
			a++
		}
		if s.Video != nil {
			v++
		}
	}
	return a > 1 || v > 1
}

// endEntry ends what the previous entry started on the HLS side.
func (p *Pipeline) endEntry() {
	p.direct = nil
	p.mode = ""
	p.probing, p.held, p.seen = false, nil, nil
	p.watch = trackWatch{}
}

// startEntry chooses how the entry becomes HLS and starts it.
func (p *Pipeline) startEntry(es entryStreams) error {
	p.es = es
	defer p.watchTracks(es)
	if !p.fixed {
		p.fixed = true
		p.out = chooseOutParams(p.opts, es)
		p.hls.setTracks(p.out.video, p.out.audio)
		p.log.Info("channel output fixed", "video", p.out.video, "audio", p.out.audio,
			"size", fmt.Sprintf("%dx%d", p.out.width, p.out.height), "fps", p.out.fps,
			"sample_rate", p.out.sampleRate, "channels", p.out.channels)
	}
	for _, pr := range es.problems {
		p.onEvent.Emit(event.Error, "stream skipped: "+pr, nil)
	}
	if p.opts.Transcode != TranscodeAlways && !p.sticky && p.directFits(es) {
		d, err := newDirectRemux(p.hls, p.hdr, es)
		if err == nil {
			p.direct, p.mode = d, "direct"
			return nil
		}
		p.log.Info("switching to transcoding", "reason", err)
		p.onEvent.Emit(event.State, "switching to transcoding: "+err.Error(), map[string]any{"mode": "transcode"})
	}
	if p.opts.Transcode == TranscodeNever {
		return &ContentError{Err: ErrUnsupportedCodec, Detail: "not H.264/AAC matching the channel, and transcoding is off"}
	}
	in := keyOf(es)
	in.packetInterval = packetInterval(p.hdr)
	p.transcode(in)
	return nil
}

// trackWatch notices a stream that sends nothing (a radio that declares a
// slideshow it never sends, a camera whose video died): the HLS muxer would
// wait for its first sample forever, or cut no segment while video is
// missing. When one of the entry's two chosen streams sent no payload for
// missingTrackAfter of media time while the other flowed, the entry
// restarts without it, and the transcoder fills the channel's track with
// black frames or silence. Should the stream send again (a slideshow with
// rare pictures, a camera back), the entry restarts with it; each such
// return doubles the bound, so that a stream with very rare data restarts
// ffmpeg a few times at most.
//
// Media time (the packets' send times) rather than wall time: a file fed
// faster than real time and a live stream decide alike, and an upstream
// that stalls advances nothing, so a stall is never taken for a missing
// stream. The bound, max(5 s, 3 segments), is beyond the preroll by which
// ASF interleaves its streams' send times, and beyond the first segments a
// viewer waits for anyway.
type trackWatch struct {
	active       bool
	full         entryStreams // the entry's streams as chosen from its header
	video, audio uint16       // their stream numbers
	started      bool
	lastVideo    uint32 // send time (ms) of the stream's last payload; the entry's first packet before one came
	lastAudio    uint32
	seenVideo    bool // a payload came since the entry began
	seenAudio    bool
	dropped      uint16 // the stream restarted without, waited for; 0 none
	droppedVideo bool
	returns      int // streams that came back: each doubles the bound
}

// maxMissingTrackAfter caps the doubled bound.
const maxMissingTrackAfter = 5 * time.Minute

// missingTrackAfter is the media time after which a silent stream counts as
// missing.
func (p *Pipeline) missingTrackAfter() time.Duration {
	d := max(5*time.Second, 3*p.opts.SegmentDuration)
	for range p.watch.returns {
		d = min(2*d, maxMissingTrackAfter)
	}
	return d
}

// watchTracks starts watching an entry whose streams fill both channel tracks.
func (p *Pipeline) watchTracks(es entryStreams) {
	p.watch = trackWatch{}
	if es.video == nil || es.audio == nil || !p.out.video || !p.out.audio {
		return
	}
	p.watch = trackWatch{active: true, full: es, video: es.video.StreamNumber, audio: es.audio.StreamNumber}
}

// sinceMs is the media time from send time a to b; 0 when b is before a.
func sinceMs(a, b uint32) time.Duration {
	d := int32(b - a) // send times wrap after 49 days
	return time.Duration(max(d, 0)) * time.Millisecond
}

// checkTracks follows the payloads of a packet (in p.pkt) for trackWatch;
// true when it restarted the entry.
func (p *Pipeline) checkTracks() bool {
	w := &p.watch
	if !w.active {
		return false
	}
	now := p.pkt.SendTime
	if !w.started {
		w.started, w.lastVideo, w.lastAudio = true, now, now
	}
	if w.dropped != 0 {
		return p.checkReturn()
	}
	for i := range p.pkt.Payloads {
		switch uint16(p.pkt.Payloads[i].StreamNumber) {
		case w.video:
			w.lastVideo, w.seenVideo = now, true
		case w.audio:
			w.lastAudio, w.seenAudio = now, true
		}
	}
	bound := p.missingTrackAfter()
	gapV, gapA := sinceMs(w.lastVideo, now), sinceMs(w.lastAudio, now)
	switch {
	case gapV >= bound && gapA < bound/2:
		return p.dropTrack(true, gapV)
	case gapA >= bound && gapV < bound/2:
		return p.dropTrack(false, gapA)
	}
	return false
}

// dropTrack restarts the entry without its video (or audio) stream, which
// sent nothing for after; the transcoder makes black frames (or silence).
// false when transcoding is off: the entry goes on as it is.
func (p *Pipeline) dropTrack(video bool, after time.Duration) bool {
	w := &p.watch
	kind, n, fill := "audio", w.audio, "silence"
	if video {
		kind, n, fill = "video", w.video, "black frames"
	}
	if p.opts.Transcode == TranscodeNever {
		fill = "no HLS (making " + fill + " needs transcoding, which is off)"
	}
	what := "declared but"
	if (video && w.seenVideo) || (!video && w.seenAudio) {
		what = "sent"
	}
	after = after.Round(100 * time.Millisecond)
	p.log.Warn("stream missing", "kind", kind, "stream", n, "after", after)
	p.onEvent.Emit(event.TrackMissing, fmt.Sprintf("%s stream %d %s no data for %v: %s", kind, n, what, after, fill),
		map[string]any{"stream": n, "kind": kind, "after": after.String(), "fill": fill})
	if p.opts.Transcode == TranscodeNever {
		w.active = false
		return false
	}
	es := w.full
	if video {
		es.video = nil
		p.isVideo[n&0x7f] = false // passthrough viewers then start at any object
		p.hasVideo = slices.Contains(p.isVideo[:], true)
	} else {
		es.audio = nil
	}
	w.dropped, w.droppedVideo = n, video
	p.es = es
	p.restartEntry()
	return true
}

// checkReturn restarts the entry with a dropped stream once it sends (for
// video: a key frame, where decoding can begin); true when it did.
func (p *Pipeline) checkReturn() bool {
	w := &p.watch
	for i := range p.pkt.Payloads {
		pl := &p.pkt.Payloads[i]
		if uint16(pl.StreamNumber) != w.dropped {
			continue
		}
		if w.droppedVideo && (!pl.KeyFrame || (pl.OffsetIntoMediaObject != 0 && !pl.Compressed)) {
			continue
		}
		kind := "audio"
		if w.droppedVideo {
			kind = "video"
			p.isVideo[w.dropped&0x7f], p.hasVideo = true, true
		}
		msg := fmt.Sprintf("%s stream %d sends data now", kind, w.dropped)
		p.log.Info("stream back", "kind", kind, "stream", w.dropped)
		p.onEvent.Emit(event.TrackMissing, msg, map[string]any{"stream": w.dropped, "kind": kind, "back": true})
		p.es = w.full
		w.dropped = 0
		w.returns++
		w.lastVideo, w.lastAudio = p.pkt.SendTime, p.pkt.SendTime
		p.restartEntry()
		return true
	}
	return false
}

// restartEntry hands the current entry, with p.es, to a new transcoder run
// (also from direct remux: the channel transcodes from now on).
func (p *Pipeline) restartEntry() {
	in := keyOf(p.es)
	in.packetInterval = packetInterval(p.hdr)
	p.transcode(in)
}

// packetInterval is the time between packets at the header's maximum bit rate.
func packetInterval(h *asf.Header) time.Duration {
	br := int64(h.FileProperties.MaxBitrate)
	if br <= 0 {
		return 0
	}
	return time.Duration(int64(h.PacketSize()) * 8 * int64(time.Second) / br)
}

// directFits reports whether es can be remuxed onto the channel's tracks.
func (p *Pipeline) directFits(es entryStreams) bool {
	if (es.video != nil) != p.out.video || (es.audio != nil) != p.out.audio {
		return false
	}
	if es.video != nil && !isH264(es.video) {
		return false
	}
	if es.audio != nil && !isAAC(es.audio) {
		return false
	}
	return true
}

func keyOf(es entryStreams) runInput {
	in := runInput{hasVideo: es.video != nil, hasAudio: es.audio != nil}
	if es.video != nil {
		in.videoStream = es.video.StreamNumber
	}
	if es.audio != nil {
		in.audioStream = es.audio.StreamNumber
	}
	return in
}

// transcode hands the current entry to ffmpeg, for the rest of the channel's life.
func (p *Pipeline) transcode(in runInput) {
	if p.tc == nil {
		p.tc = newTranscoder(p.opts, p.out, p.hls)
		p.tcPtr.Store(p.tc)
		if p.closed.Load() {
			p.tc.close() // Close ran meanwhile and did not see it
		}
	}
	p.sticky = true
	p.direct = nil
	p.mode = "transcode"
	p.tc.send(tcItem{header: p.live, in: in})
	p.metaMu.Lock()
	p.meta.Mode = p.mode
	p.metaMu.Unlock()
}

// WritePacket passes one full-size ASF data packet on; it is copied. It may
// block while the transcoder is behind (backpressure for fast sources such
// as files), at most 5 s per packet: then the packet is dropped for HLS.
func (p *Pipeline) WritePacket(pkt []byte) error {
	if p.closed.Load() {
		return ErrClosed
	}
	p.feedMu.Lock()
	defer p.feedMu.Unlock()
	if p.hdr == nil {
		return errors.New("remux: packet before the first header")
	}
	if len(pkt) > asf.MaxPacketSize {
		return fmt.Errorf("remux: packet of %d bytes", len(pkt))
	}
	b := bytes.Clone(pkt)
	perr := p.pkt.Unmarshal(b)
	keyed := perr == nil && p.keyed(&p.pkt)
	if p.pass != nil {
		var start []byte
		if keyed && p.pass.waiting() {
			start = trimToKeyFrame(&p.pkt, &p.isVideo, b)
		}
		p.pass.write(b, start)
	}
	if perr != nil {
		p.metaMu.Lock()
		p.bad++
		p.metaMu.Unlock()
		p.log.Debug("packet", "error", perr)
		return nil
	}
	p.commands(&p.pkt)
	if p.hls == nil {
		return nil
	}
	if p.probing {
		return p.probe(b)
	}
	return p.route(b, keyed)
}

// route sends a parsed packet (in p.pkt) to the direct remuxer or ffmpeg.
func (p *Pipeline) route(b []byte, keyed bool) error {
	if p.watch.active && p.checkTracks() {
		keyed = p.keyed(&p.pkt) // the entry restarted: this packet goes to the new run
	}
	switch {
	case p.direct != nil:
		err := p.direct.push(&p.pkt)
		var sw *errSwitch
		if errors.As(err, &sw) {
			p.log.Info("switching to transcoding", "reason", sw.reason)
			p.onEvent.Emit(event.State, "switching to transcoding: "+sw.reason, map[string]any{"mode": "transcode"})
			in := keyOf(p.es)
			in.packetInterval = packetInterval(p.hdr)
			p.transcode(in)
			p.tc.send(tcItem{packet: b, keyed: true})
			return nil
		}
		if err != nil {
			return err
		}
	case p.mode == "transcode":
		if !p.tc.send(tcItem{packet: b, keyed: keyed}) {
			return ErrClosed
		}
	}
	return nil
}

// probe holds the packets of a multi-bit-rate entry until it is known which
// streams flow, then starts the entry with those and replays them.
func (p *Pipeline) probe(b []byte) error {
	p.held = append(p.held, b)
	for _, pl := range p.pkt.Payloads {
		p.seen[uint16(pl.StreamNumber)] = true
	}
	if len(p.held) < mbrProbePackets {
		return nil
	}
	return p.finishProbe()
}

// finishProbe starts a multi-bit-rate entry with the streams seen so far and
// replays the held packets (also when the entry ends before the probe is full).
func (p *Pipeline) finishProbe() error {
	if !p.probing {
		return nil
	}
	p.probing = false
	if len(p.held) == 0 {
		return nil
	}
	held := p.held
	p.held = nil
	es, err := pickStreams(p.hdr, p.seen)
	if err == nil {
		err = p.startEntry(es)
	}
	if err != nil {
		p.metaMu.Lock()
		p.meta.Error = err.Error()
		p.metaMu.Unlock()
		p.onEvent.Emit(event.Error, err.Error(), nil)
		return nil
	}
	p.metaMu.Lock()
	p.meta.Mode = p.mode
	p.metaMu.Unlock()
	for _, hb := range held {
		if p.pkt.Unmarshal(hb) != nil {
			continue
		}
		if err := p.route(hb, p.keyed(&p.pkt)); err != nil {
			return err
		}
	}
	return nil
}

// keyed reports whether a packet starts a key frame of a video stream (any
// media object start when the entry has no video).
func (p *Pipeline) keyed(pkt *asf.Packet) bool {
	for i := range pkt.Payloads {
		pl := &pkt.Payloads[i]
		if p.hasVideo {
			if p.isVideo[pl.StreamNumber&0x7f] && pl.KeyFrame && (pl.OffsetIntoMediaObject == 0 || pl.Compressed) {
				return true
			}
			continue
		}
		if pl.OffsetIntoMediaObject == 0 || pl.Compressed {
			return true
		}
	}
	return false
}

// trimToKeyFrame returns the packet a new viewer starts with: without the
// video payloads before the key frame (frames a decoder cannot use without
// their references) and without fragments of objects that began earlier.
// It returns b itself when nothing needs to go, and when re-encoding fails.
func trimToKeyFrame(pkt *asf.Packet, isVideo *[128]bool, b []byte) []byte {
	k := -1
	var keyStr uint8
	for i := range pkt.Payloads {
		pl := &pkt.Payloads[i]
		if isVideo[pl.StreamNumber&0x7f] && pl.KeyFrame && (pl.OffsetIntoMediaObject == 0 || pl.Compressed) {
			k, keyStr = i, pl.StreamNumber
			break
		}
	}
	if k < 0 {
		return b
	}
	type obj struct {
		stream uint8
		num    uint32
	}
	begun := map[obj]bool{}
	kept := make([]asf.Payload, 0, len(pkt.Payloads))
	for i, pl := range pkt.Payloads {
		if i < k && pl.StreamNumber == keyStr {
			continue
		}
		if pl.OffsetIntoMediaObject != 0 && !pl.Compressed && !begun[obj{pl.StreamNumber, pl.MediaObjectNumber}] {
			continue
		}
		begun[obj{pl.StreamNumber, pl.MediaObjectNumber}] = true
		kept = append(kept, pl)
	}
	if len(kept) == len(pkt.Payloads) {
		return b
	}
	np := *pkt
	np.Payloads = kept
	if !np.MultiplePayloads && len(kept) != 1 {
		return b
	}
	// the dropped payloads become padding: a WORD Padding Length holds it (5.2.2)
	np.LengthTypeFlags = np.LengthTypeFlags&^0x18 | 0x10
	out, err := np.Append(nil, len(b))
	if err != nil {
		return b
	}
	return out
}

// Discontinuity says the upstream is gone; a header comes next. What ffmpeg
// holds is flushed into HLS, and the next media joins the same timeline.
func (p *Pipeline) Discontinuity() {
	if p.closed.Load() {
		return
	}
	p.feedMu.Lock()
	defer p.feedMu.Unlock()
	_ = p.finishProbe()
	switch {
	case p.direct != nil:
		p.direct.discontinuity()
	case p.mode == "transcode":
		p.tc.send(tcItem{flush: true})
	}
}

// setupCommands prepares "now playing" from the header's script commands
// and its command stream.
func (p *Pipeline) setupCommands(h *asf.Header) {
	p.cmdStream, p.cmdRA, p.scripts = 0, nil, nil
	p.preroll = uint32(h.FileProperties.Preroll)
	for _, s := range h.Streams {
		if s.Type == asf.StreamTypeCommand {
			p.cmdStream = s.StreamNumber
			p.cmdRA = asf.NewReassembler(h)
			break
		}
	}
	if sc := h.ScriptCommands; sc != nil {
		for _, c := range sc.Commands {
			if int(c.TypeIndex) < len(sc.Types) && nowPlayingType(sc.Types[c.TypeIndex]) {
				p.scripts = append(p.scripts, c)
			}
		}
		sort.Slice(p.scripts, func(i, j int) bool { return p.scripts[i].PresentationTime < p.scripts[j].PresentationTime })
	}
}

// commands updates "now playing" as the stream passes script commands.
func (p *Pipeline) commands(pkt *asf.Packet) {
	for len(p.scripts) > 0 && p.scripts[0].PresentationTime <= pkt.SendTime+p.preroll {
		p.setNowPlaying(p.scripts[0].Name)
		p.scripts = p.scripts[1:]
	}
	if p.cmdRA == nil {
		return
	}
	has := false
	for _, pl := range pkt.Payloads {
		if uint16(pl.StreamNumber) == p.cmdStream {
			has = true
		}
	}
	if !has {
		return
	}
	objs, _ := p.cmdRA.Push(pkt)
	for _, o := range objs {
		if uint16(o.StreamNumber) != p.cmdStream {
			continue
		}
		if typ, cmd, ok := parseCommand(o.Data); ok && nowPlayingType(typ) {
			p.setNowPlaying(cmd)
		}
	}
}

func (p *Pipeline) setNowPlaying(s string) {
	s = clean(s)
	if s == "" {
		return
	}
	p.metaMu.Lock()
	changed := p.meta.NowPlaying != s
	p.meta.NowPlaying = s
	p.metaMu.Unlock()
	if changed {
		p.onEvent.Emit(event.EntryChange, "now playing: "+s, map[string]any{"now_playing": s})
	}
}

// ServeHLS answers a request for the channel's HLS: file is "index.m3u8" or
// a name it references. Before the first segments exist the request waits
// (up to 30 s, then 503 with Retry-After).
func (p *Pipeline) ServeHLS(w http.ResponseWriter, r *http.Request, file string) {
	if p.hls == nil {
		http.Error(w, "HLS is not enabled for this channel", http.StatusNotFound)
		return
	}
	p.hls.serve(w, r, file)
}

// ServeASF serves one progressive ASF viewer: the current header, then the
// packets from the next key frame on. The response ends at a new header
// (the player reconnects and gets it), when the viewer falls too far behind,
// or at Close.
func (p *Pipeline) ServeASF(w http.ResponseWriter, r *http.Request) {
	if p.pass == nil {
		http.Error(w, "ASF passthrough is not enabled for this channel", http.StatusNotFound)
		return
	}
	p.pass.serve(w, r)
}

// Metadata describes the current entry.
func (p *Pipeline) Metadata() Metadata {
	p.metaMu.Lock()
	m := p.meta
	m.Streams = append([]StreamInfo(nil), p.meta.Streams...)
	p.metaMu.Unlock()
	m.Viewers = p.Viewers()
	return m
}

// Latency is the wall-clock age of the newest media at the HLS edge: the
// time since the newest complete segment was cut, which grows while the
// upstream stalls or is gone. Direct remuxing cuts a segment as the packet
// that ends it arrives, so this is the age of the newest fetchable media
// relative to its arrival from the upstream; with a transcoder, ffmpeg's own
// buffering comes on top and is not included. 0 without HLS or before the
// first segment.
func (p *Pipeline) Latency() time.Duration {
	if p.hls == nil {
		return 0
	}
	return p.hls.edgeAge(time.Now())
}

// Viewers is the number of ASF passthrough viewers.
func (p *Pipeline) Viewers() int {
	if p.pass == nil {
		return 0
	}
	return p.pass.count()
}

// Close stops ffmpeg (no process is left when it returns), ends every
// viewer's response and the HLS muxer. It is safe to call more than once.
func (p *Pipeline) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		// the transcoder first: a WritePacket blocked on its queue returns
		if tc := p.tcPtr.Load(); tc != nil {
			tc.close()
		}
		if p.hls != nil {
			p.hls.close()
		}
		if p.pass != nil {
			p.pass.close()
		}
	})
	return nil
}

// liveHeader is the header given to viewers and ffmpeg: the Header Object
// with the Broadcast flag set (a live stream: sizes and counts unknown, no
// seeking), then a Data Object header of unknown size (ASF 3.2, 5.1).
func liveHeader(h *asf.Header) []byte {
	fp := h.FileProperties
	h.FileProperties.Broadcast, h.FileProperties.Seekable = true, false
	obj := h.Marshal()
	h.FileProperties = fp
	out := make([]byte, 0, len(obj)+asf.DataObjectHeaderSize)
	out = append(out, obj...)
	out = append(out, asf.DataObjectID[:]...)
	out = binary.LittleEndian.AppendUint64(out, 0) // Object Size: unknown while live
	out = append(out, fp.FileID[:]...)
	out = binary.LittleEndian.AppendUint64(out, 0) // Total Data Packets: invalid when broadcast
	out = append(out, 0x01, 0x01)                  // Reserved
	return out
}
