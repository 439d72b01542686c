package mmsclient

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// startPosition is where StartPlaying starts: a time or a packet number.
type startPosition struct {
	time   time.Duration
	packet uint32
}

// streamSwitch sends the complete selection state of all streams (3.1.4.2)
// and waits for ReportStreamSwitch.
func (s *Session) streamSwitch(ctx context.Context, sel []uint16, only map[uint16]bool) error {
	entries := s.switchEntries(sel, only)
	if len(entries) == 0 {
		return nil
	}
	if err := s.send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: entries}); err != nil {
		return err
	}
	s.switchSent = true
	for s.switchSent {
		m, err := expect[*mmsproto.LinkMacToViewerReportStreamSwitch](s, ctx, "waiting for ReportStreamSwitch")
		if err != nil {
			return err
		}
		s.switchSent = false
		if m.HR != mmsproto.HRSuccess {
			return hrError("StreamSwitch", m.HR)
		}
	}
	return nil
}

// switchEntries lists the selection state of the streams in only (all when
// nil): on is {0xFFFF, n, 0}, the form every known client sends; off is
// {n, 0xFFFF, 0}, "wDstStreamNumber as 0xFFFF" (3.1.4.2).
func (s *Session) switchEntries(sel []uint16, only map[uint16]bool) []mmsproto.StreamSwitchEntry {
	var entries []mmsproto.StreamSwitchEntry
	for _, st := range s.streams {
		if only != nil && !only[st.Number] {
			continue
		}
		e := mmsproto.StreamSwitchEntry{SrcStreamNumber: st.Number, DstStreamNumber: mmsproto.NoStream, ThinningLevel: mmsproto.ThinningNone}
		if contains(sel, st.Number) {
			e.SrcStreamNumber, e.DstStreamNumber = mmsproto.NoStream, st.Number
		}
		entries = append(entries, e)
	}
	return entries
}

// play selects the streams and sends StartPlaying or StartStriding
// (3.1.4.2.1, 3.1.4.2.2), then waits for the server's confirmation.
func (s *Session) play(ctx context.Context, pos startPosition, rate float64) error {
	if err := s.streamSwitch(ctx, s.selected, nil); err != nil {
		return err
	}
	inc := s.nextPlayInc()
	s.playIncForStop = inc
	s.dataInc = uint8(inc)
	s.rebaseNext = true
	s.mu.Lock()
	s.playedBase, s.haveSend, s.haveLast = s.playedLocked(), false, false
	s.mu.Unlock()
	s.locReverse = rate < 0
	if s.reorder != nil {
		s.reorder.reset()
	}
	position := pos.time.Seconds()
	loc := uint32(0xFFFFFFFF)
	if pos.packet != 0 {
		position, loc = mmsproto.PositionFromLocation, pos.packet
	}
	striding := rate != 0 && rate != 1
	if striding {
		err := s.send(&mmsproto.LinkViewerToMacStartStriding{
			OpenFileID: s.fileID, Position: position, ASFOffset: 0xFFFFFFFF, LocationID: loc,
			PlayIncarnation: inc, Rate: rate,
		})
		if err != nil {
			return err
		}
		m, err := expect[*mmsproto.LinkMacToViewerReportStartStriding](s, ctx, "waiting for ReportStartStriding")
		if err != nil {
			return err
		}
		if m.HR != mmsproto.HRSuccess {
			return hrError("StartStriding", m.HR)
		}
	} else {
		sp := &mmsproto.LinkViewerToMacStartPlaying{
			OpenFileID: s.fileID, Position: position, ASFOffset: 0xFFFFFFFF, LocationID: loc,
			PlayIncarnation: inc,
		}
		if bw := s.Bandwidth(); s.serverMajor >= 9 && bw > 0 {
			// 3.1.4.2.1: tell servers of version 9 and later the link
			// bandwidth (they use it to pick streams of later playlist
			// entries, 3.2.4.2); no faster-than-real-time start is asked.
			sp.HasAccel, sp.AccelBandwidth = true, uint32(min(bw, 1<<32-1))
			sp.HasLinkBandwidth, sp.LinkBandwidth = true, uint32(min(bw, 1<<32-1))
		}
		err := s.send(sp)
		if err != nil {
			return err
		}
		m, err := expect[*mmsproto.LinkMacToViewerReportStartedPlaying](s, ctx, "waiting for ReportStartedPlaying")
		if err != nil {
			return err
		}
		if m.HR != mmsproto.HRSuccess {
			return hrError("StartPlaying", m.HR)
		}
	}
	s.state = stateStreaming
	s.mu.Lock()
	s.stats.StartTime = pos.time
	s.mu.Unlock()
	f := map[string]any{"position": pos.time.String(), "transport": s.transport}
	if pos.packet != 0 {
		f["packet"] = pos.packet
	}
	if striding {
		f["rate"] = rate
	}
	s.emit(event.Playing, fmt.Sprintf("playing from %v over %s", pos.time, s.transport), f)
	return nil
}

