package mmsserver

import (
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/mmsproto"
)

// player sends the ASF data packets of one StartPlaying or StartStriding
// (3.2.5.11.1) from its own goroutine. The session's main loop stops it by
// cancelling it and waiting for done; Sequence belongs to the player while
// it runs.
type player struct {
	start       uint64
	incarnation uint8
	burst       time.Duration
	stride      float64 // StartStriding rate; 0 when playing
	stopAt      uint32  // send time (ms) where playing ends, when hasStop
	hasStop     bool

	ring *resendRing // UDP: where Data packets go and are kept; nil over TCP

	cancel context.CancelFunc
	done   chan struct{}
	next   uint64 // the packet after the last one sent, once done
}

func (s *session) startPlayer(ctx context.Context, p *player) {
	pctx, cancel := context.WithCancel(ctx)
	p.cancel, p.done = cancel, make(chan struct{})
	if s.clientPort != 0 {
		p.ring = s.resends.Load()
	}
	s.player = p
	strip := s.stripMode()
	go func() {
		defer close(p.done)
		var natural bool
		switch {
		case s.content.live != nil:
			natural = s.playLive(pctx, p, strip)
		case p.stride != 0:
			natural = s.playStride(pctx, p, strip)
		default:
			natural = s.playFile(pctx, p, strip)
		}
		if natural && pctx.Err() == nil {
			select {
			case s.playDone <- p:
			case <-pctx.Done():
			}
		}
	}()
}

// stopPlayer stops the running player, if any, and waits for it.
func (s *session) stopPlayer() {
	if p := s.player; p != nil && p.cancel != nil {
		p.cancel()
		<-p.done
		// a natural end that raced with the stop is dropped
		select {
		case <-s.playDone:
		default:
		}
	}
}

// stripMode returns the padding policy for this client: never strip for
// WMS 4.0/4.1 clients (2.2.2).
func (s *session) stripMode() string {
	if s.clientVersion.IsWMS4() {
		return StripNone
	}
	switch s.srv.StripPadding {
	case StripAll, StripNone:
		return s.srv.StripPadding
	}
	return StripMulti
}

// emitPacket filters, strips and sends one ASF data packet with LocationId
// loc. It returns false when the session is over.
func (s *session) emitPacket(ctx context.Context, p *player, loc uint32, pkt []byte, info *packetInfo, strip string, buf *[]byte) bool {
	doStrip := strip == StripAll || (strip == StripMulti && info.multi)
	out := (*buf)[:0]
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0) // Data packet prefix (2.2.2)
	keep := s.sel.keeper()
	out, ok := info.rewrite(out, pkt, keep, doStrip)
	s.sel.done()
	if !ok {
		return true // 3.2.5.11.1: a packet with no payload left is not sent
	}
	binary.LittleEndian.PutUint32(out, loc)
	out[4] = p.incarnation
	out[5] = uint8(s.sequence)
	binary.LittleEndian.PutUint16(out[6:], uint16(len(out)))
	s.sequence++
	if ring := p.ring; ring != nil {
		dp := append([]byte(nil), out...)
		ring.add(s.sequence-1, dp)
		if s.srv.DropUDP > 0 && s.rnd.Float64() < s.srv.DropUDP {
			return ctx.Err() == nil
		}
		s.udp.WriteToUDPAddrPort(dp, ring.dest)
		return ctx.Err() == nil
	}
	// The writer owns the bytes once queued.
	dp := append([]byte(nil), out...)
	*buf = out
	return s.sendData(ctx, dp)
}

// pacer waits until media time t (ms) is due: real time scaled by rate,
// after a burst of the first ms of media.
type pacer struct {
	unpaced bool
	rate    float64
	start   time.Time
	base    uint32
	burst   uint32
	timer   *time.Timer
}

func newPacer(unpaced bool, rate float64, base uint32, burst time.Duration) *pacer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &pacer{unpaced: unpaced, rate: rate, start: time.Now(), base: base, burst: uint32(burst.Milliseconds()), timer: t}
}

func (pc *pacer) wait(ctx context.Context, t uint32) bool {
	if pc.unpaced {
		return ctx.Err() == nil
	}
	rel := int64(t) - int64(pc.base) - int64(pc.burst)
	if rel <= 0 {
		return ctx.Err() == nil
	}
	due := pc.start.Add(time.Duration(float64(rel) / pc.rate * float64(time.Millisecond)))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err() == nil
	}
	pc.timer.Reset(d)
	select {
	case <-ctx.Done():
		pc.timer.Stop()
		return false
	case <-pc.timer.C:
		return true
	}
}