// Next returns the next item in order: an ASF data packet restored to the
// fixed packet size, or a new ASF file header at a playlist entry. It
// returns io.EOF after the last entry ended, and the session's error after a
// failure. Canceling ctx makes Next return ctx's error; the session stays
// usable.
func (s *Session) Next(ctx context.Context) (Item, error) {
	if s.h != nil {
		it, err := s.h.Next(ctx)
		return Item{Header: it.Header, Packet: it.Packet}, err
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	for {
		if s.itemHead < len(s.items) {
			it := s.items[s.itemHead]
			s.items[s.itemHead] = Item{}
			s.itemHead++
			if s.itemHead == len(s.items) {
				// Emptied: start over in the same array, which saves
				// an allocation per packet.
				s.items, s.itemHead = s.items[:0], 0
			}
			return it, nil
		}
		switch {
		case s.closed:
			return Item{}, ErrClosed
		case s.err != nil:
			return Item{}, s.err
		case s.eof:
			return Item{}, io.EOF
		}
		if err := s.step(ctx); err != nil {
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return Item{}, err
			}
			if errors.Is(err, errInterrupted) {
				return Item{}, ErrClosed
			}
			s.fail(err)
		}
	}
}

func (s *Session) fail(err error) {
	if s.err != nil {
		return
	}
	s.err = err
	s.mu.Lock()
	s.stats.EndReason = err.Error()
	s.mu.Unlock()
	s.emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
}

// step waits for one thing to happen while streaming and processes it.
func (s *Session) step(ctx context.Context) error {
	// While a batch of TCP items lasts, wait returns at once: the clock
	// read for a deadline would cost more than handling the packet.
	var deadline time.Time
	if len(s.inq) == 0 {
		deadline = time.Now().Add(s.opts.IdleTimeout)
	}
	e, err := s.wait(ctx, deadline, "playing")
	if err != nil {
		return err
	}
	switch e.kind {
	case evUDP:
		return s.onDatagram(e.udp)
	case evTick:
		s.onTick(time.Now())
	case evTCP:
		if e.tcp.item.msg == nil {
			return s.onTCPData(e.tcp)
		}
		handled, err := s.onMessage(ctx, e.tcp)
		if err != nil {
			return err
		}
		if !handled {
			s.log.Debug("ignoring message while playing", "type", fmt.Sprintf("%T", e.tcp.item.msg))
		}
	}
	return nil
}

// onDatagram handles one UDP datagram. Malformed datagrams are dropped (the
// resend machinery treats them as lost), not fatal: UDP is not trusted.
func (s *Session) onDatagram(d datagram) error {
	s.udpSeen = true
	dp, err := parseDataPacket(d.b)
	if err != nil {
		s.log.Debug("dropping malformed UDP datagram", "err", err)
		return nil
	}
	return s.onData(dp, true, d.at)
}

// onTCPData handles a Data packet read from TCP. Its Payload aliases the
// reader's chunk, valid until the next wait: what is kept is copied.
func (s *Session) onTCPData(in inbound) error {
	return s.onData(in.item.data, false, in.at)
}

// onData handles a Data packet (3.1.5.11, 3.1.5.12, 3.1.5.17).
func (s *Session) onData(d dataPacket, udp bool, at time.Time) error {
	if d.PlayIncarnation == incarnationPair && d.AFFlags == afPacketPair &&
		(d.LocationID == locPacketPair1 || d.LocationID == locPacketPair2) {
		s.onPacketPair(d, at)
		return nil
	}
	if s.assembly != nil && isHeaderPart(d) && d.PlayIncarnation == s.assembly.inc {
		done, err := s.assembly.add(d)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrProtocol, err)
		}
		if !done {
			return nil
		}
		b := s.assembly.bytes()
		s.assembly = nil
		first := s.header == nil
		if err := s.gotHeader(b); err != nil {
			return err
		}
		if !first {
			s.items = append(s.items, Item{Header: b})
			if s.transport == TransportTCP {
				return s.selectEntryStreams()
			}
		}
		return nil
	}
	if d.PlayIncarnation != s.dataInc || s.dataInc == 0 {
		s.mu.Lock()
		s.stats.Stale++
		s.mu.Unlock()
		return nil
	}
	if s.packetSize <= 0 {
		return fmt.Errorf("%w: ASF data packet before the ASF file header", ErrProtocol)
	}
	pkt, err := asf.RestorePadding(s.packetBuf(), d.Payload, s.packetSize)
	if err != nil {
		s.Recycle(pkt)
		if udp {
			s.log.Debug("dropping corrupt ASF data packet", "location", d.LocationID, "err", err)
			return nil
		}
		return fmt.Errorf("%w: ASF data packet %d: %w", ErrProtocol, d.LocationID, err)
	}
	s.mu.Lock()
	s.stats.PacketsReceived++
	s.stats.BytesReceived += uint64(len(d.Payload))
	s.mu.Unlock()
	if !udp || s.reorder == nil {
		s.deliver(pkt)
		return nil
	}
	seq := s.seqFor(d.AFFlags, d.LocationID)
	if s.probes[seq] {
		// A tail packet that was lost, recovered by the probe.
		delete(s.probes, seq)
		st := &s.reorder.st
		st.LostNet++
		st.ResendRequests++
		st.Recovered++
		st.Resent++
	}
	s.requestResend(s.reorder.add(seq, pkt, at))
	s.popReady()
	s.syncLoss()
	return nil
}

// syncLoss copies the reorder buffer's counters for Stats, which may run
// on another goroutine.
func (s *Session) syncLoss() {
	s.mu.Lock()
	s.loss = s.reorder.st
	s.mu.Unlock()
}

// seqFor reconstructs the 32-bit sequence number of a UDP Data packet from
// its 8-bit AFFlags (3.1.4.7). The nearest-number rule of seqTracker alone
// misplaces a resent packet that arrives more than 128 packets late, which
// happens at high packet rates; LocationId (the ASF packet number, moving
// one way while playing) tells new packets from late ones, and a late one
// is matched to the hole it fills.
func (s *Session) seqFor(b uint8, loc uint32) (seq uint32) {
	t := &s.seq
	if s.rebaseNext || !t.valid {
		first := !t.valid
		if s.rebaseNext {
			seq = t.rebase(b)
		} else {
			seq = t.extend(b)
		}
		s.rebaseNext = false
		s.highLoc = loc
		if first && b <= headAnchor {
			// The server's Sequence starts at 0 (3.2.1): packets before
			// the first one received were lost, and can be asked for.
			s.reorder.startAt(0)
		}
		s.noteLoc(seq, loc)
		return seq
	}
	defer func() { s.noteLoc(seq, loc) }()
	ahead := int64(loc) - int64(s.highLoc)
	if s.locReverse {
		ahead = -ahead
	}
	switch {
	case ahead > 0: // a new packet, up to 256 after the highest
		d := uint32(b - uint8(t.high))
		if d == 0 {
			d = 256
		}
		t.high += d
		s.highLoc = loc
		return t.high
	case ahead == 0:
		return t.high
	}
	// A late packet: at most -ahead numbers before the highest (every
	// sequence step is at least one LocationId step).
	back := uint32(uint8(t.high) - b)
	if back == 0 {
		back = 256
	}
	span := uint32(min(-ahead, 1<<20))
	first := t.high - back
	guess := uint32(0)
	found := false
	for c, n := first, uint32(back); n <= span && n <= uint32(2*s.reorder.window); c, n = c-256, n+256 {
		if !s.reorder.isMissing(c) {
			continue
		}
		if s.locFits(c, loc) {
			return c
		}
		if !found {
			guess, found = c, true
		}
	}
	if found {
		return guess
	}
	return first
}

// headAnchor: a first packet with AFFlags up to this is taken to follow
// the server's sequence number 0, the ones before it lost.
const headAnchor = 8

// locRingSize is how many sequence numbers noteLoc remembers.
const locRingSize = 4096