// playFile sends packets from p.start to the end (or p.stopAt). It returns
// true when it reached the end.
func (s *session) playFile(ctx context.Context, p *player, strip string) bool {
	m := s.content.opened
	p.next = p.start
	if p.start >= m.packetCount {
		return true
	}
	pc := newPacer(s.srv.Unpaced, s.srv.rate(), m.sendTimes[p.start], p.burst)
	defer pc.timer.Stop()
	pkt := make([]byte, m.packetSize)
	out := make([]byte, 0, m.packetSize+8)
	var info packetInfo
	for n := p.start; n < m.packetCount; n++ {
		st := m.sendTimes[n]
		if p.hasStop && st > p.stopAt {
			return true
		}
		if !pc.wait(ctx, st) {
			return false
		}
		if err := m.readPacket(n, pkt); err != nil {
			s.log.Warn("read packet", "err", err)
			return true
		}
		if err := parsePacket(pkt, &info); err != nil {
			continue // scanned before; cannot happen unless the file changed
		}
		if !s.emitPacket(ctx, p, uint32(n), pkt, &info, strip, &out) {
			return false
		}
		p.next = n + 1
	}
	return s.drainUDP(ctx, p, pc, m.sendTimes[m.packetCount-1])
}

// udpDrain is how long the end of an entry is held back over UDP, see drainUDP.
const udpDrain = time.Second