// noteLoc remembers the LocationId of packet seq, for locFits.
func (s *Session) noteLoc(seq, loc uint32) {
	if s.locs == nil {
		s.locs = make([]locEntry, locRingSize)
	}
	s.locs[seq%locRingSize] = locEntry{seq: seq, loc: loc, ok: true}
}

type locEntry struct {
	seq, loc uint32
	ok       bool
}

// locFits reports whether a packet with LocationId loc can be sequence
// number c: LocationIds grow with sequence numbers (shrink when
// rewinding), so loc must lie between those of the nearest packets known
// before and after c.
func (s *Session) locFits(c, loc uint32) bool {
	if s.locs == nil {
		return true
	}
	less := func(a, b uint32) bool { // a comes before b in play order
		if s.locReverse {
			return a > b
		}
		return a < b
	}
	for k := uint32(1); k <= 64; k++ {
		if e := s.locs[(c-k)%locRingSize]; e.ok && e.seq == c-k {
			if !less(e.loc, loc) {
				return false
			}
			break
		}
	}
	for k := uint32(1); k <= 64; k++ {
		if e := s.locs[(c+k)%locRingSize]; e.ok && e.seq == c+k {
			if !less(loc, e.loc) {
				return false
			}
			break
		}
	}
	return true
}

func (s *Session) onPacketPair(d dataPacket, at time.Time) {
	switch {
	case s.pairExpected == 2 && d.LocationID == locPacketPair1:
		s.pairArrival = at
		s.pairExpected = 1
	case s.pairExpected == 1 && d.LocationID == locPacketPair2:
		s.bandwidth = mmsproto.PacketPairBandwidth(len(d.Payload)+mmsproto.DataHeaderSize, at.Sub(s.pairArrival))
		s.setBandwidthMethod("packet-pair-udp")
		s.pairExpected = 0
	case s.pairExpected > 0:
		s.pairExpected-- // the first one was lost: no estimate from this pair
	}
}

func (s *Session) popReady() {
	for p := s.reorder.pop(); p != nil; p = s.reorder.pop() {
		s.deliver(p)
	}
}

// deliver queues a restored packet for Next.
func (s *Session) deliver(pkt []byte) {
	s.items = append(s.items, Item{Packet: pkt})
	// Only the send time is kept, not pkt: the caller may Recycle it.
	send, ok := packetSendTime(pkt)
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		if !s.haveSend {
			// The first packet of a play incarnation starts a new
			// segment of played content.
			s.firstSend, s.haveSend = send, true
		}
		s.lastSend, s.haveLast = send, true
	}
	s.stats.Delivered++
}

// playedLocked is msPlayed: the content time delivered in earlier play
// incarnations plus the span of the current one. s.mu is held.
func (s *Session) playedLocked() time.Duration {
	d := s.playedBase
	if s.haveSend && s.haveLast {
		span := int64(s.lastSend) - int64(s.firstSend)
		d += time.Duration(max(span, -span)) * time.Millisecond
	}
	return d
}

// packetSendTime reads the Send Time of an ASF data packet's payload
// parsing information (ASF 5.2.2) without parsing its payloads, which
// deliver would otherwise do for every packet.
func packetSendTime(pkt []byte) (uint32, bool) {
	off := 0
	if len(pkt) > 0 && pkt[0]&0x80 != 0 { // Error Correction Flags and data
		off = 1 + int(pkt[0]&0x0f)
	}
	if off+2 > len(pkt) {
		return 0, false
	}
	ltf := pkt[off]
	off += 2 + fieldLen(ltf>>5) + fieldLen(ltf>>1) + fieldLen(ltf>>3) // Packet, Sequence, Padding Length
	if off+4 > len(pkt) {
		return 0, false
	}
	return binary.LittleEndian.Uint32(pkt[off:]), true
}

// fieldLen is the size of a field whose length type is the low two bits of t.
func fieldLen(t uint8) int { return [4]int{0, 1, 2, 4}[t&3] }

// packetBuf returns an empty buffer for a restored packet, one that Recycle
// gave back when there is one.
func (s *Session) packetBuf() []byte {
	s.freeMu.Lock()
	for n := len(s.free); n > 0; n = len(s.free) {
		b := s.free[n-1]
		s.free[n-1] = nil
		s.free = s.free[:n-1]
		if cap(b) >= s.packetSize {
			s.freeMu.Unlock()
			return b[:0]
		}
	}
	s.freeMu.Unlock()
	return make([]byte, 0, s.packetSize)
}

// maxFree bounds the packets Recycle keeps for reuse.
const maxFree = 64

// Recycle hands back a packet that Next returned, once the caller is done
// with it (written out, copied): the session restores later packets into
// it, which saves an allocation per packet. The caller must not touch pkt
// afterwards. Recycling is optional; packets never recycled are garbage
// collected as usual.
func (s *Session) Recycle(pkt []byte) {
	if s.h != nil || cap(pkt) == 0 {
		return
	}
	s.freeMu.Lock()
	if len(s.free) < maxFree {
		s.free = append(s.free, pkt[:0])
	}
	s.freeMu.Unlock()
}

// requestResend sends RequestPacketListResend packets (3.1.4.7) to the
// server's UDP port, the same number as its TCP port (3.2.5.11.1).
func (s *Session) requestResend(seqs []uint32) {
	if len(seqs) == 0 || s.udp == nil {
		return
	}
	for len(seqs) > 0 {
		n := min(len(seqs), maxResendList)
		r := mmsproto.RequestPacketListResend{ClientID: s.clientID, SourceID: uint16(s.fileID), Packets: seqs[:n]}
		if _, err := s.udp.WriteTo(r.Marshal(), s.resend); err != nil {
			s.log.Debug("resend request failed", "err", err)
		}
		seqs = seqs[n:]
	}
	s.reportLoss(false)
}

func (s *Session) onTick(now time.Time) {
	if s.reorder == nil {
		return
	}
	s.requestResend(s.reorder.tick(now))
	s.popReady()
	s.syncLoss()
	s.reportLoss(false)
}

// reportLoss emits loss and recovery events at most once a second.
func (s *Session) reportLoss(force bool) {
	if s.reorder == nil || (!force && time.Since(s.lastLossEv) < time.Second) {
		return
	}
	st := s.reorder.st
	if st.LostNet == 0 {
		return
	}
	s.lastLossEv = time.Now()
	s.emit(event.Loss, fmt.Sprintf("%d Data packets missing so far, %d lost", st.LostNet, st.LostClient),
		map[string]any{"count": st.LostNet, "lost": st.LostClient, "requested": st.ResendRequests})
	if st.Recovered > 0 {
		s.emit(event.Recovered, fmt.Sprintf("%d Data packets recovered by resend", st.Recovered),
			map[string]any{"count": st.Recovered})
	}
}

// onMessage handles the messages that may arrive at any time while playing.
func (s *Session) onMessage(ctx context.Context, in inbound) (bool, error) {
	switch m := in.item.msg.(type) {
	case *mmsproto.LinkMacToViewerReportEndOfStream:
		return true, s.onEndOfStream(ctx, m)
	case *mmsproto.LinkMacToViewerReportStreamChange:
		return true, s.onStreamChange(ctx, m)
	case *mmsproto.LinkMacToViewerReportStreamSwitch:
		s.switchSent = false
		if m.HR != mmsproto.HRSuccess {
			return true, hrError("StreamSwitch", m.HR)
		}
		return true, nil
	case *mmsproto.LinkMacToViewerReportReadBlock:
		if m.HR != mmsproto.HRSuccess {
			return true, hrError("ReadBlock", m.HR)
		}
		return true, nil
	}
	return false, nil
}

// onEndOfStream follows 3.1.5.18.
func (s *Session) onEndOfStream(ctx context.Context, m *mmsproto.LinkMacToViewerReportEndOfStream) error {
	if s.stopSent {
		s.stopSent = false
		s.state = stateReady
		return nil
	}
	switch m.HR {
	case mmsproto.EndOfStreamNext:
		// The entry ended; ReportStreamChange follows. The log is due for
		// every EndOfStream the client did not ask for (3.1.5.18).
		if err := s.drainUDP(ctx); err != nil {
			return err
		}
		s.sendLog()
		return nil
	case mmsproto.EndOfStreamOK:
		if err := s.drainUDP(ctx); err != nil {
			return err
		}
		s.state = stateReady
		s.sendLog()
		s.eof = true
		s.mu.Lock()
		s.stats.EndReason = "end of stream"
		s.mu.Unlock()
		s.reportLoss(true)
		s.emit(event.End, "end of stream", map[string]any{"reason": "end of stream"})
		return nil
	}
	return hrError("playback", m.HR)
}