// drainUDP delays the end of an entry over UDP until the last packet is due
// without the fast-start burst, plus udpDrain. The EndOfStream message
// travels over TCP and overtakes Data packets still queued in the client's
// UDP socket; VLC (mmstu.c) reads its TCP socket first and stops at
// EndOfStream, dropping what is left in the UDP one.
func (s *session) drainUDP(ctx context.Context, p *player, pc *pacer, last uint32) bool {
	if p.ring == nil {
		return true
	}
	if !pc.unpaced {
		pc.burst = 0
		if !pc.wait(ctx, last) {
			return false
		}
	}
	t := time.NewTimer(udpDrain)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// playStride sends only the packets that start a key frame, forward or
// backward, spaced by their time difference divided by the rate (3.2.5.12).
func (s *session) playStride(ctx context.Context, p *player, strip string) bool {
	m := s.content.opened
	p.next = p.start
	keys := m.keyPackets
	if len(keys) == 0 {
		return true
	}
	i := sort.Search(len(keys), func(i int) bool { return keys[i] >= p.start })
	step := 1
	if p.stride < 0 {
		step = -1
		if i >= len(keys) || keys[i] > p.start {
			i--
		}
	}
	rate := p.stride * s.srv.rate()
	if rate < 0 {
		rate = -rate
	}
	pkt := make([]byte, m.packetSize)
	out := make([]byte, 0, m.packetSize+8)
	var info packetInfo
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	prev := -1
	for ; i >= 0 && i < len(keys); i += step {
		n := keys[i]
		if prev >= 0 && !s.srv.Unpaced {
			dt := int64(m.keyTimes[i]) - int64(m.keyTimes[prev])
			if dt < 0 {
				dt = -dt
			}
			timer.Reset(time.Duration(float64(dt) / rate * float64(time.Millisecond)))
			select {
			case <-ctx.Done():
				return false
			case <-timer.C:
			}
		}
		prev = i
		if err := m.readPacket(n, pkt); err != nil {
			return true
		}
		if err := parsePacket(pkt, &info); err != nil {
			continue
		}
		if !s.emitPacket(ctx, p, uint32(n), pkt, &info, strip, &out) {
			return false
		}
		p.next = n + 1
	}
	return true
}

// playLive relays a broadcast from the latest key frame on. It ends only
// when the session or the broadcast does.
func (s *session) playLive(ctx context.Context, p *player, strip string) bool {
	b := s.content.live
	sub := b.subscribe()
	defer b.unsubscribe(sub)
	out := make([]byte, 0, b.media.packetSize+8)
	var info packetInfo
	for {
		select {
		case <-ctx.Done():
			return false
		case lp, ok := <-sub.ch:
			if !ok {
				// Cut off for being too slow, or the broadcast ended: the
				// session cannot go on, close it.
				s.log.Info("live broadcast ended or client too slow")
				s.conn.Close()
				return false
			}
			if err := parsePacket(lp.data, &info); err != nil {
				continue
			}
			if !s.emitPacket(ctx, p, lp.loc, lp.data, &info, strip, &out) {
				return false
			}
		}
	}
}

// selection is the set of streams the client selected (3.2.5.10), read by
// the player for every packet and changed by StreamSwitch.
type selection struct {
	mu       sync.Mutex
	level    map[uint8]uint16 // thinning level per selected stream
	waitKey  map[uint8]bool   // newly selected while streaming: start at a key frame
	replaces map[uint8]uint8  // dst -> src: src stops when dst starts
}

func newSelection() *selection {
	return &selection{level: map[uint8]uint16{}, waitKey: map[uint8]bool{}, replaces: map[uint8]uint8{}}
}

func (sel *selection) selectAll(streams []uint16) {
	sel.mu.Lock()
	defer sel.mu.Unlock()
	for _, n := range streams {
		sel.level[uint8(n)] = mmsproto.ThinningNone
	}
}

// apply processes STREAM_SWITCH_ENTRY values (2.2.4.28.1). 2.2.4.28 says
// the thinning level is ignored when the source is 0xFFFF, but FFmpeg, VLC,
// MPlayer and libmms all send {0xFFFF, stream, level} and use level 2 to
// turn streams off, so for such entries the level is applied to the
// destination stream.
func (sel *selection) apply(entries []mmsproto.StreamSwitchEntry, streaming bool) {
	sel.mu.Lock()
	defer sel.mu.Unlock()
	for _, e := range entries {
		src, dst := e.SrcStreamNumber, e.DstStreamNumber
		lvl := e.ThinningLevel
		if lvl > mmsproto.ThinningAll {
			lvl = mmsproto.ThinningNone
		}
		switch {
		case dst == mmsproto.NoStream && src == mmsproto.NoStream:
		case dst == mmsproto.NoStream:
			delete(sel.level, uint8(src)) // src is no longer wanted
		case dst > 127:
		case src == mmsproto.NoStream || src > 127:
			old, was := sel.level[uint8(dst)]
			was = was && old != mmsproto.ThinningAll
			sel.level[uint8(dst)] = lvl
			if streaming && !was && lvl != mmsproto.ThinningAll {
				sel.waitKey[uint8(dst)] = true
			}
		default:
			// Replace src by dst: dst starts at its first key frame, src
			// goes on until then (3.2.5.10).
			sel.level[uint8(dst)] = lvl
			if streaming {
				sel.waitKey[uint8(dst)] = true
				sel.replaces[uint8(dst)] = uint8(src)
			} else {
				delete(sel.level, uint8(src))
			}
		}
	}
}

// keeper locks the selection and returns the per-payload filter for one
// packet; done unlocks it.
func (sel *selection) keeper() func(pl *payloadInfo) bool {
	sel.mu.Lock()
	return sel.keep
}

func (sel *selection) done() { sel.mu.Unlock() }

// keep is called with sel.mu held, once per payload in packet order.
func (sel *selection) keep(pl *payloadInfo) bool {
	lvl, ok := sel.level[pl.stream]
	if !ok || lvl == mmsproto.ThinningAll {
		return false
	}
	keyStart := pl.keyFrame && (pl.offset == 0 || pl.compressed)
	if sel.waitKey[pl.stream] {
		if !keyStart {
			return false
		}
		delete(sel.waitKey, pl.stream)
		if src, ok := sel.replaces[pl.stream]; ok {
			delete(sel.replaces, pl.stream)
			if src != pl.stream {
				delete(sel.level, src)
			}
		}
	}
	if lvl == mmsproto.ThinningKeyOnly && !pl.keyFrame {
		return false
	}
	return true
}

// resendRing keeps the last Data packets sent over UDP by sequence number
// (3.2.5.13: resent unmodified).
type resendRing struct {
	dest netip.AddrPort // the client's UDP address
	mu   sync.Mutex
	seqs []uint32
	pkts [][]byte
	n    uint64
}

func newResendRing(size int, dest netip.AddrPort) *resendRing {
	return &resendRing{dest: dest, seqs: make([]uint32, size), pkts: make([][]byte, size)}
}

func (r *resendRing) add(seq uint32, dp []byte) {
	if r == nil {
		return
	}
	r.mu.Lock()
	i := r.n % uint64(len(r.pkts))
	r.seqs[i], r.pkts[i] = seq, dp
	r.n++
	r.mu.Unlock()
}

func (r *resendRing) get(seq uint32) []byte {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	i := uint64(seq) % uint64(len(r.pkts))
	// the ring is filled in sequence order, so seq can only be at one slot
	// when sequence numbers are contiguous; check it is that packet
	if r.pkts[i] != nil && r.seqs[i] == seq {
		return r.pkts[i]
	}
	for j := range r.pkts {
		if r.pkts[j] != nil && r.seqs[j] == seq {
			return r.pkts[j]
		}
	}
	return nil
}

// resend answers a RequestPacketListResend (3.2.5.13) from the client's
// address.
func (s *session) resend(u *net.UDPConn, from netip.AddrPort, req *mmsproto.RequestPacketListResend) {
	ring := s.resends.Load()
	// Only the client itself may ask (no amplification towards others).
	if ring == nil || from.Addr().Unmap() != ring.dest.Addr() || req.SourceID != uint16(fileID) {
		return
	}
	for _, seq := range req.Packets {
		if dp := ring.get(seq); dp != nil {
			u.WriteToUDPAddrPort(dp, ring.dest)
		}
	}
}