// drainUDP waits, after the server's EndOfStream, for Data packets still on
// their way over UDP and for the missing ones to be resent or given up.
func (s *Session) drainUDP(ctx context.Context) error {
	if s.reorder == nil {
		return nil
	}
	// Packets lost at the very end leave no gap behind them: probe for the
	// next few numbers (a server ignores numbers it never sent) and give
	// the answers a moment to arrive.
	const quiet = 400 * time.Millisecond
	const probeEvery = 100 * time.Millisecond // probes get lost too
	s.probes = map[uint32]bool{}
	var probed uint32 // probes sent up to this number
	probe := func() {
		if !s.seq.valid {
			return
		}
		if len(s.probes) == 0 && probed == 0 {
			probed = s.seq.high
		}
		// Packets still in flight raise the highest number: probe past it.
		var ask []uint32
		for ; before(probed, s.seq.high+tailProbes); probed++ {
			s.probes[probed+1] = true
			ask = append(ask, probed+1)
		}
		s.requestResend(ask)
	}
	probe()
	reprobe := func() {
		var ask []uint32
		for n := range s.probes {
			ask = append(ask, n)
		}
		slices.Sort(ask)
		s.requestResend(ask)
	}
	nextProbe := time.Now().Add(probeEvery)
	end := time.Now().Add(s.opts.ResendTimeout + s.opts.ResendRetry)
	last := time.Now()
	s.draining = true
	defer func() { s.draining = false }()
	for {
		now := time.Now()
		if now.After(end) || !s.reorder.pending() && now.Sub(last) >= quiet {
			break
		}
		until := end
		if !s.reorder.pending() {
			until = last.Add(quiet)
		}
		if now.After(nextProbe) {
			reprobe()
			nextProbe = now.Add(probeEvery)
		}
		if nextProbe.Before(until) {
			until = nextProbe
		}
		e, err := s.wait(ctx, until, "draining UDP")
		if err != nil {
			if isTimeout(err) {
				continue
			}
			return err
		}
		switch e.kind {
		case evUDP:
			last = time.Now()
			if err := s.onDatagram(e.udp); err != nil {
				return err
			}
			probe()
		case evTick:
			s.onTick(time.Now())
		case evTCP:
			if len(s.backlog) >= maxBacklog {
				return fmt.Errorf("%w: more than %d messages while draining UDP", ErrProtocol, maxBacklog)
			}
			// A Data packet's bytes belong to the reader's chunk,
			// which goes back to the reader: keep a copy.
			e.tcp.item.data.Payload = slices.Clone(e.tcp.item.data.Payload)
			s.backlog = append(s.backlog, e.tcp)
		}
	}
	s.probes = nil
	s.reorder.advance(s.reorder.end, time.Now())
	s.popReady()
	s.syncLoss()
	return nil
}

// maxBacklog bounds the TCP messages set aside while draining UDP.
const maxBacklog = 256

// tailProbes is how many numbers past the last packet drainUDP asks for.
const tailProbes = 3

// onStreamChange follows 3.1.5.19 and 3.1.4.4: the next playlist entry.
func (s *Session) onStreamChange(ctx context.Context, m *mmsproto.LinkMacToViewerReportStreamChange) error {
	s.mu.Lock()
	s.stats.Entries++
	entry := s.stats.Entries
	s.mu.Unlock()
	s.emit(event.EntryChange, fmt.Sprintf("playlist entry %d: header of %d bytes, %d bit/s", entry, m.HeaderSize, m.BitRate),
		map[string]any{"entry": entry, "header_size": m.HeaderSize, "bitrate": m.BitRate, "packet_size": m.PacketSize})
	s.packetSize = int(m.PacketSize)
	s.limitDatagrams(s.packetSize)
	if s.transport == TransportTCP {
		// The server sends the new header with playIncarnation 0xFF, then
		// the entry's packets with the same incarnation (3.2.4.2).
		s.assembly = newHeaderAssembly(incarnationEntry, s.opts.MaxHeaderSize)
		s.dataInc = incarnationEntry
		return nil
	}
	s.state = stateReady
	s.openFile.FileHeaderSize, s.openFile.FileBitRate = m.HeaderSize, m.BitRate
	if err := s.readHeader(ctx, false); err != nil {
		return err
	}
	if err := s.chooseStreams(); err != nil {
		return err
	}
	return s.play(ctx, startPosition{}, 1)
}

// selectEntryStreams follows 3.1.4.4 over TCP: the new entry's header came
// in the data stream (3.2.4.2) and its packets follow at once, with the
// streams the server chose from dwLinkBandwidth. The client makes its own
// choice, by the same rules as for the first entry, and sends it as the
// complete selection state in a StreamSwitch; ReportStreamSwitch arrives
// later among the data (onMessage), the server applies it while streaming
// (new streams start at a key frame, 3.2.5.10).
func (s *Session) selectEntryStreams() error {
	if err := s.chooseStreams(); err != nil {
		// Streams the caller named may not exist in this entry: fall back
		// to the automatic choice rather than end the session.
		s.log.Warn("stream choice for the new playlist entry", "err", err)
		sel := s.Header().SelectStreams(s.Bandwidth(), s.opts.Language)
		s.selected = sel
		s.mu.Lock()
		s.stats.Streams, s.stats.StreamsBitrate = sel, s.Header().StreamsBitrate(sel)
		s.mu.Unlock()
	}
	entries := s.switchEntries(s.selected, nil)
	if len(entries) == 0 {
		return nil
	}
	if err := s.send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: entries}); err != nil {
		return err
	}
	s.switchSent = true
	return nil
}

// stop sends StopPlaying and the CLIENT_LOG and waits for EndOfStream
// (3.1.4.5). Data packets that arrive meanwhile are stale.
func (s *Session) stop(ctx context.Context) error {
	if s.state != stateStreaming {
		return nil
	}
	if err := s.send(&mmsproto.LinkViewerToMacStopPlaying{OpenFileID: s.fileID, PlayIncarnation: s.playIncForStop}); err != nil {
		return err
	}
	s.stopSent = true
	s.sendLog()
	s.dataInc = 0
	deadline := time.Now().Add(s.opts.StepTimeout)
	for s.stopSent {
		e, err := s.wait(ctx, deadline, "waiting for EndOfStream after StopPlaying")
		if err != nil {
			return err
		}
		if e.kind == evTCP && e.tcp.item.msg != nil {
			if _, err := s.onMessage(ctx, e.tcp); err != nil {
				return err
			}
		} else if e.kind != evTick {
			s.mu.Lock()
			s.stats.Stale++
			s.mu.Unlock()
		}
	}
	if s.reorder != nil {
		s.reorder.reset()
	}
	return nil
}

// Seek restarts playback at pos (4.5.1: StopPlaying, Logging, EndOfStream,
// StreamSwitch, StartPlaying). Packets not yet returned by Next are dropped.
func (s *Session) Seek(ctx context.Context, pos time.Duration) error {
	if s.h != nil {
		return s.h.Seek(ctx, pos)
	}
	return s.reposition(ctx, startPosition{time: pos}, 1)
}

// SeekPacket restarts playback at ASF data packet n (StartPlaying locationId).
func (s *Session) SeekPacket(ctx context.Context, n uint32) error {
	if s.h != nil {
		return errNotOverHTTP("SeekPacket")
	}
	return s.reposition(ctx, startPosition{packet: n}, 1)
}

// Stride plays from pos at a trick-mode rate between -5 and 5 (fast forward
// or rewind, StartStriding, 4.5.1). Rate 1 is normal playback.
func (s *Session) Stride(ctx context.Context, pos time.Duration, rate float64) error {
	if rate == 0 || rate < -5 || rate > 5 || math.IsNaN(rate) {
		return fmt.Errorf("mmsclient: stride rate %g outside -5..5 or 0", rate)
	}
	if s.h != nil {
		if rate == 1 {
			return s.h.Seek(ctx, pos)
		}
		return errNotOverHTTP("Stride")
	}
	return s.reposition(ctx, startPosition{time: pos}, rate)
}

func (s *Session) reposition(ctx context.Context, pos startPosition, rate float64) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.stop(ctx); err != nil {
		s.fail(err)
		return err
	}
	s.items, s.itemHead, s.eof, s.assembly = nil, 0, false, nil
	if err := s.play(ctx, pos, rate); err != nil {
		s.fail(err)
		return err
	}
	return nil
}

// SwitchStreams changes the streams while playing (3.1.4.3): only the
// streams whose state changes are named in the StreamSwitch. Over MMSH it
// is a SelectStream request (MS-WMSP 3.1.4.4, mmsh.Session.SwitchStreams).
func (s *Session) SwitchStreams(ctx context.Context, streams []uint16) error {
	if s.h != nil { // MMSH: SelectStream (MS-WMSP 2.2.2.8, 3.1.4.4)
		return s.h.SwitchStreams(ctx, streams)
	}
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if err := s.usable(); err != nil {
		return err
	}
	if s.state != stateStreaming {
		return errors.New("mmsclient: SwitchStreams needs a playing session")
	}
	sel, err := s.Header().CheckStreams(streams)
	if err != nil {
		return fmt.Errorf("mmsclient: %w", err)
	}
	changed := map[uint16]bool{}
	for _, st := range s.streams {
		was, now := contains(s.selected, st.Number), contains(sel, st.Number)
		if was != now {
			changed[st.Number] = true
		}
	}
	if err := s.streamSwitch(ctx, sel, changed); err != nil {
		s.fail(err)
		return err
	}
	s.selected = sel
	br := s.Header().StreamsBitrate(sel)
	s.mu.Lock()
	s.stats.Streams, s.stats.StreamsBitrate = sel, br
	s.mu.Unlock()
	s.emit(event.Streams, fmt.Sprintf("switched to streams %v (%d bit/s)", sel, br), map[string]any{"streams": sel, "bitrate": br})
	return nil
}

func errNotOverHTTP(op string) error {
	return fmt.Errorf("mmsclient: %s is not supported over MMSH (transport http)", op)
}

func contains(s []uint16, n uint16) bool {
	for _, v := range s {
		if v == n {
			return true
		}
	}
	return false
}

func (s *Session) usable() error {
	switch {
	case s.closed:
		return ErrClosed
	case s.err != nil:
		return s.err
	}
	return nil
}

// Close ends the session: StopPlaying and the CLIENT_LOG when still
// playing, CloseFile, then the connection (3.1.4.8). It waits for the
// session's goroutines to end. It may be called from any goroutine, also
// while another one is blocked in Next (which then returns ErrClosed).
// Calling it again does nothing.
func (s *Session) Close() error {
	if s.h != nil {
		return s.h.Close()
	}
	if !s.opMu.TryLock() {
		s.interruptOnce.Do(func() { close(s.interrupt) })
		s.opMu.Lock()
	}
	defer s.opMu.Unlock()
	if s.closed {
		return nil
	}
	s.ignoreInterrupt = true // the graceful steps below wait again
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.StepTimeout)
	defer cancel()
	if s.err == nil && s.ctx.Err() == nil {
		if s.state == stateStreaming {
			_ = s.stop(ctx)
		}
		if !s.Stats().LogSent && s.fileOpen {
			s.sendLog()
		}
		if s.fileOpen {
			_ = s.send(&mmsproto.LinkViewerToMacCloseFile{OpenFileID: s.fileID})
		}
	}
	s.closed = true
	s.shutdown()
	st := s.Stats()
	if !s.eof && s.err == nil {
		s.emit(event.End, "closed", map[string]any{"reason": "closed"})
	}
	s.emit(event.Stats, fmt.Sprintf("%d packets, %d lost, %d recovered", st.PacketsReceived, st.Lost, st.Recovered), statsFields(st))
	return nil
}

// shutdown stops the goroutines and closes the sockets.
func (s *Session) shutdown() {
	s.cancel()
	if s.conn != nil {
		s.conn.Close()
	}
	if s.udp != nil {
		s.udp.Close()
	}
	s.wg.Wait()
}

func statsFields(st Stats) map[string]any {
	return map[string]any{
		"transport": st.Transport, "packets_received": st.PacketsReceived, "bytes_received": st.BytesReceived,
		"packets_lost_net": st.PacketsLostNet, "packets_lost_cont": st.PacketsLostCont,
		"resend_requests": st.ResendRequests, "packets_recovered": st.Recovered, "packets_resent": st.Resent,
		"packets_lost": st.Lost, "packets_late": st.Late, "bandwidth_bps": st.Bandwidth,
		"streams": st.Streams, "played_ms": st.Played.Milliseconds(), "avg_bps": st.AvgBps,
		"entries": st.Entries, "log_sent": st.LogSent,
	}
}
