package mmsserver

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// State is the State variable of 3.2.1.
type State int

// States of 3.2.1 and 4.2.
const (
	StateInit State = iota
	StateReady
	StateStreaming
)

func (s State) String() string {
	switch s {
	case StateInit:
		return "INIT"
	case StateReady:
		return "READY"
	case StateStreaming:
		return "STREAMING"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// fileID is the File-ID the server assigns (3.2.5.6). It is 1 for every
// session: FFmpeg (mmst.c) and VLC (mmstu.c) do not echo the openFileId of
// ReportOpenFile but always send 1, and VLC reads an openFileId other than 1
// or 2 as an error. Sessions are told apart by Client-ID.
const fileID = 1

// serverVersion is ServerVersionInfo of ReportConnectedEX (2.2.4.2).
const serverVersion = "9.1.1.3862"

const (
	hrInvalidArg = 0x80070057 // E_INVALIDARG
	outQueueSize = 256
)

// session is one TCP connection and its protocol state (3.2.1).
type session struct {
	srv    *Server
	conn   net.Conn
	udp    *net.UDPConn
	remote netip.AddrPort
	log    *slog.Logger

	// Abstract data model, 3.2.1.
	clientID      uint32
	clientPort    uint16
	clientVersion mmsproto.SubscriberName
	incarnation   uint32
	startInc      uint32 // playIncarnation of the latest StartPlaying or StartStriding (2.2.4.5)
	sequence      uint32 // owned by the player while one runs
	state         State
	udpPacketPair bool
	linkBandwidth uint32 // dwLinkBandwidth of the latest StartPlaying, bits/s; 0 = not sent

	connected   bool
	content     *content
	sel         *selection
	switched    bool // a StreamSwitch was received (3.2.5.11)
	authed      bool
	authTries   int
	authx       *auth.ServerExchange
	keepAlive   *time.Timer
	idle        *time.Timer
	idleRunning bool

	out         chan outItem
	playDone    chan *player
	player      *player
	resends     atomic.Pointer[resendRing]
	rnd         *rand.Rand
	pendingOpen *content
}

type outItem struct {
	msg   mmsproto.Message // a 2.2.4 message, framed by the writer
	data  []byte           // a Data packet (2.2.2), written as is
	flush chan struct{}    // closed once everything queued before is written
}

func newSession(srv *Server, c net.Conn, udp *net.UDPConn) *session {
	s := &session{
		srv:      srv,
		conn:     c,
		udp:      udp,
		remote:   remoteAddrPort(c),
		out:      make(chan outItem, outQueueSize),
		playDone: make(chan *player, 1),
		sel:      newSelection(),
		rnd:      rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
	}
	s.log = srv.logger().With("remote", c.RemoteAddr().String())
	return s
}

func (s *session) emit(kind event.Kind, msg string, fields map[string]any) {
	s.srv.OnEvent.Emit(kind, msg, fields)
}

// run serves the connection until it closes, CloseFile, a timer or ctx.
func (s *session) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	in := make(chan mmsproto.Message)
	readErr := make(chan error, 1)
	wg.Add(2)
	go func() { defer wg.Done(); s.writer(ctx, cancel) }()
	go func() { defer wg.Done(); readErr <- s.reader(ctx, in) }()

	s.keepAlive = time.NewTimer(time.Hour)
	s.keepAlive.Stop()
	s.idle = time.NewTimer(time.Hour)
	s.idle.Stop()
	err := s.loop(ctx, in, readErr)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && ctx.Err() == nil {
		s.log.Info("session ended", "err", err)
	}
	s.stopPlayer()
	s.keepAlive.Stop()
	s.idle.Stop()
	if s.clientID != 0 {
		s.emit("session_end", "session ended", map[string]any{"client_id": s.clientID})
	}
	// Let queued messages (EndOfStream, a redirect) go out, briefly.
	if ctx.Err() == nil {
		s.flush(ctx, time.Second)
	}
	cancel()
	s.conn.Close()
	wg.Wait()
	if s.content != nil && s.content.opened != nil {
		s.content.opened.Close()
	}
}

// flush waits until the writer has written what is queued, or d has passed.
func (s *session) flush(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	done := make(chan struct{})
	select {
	case s.out <- outItem{flush: done}:
	case <-ctx.Done():
		return
	case <-t.C:
		return
	}
	select {
	case <-done:
	case <-ctx.Done():
	case <-t.C:
	}
}

func (s *session) loop(ctx context.Context, in <-chan mmsproto.Message, readErr <-chan error) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case m := <-in:
			// 3.2.5.1: a received packet stops the KeepAlive timer.
			s.keepAlive.Stop()
			if err := s.handle(ctx, m); err != nil {
				return err
			}
		case <-s.keepAlive.C:
			// 3.2.6.1
			s.send(ctx, &mmsproto.LinkMacToViewerPing{})
		case <-s.idle.C:
			// 3.2.6.2
			s.idleRunning = false
			return errors.New("idle timeout")
		case p := <-s.playDone:
			if p == s.player {
				if err := s.endOfEntry(ctx, p); err != nil {
					return err
				}
			}
		}
	}
}

// send queues a message and starts the KeepAlive timer (3.2.5.2).
func (s *session) send(ctx context.Context, m mmsproto.Message) bool {
	select {
	case s.out <- outItem{msg: m}:
	case <-ctx.Done():
		return false
	}
	s.keepAlive.Reset(durOr(s.srv.KeepAlive, DefaultKeepAlive))
	return true
}

func (s *session) sendData(ctx context.Context, b []byte) bool {
	select {
	case s.out <- outItem{data: b}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *session) startIdle() {
	if !s.idleRunning { // 3.2.2: starting a running timer has no effect
		s.idleRunning = true
		s.idle.Reset(durOr(s.srv.IdleTimeout, DefaultIdleTimeout))
	}
}

func (s *session) stopIdle() {
	s.idleRunning = false
	s.idle.Stop()
}

// writer writes queued messages and Data packets in order, coalescing what
// is queued into one write. A client that does not read makes a write time
// out, which ends the session.
func (s *session) writer(ctx context.Context, cancel context.CancelFunc) {
	var (
		buf   []byte
		seq   uint16
		start = time.Now()
		wt    = durOr(s.srv.WriteTimeout, DefaultWriteTimeout)
	)
	var flushed []chan struct{}
	add := func(it outItem) {
		if it.flush != nil {
			flushed = append(flushed, it.flush)
		} else if it.msg != nil {
			buf = mmsproto.AppendMarshal(buf, it.msg, seq, uint64(time.Since(start).Milliseconds()))
			seq++
		} else {
			buf = append(buf, it.data...)
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case it := <-s.out:
			buf = buf[:0]
			add(it)
		more:
			for len(buf) < 64<<10 {
				select {
				case it := <-s.out:
					add(it)
				default:
					break more
				}
			}
			s.conn.SetWriteDeadline(time.Now().Add(wt))
			if _, err := s.conn.Write(buf); err != nil {
				s.log.Info("write failed, dropping client", "err", err)
				cancel()
				return
			}
			for _, f := range flushed {
				close(f)
			}
			flushed = flushed[:0]
		}
	}
}

// reader reads TcpMessageHeader packets (2.2.3) and passes their messages
// on. Before Connect it allows HandshakeTimeout; after, the Idle-Timeout
// timer decides.
func (s *session) reader(ctx context.Context, in chan<- mmsproto.Message) error {
	maxSize := intOr(s.srv.MaxMessageSize, DefaultMaxMessageSize)
	s.conn.SetReadDeadline(time.Now().Add(durOr(s.srv.HandshakeTimeout, DefaultHandshakeTimeout)))
	var hdr [mmsproto.HeaderSize]byte
	body := make([]byte, 0, 512)
	first := true
	msgTimeout := durOr(s.srv.HandshakeTimeout, DefaultHandshakeTimeout)
	for {
		// Between messages the client may stay silent (timers decide), but
		// once a message has begun the rest must follow within
		// HandshakeTimeout: a client trickling bytes does not hold a session.
		if _, err := io.ReadFull(s.conn, hdr[:1]); err != nil {
			return err
		}
		if !first {
			s.conn.SetReadDeadline(time.Now().Add(msgTimeout))
		}
		if _, err := io.ReadFull(s.conn, hdr[1:]); err != nil {
			return err
		}
		var h mmsproto.TcpMessageHeader
		if err := h.Unmarshal(hdr[:]); err != nil {
			return fmt.Errorf("bad TcpMessageHeader: %w", err)
		}
		n := int(h.MessageLength) - 16
		if n > maxSize {
			return fmt.Errorf("message of %d bytes exceeds the limit of %d", n, maxSize)
		}
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(s.conn, body); err != nil {
			return err
		}
		if !first {
			s.conn.SetReadDeadline(time.Time{})
		}
		for b := body; len(b) > 0; {
			if len(b) < 8 {
				return errors.New("truncated MMS message")
			}
			size := uint64(binary.LittleEndian.Uint32(b)) * 8
			if size < 8 || size > uint64(len(b)) {
				return fmt.Errorf("chunkLen %d beyond the %d bytes of the packet", size/8, len(b))
			}
			m, err := mmsproto.UnmarshalMessage(b[:size])
			b = b[size:]
			var unknown *mmsproto.UnknownMIDError
			if errors.As(err, &unknown) {
				// 3.2.5.1: the MID must be one of 2.2.4; ignore others.
				s.log.Debug("unknown message ignored", "mid", fmt.Sprintf("0x%08x", unknown.MID))
				continue
			}
			if err != nil {
				return err
			}
			if first {
				if _, ok := m.(*mmsproto.LinkViewerToMacConnect); !ok {
					return fmt.Errorf("first message is MID 0x%08x, not Connect", m.MID())
				}
				first = false
				s.conn.SetReadDeadline(time.Time{})
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
}

// handle processes one client message (3.2.5).
func (s *session) handle(ctx context.Context, m mmsproto.Message) error {
	s.log.Debug("received", "mid", fmt.Sprintf("0x%08x", m.MID()), "state", s.state)
	switch m := m.(type) {
	case *mmsproto.LinkViewerToMacConnect:
		return s.onConnect(ctx, m)
	}
	if !s.connected {
		return fmt.Errorf("MID 0x%08x before Connect", m.MID())
	}
	switch m := m.(type) {
	case *mmsproto.LinkViewerToMacFunnelInfo:
		s.onFunnelInfo(ctx, m)
	case *mmsproto.LinkViewerToMacConnectFunnel:
		s.onConnectFunnel(ctx, m)
	case *mmsproto.LinkViewerToMacOpenFile:
		return s.onOpenFile(ctx, m)
	case *mmsproto.LinkViewerToMacSecurityResponse:
		return s.onSecurityResponse(ctx, m)
	case *mmsproto.LinkViewerToMacReadBlock:
		s.onReadBlock(ctx, m)
	case *mmsproto.LinkViewerToMacCancelReadBlock:
		// 3.2.5.9: header packets are queued at once, nothing is left to
		// discard; the server goes on waiting.
	case *mmsproto.LinkViewerToMacStreamSwitch:
		s.onStreamSwitch(ctx, m)
	case *mmsproto.LinkViewerToMacStartPlaying:
		s.onStartPlaying(ctx, m)
	case *mmsproto.LinkViewerToMacStartStriding:
		s.onStartStriding(ctx, m)
	case *mmsproto.LinkViewerToMacStopPlaying:
		s.onStopPlaying(ctx, m)
	case *mmsproto.LinkViewerToMacLogging:
		s.onLogging(m)
	case *mmsproto.LinkViewerToMacPong:
		// 3.2.5.16: nothing else to do.
	case *mmsproto.LinkViewerToMacCloseFile:
		// 3.2.5.17. FFmpeg and VLC send openFileId 1 like every other
		// message; a different value is logged, the session ends anyway.
		if m.OpenFileID != fileID {
			s.log.Debug("CloseFile with another openFileId", "openFileId", m.OpenFileID)
		}
		return io.EOF
	default:
		s.log.Debug("unexpected message ignored", "mid", fmt.Sprintf("0x%08x", m.MID()))
	}
	return nil
}

// onConnect: 3.2.5.3.
func (s *session) onConnect(ctx context.Context, m *mmsproto.LinkViewerToMacConnect) error {
	sn, err := mmsproto.ParseSubscriberName(m.SubscriberName)
	if err != nil {
		s.send(ctx, &mmsproto.LinkMacToViewerReportConnectedEX{HR: hrInvalidArg, PlayIncarnation: mmsproto.MMSDisablePacketPair})
		return err
	}
	if s.connected {
		// A second Connect starts a new session state (3.2.3).
		s.stopPlayer()
		s.srv.mu.Lock()
		delete(s.srv.sessions, s.clientID)
		s.srv.mu.Unlock()
	}
	s.connected = true
	s.clientVersion = sn
	s.clientID = s.srv.registerSession(s)
	s.clientPort = 0
	s.state = StateInit
	s.sequence = 0
	s.udpPacketPair = false
	s.log = s.log.With("client_id", s.clientID)
	s.startIdle()
	pi := uint32(mmsproto.MMSDisablePacketPair)
	if m.PlayIncarnation == mmsproto.MMSUsePacketPair {
		pi = mmsproto.MMSUsePacketPair
	}
	auth := ""
	if s.srv.Auth != nil {
		auth = "BASIC"
		if s.srv.Auth.Scheme == "ntlm" {
			auth = "NTLM"
		}
	}
	s.log.Info("connect", "client", sn.Token+"/"+sn.Version, "wms4", sn.IsWMS4())
	s.emit("connect", "client connected", map[string]any{"client": m.SubscriberName, "client_id": s.clientID})
	s.send(ctx, mmsproto.NewReportConnectedEX(pi, serverVersion, auth))
	return nil
}

// onFunnelInfo: 3.2.5.4 and the packet-pair sequences of 4.4.
func (s *session) onFunnelInfo(ctx context.Context, m *mmsproto.LinkViewerToMacFunnelInfo) {
	switch m.PlayIncarnation {
	case mmsproto.MMSUsePacketPair, mmsproto.MMSPacketPairTCPHighEntropy:
		// Three messages whose TcpMessageHeader packets are 512, 512 and
		// 1056 bytes (3.2.5.4). 4.4.2 counts 480 and 1016 random bytes, which
		// leaves out the TcpMessageHeader (32) and the fixed fields; the
		// packet sizes of 3.2.5.4 are what clients time.
		const fixed = mmsproto.HeaderSize + 8 + 40
		for _, total := range []int{512, 512, 1056} {
			pp := make([]byte, total-fixed)
			s.fillRandom(pp)
			s.send(ctx, mmsproto.NewReportFunnelInfo(mmsproto.MMSPacketPairTCPHighEntropy, s.clientID, pp))
		}
	case mmsproto.MMSPacketPairUDPHighEntropy:
		s.udpPacketPair = s.udp != nil
		pi := uint32(mmsproto.MMSPacketPairUDPHighEntropy)
		if !s.udpPacketPair {
			pi = mmsproto.MMSDisablePacketPair
		}
		s.send(ctx, mmsproto.NewReportFunnelInfo(pi, s.clientID, nil))
	default:
		// FFmpeg sends 0x00F0F0F0, which is none of 2.2.4.19's values.
		s.send(ctx, mmsproto.NewReportFunnelInfo(mmsproto.MMSDisablePacketPair, s.clientID, nil))
	}
}

func (s *session) fillRandom(b []byte) {
	for i := 0; i < len(b); i += 8 {
		var w [8]byte
		binary.LittleEndian.PutUint64(w[:], s.rnd.Uint64())
		copy(b[i:], w[:])
	}
}

// onConnectFunnel: 3.2.5.5.
func (s *session) onConnectFunnel(ctx context.Context, m *mmsproto.LinkViewerToMacConnectFunnel) {
	fn, err := mmsproto.ParseFunnelName(m.FunnelName)
	if err == nil && fn.Proto == "UDP" && (fn.Port == 0 || s.udp == nil || !s.remote.IsValid()) {
		err = errors.New("UDP data not available")
	}
	if err == nil && s.state == StateStreaming {
		err = errors.New("ConnectFunnel while streaming")
	}
	if err != nil {
		s.log.Info("funnel refused", "funnel", m.FunnelName, "err", err)
		s.send(ctx, &mmsproto.LinkMacToViewerReportDisconnectedFunnel{HR: hrInvalidArg})
		return
	}
	s.clientPort = 0
	if fn.Proto == "UDP" {
		// The IP address in funnelName is ignored: Data packets go to the
		// address of the TCP connection (3.2.5.5).
		s.clientPort = uint16(fn.Port)
		s.resends.Store(newResendRing(intOr(s.srv.ResendHistory, DefaultResendHistory), s.udpDest()))
	}
	s.log.Debug("funnel", "transport", fn.Proto, "port", fn.Port)
	s.send(ctx, &mmsproto.LinkMacToViewerReportConnectedFunnel{FunnelName: mmsproto.FunnelOfTheGods})
}

func (s *session) udpDest() netip.AddrPort {
	return netip.AddrPortFrom(s.remote.Addr(), s.clientPort)
}

// onOpenFile: 3.2.5.6.
func (s *session) onOpenFile(ctx context.Context, m *mmsproto.LinkViewerToMacOpenFile) error {
	name := cleanName(m.FileName)
	if url, ok := s.srv.Redirects[name]; ok {
		s.log.Info("redirect", "path", name, "to", url)
		s.emit("redirect", "client redirected", map[string]any{"path": name, "url": url})
		s.send(ctx, &mmsproto.LinkMacToViewerReportRedirect{RedirectType: mmsproto.RedirectURL, Location: url})
		return io.EOF // 3.2.5.6: close after a redirect
	}
	c, err := s.srv.resolve(name)
	if err != nil {
		s.log.Info("open failed", "path", name, "err", err)
		s.send(ctx, &mmsproto.LinkMacToViewerReportOpenFile{HR: mmsproto.HRFileNotFound, PlayIncarnation: m.PlayIncarnation})
		return nil
	}
	if s.srv.Auth != nil && !s.authed {
		s.pendingOpen = c
		return s.authenticate(ctx, m.PlayIncarnation, m.TokenData)
	}
	return s.open(ctx, c, m.PlayIncarnation)
}

// open makes c the session's content and answers with ReportOpenFile.
func (s *session) open(ctx context.Context, c *content, playIncarnation uint32) error {
	s.stopPlayer()
	if s.content != nil && s.content.opened != nil {
		s.content.opened.Close()
	}
	s.content = nil
	var m *media
	if c.live == nil {
		var err error
		if m, err = openMedia(c.files[0]); err != nil {
			s.log.Warn("open failed", "path", c.name, "err", err)
			s.send(ctx, &mmsproto.LinkMacToViewerReportOpenFile{HR: mmsproto.HRFail, PlayIncarnation: playIncarnation})
			return nil
		}
		c.opened = m
	}
	s.content = c
	s.sel = newSelection()
	s.switched = false
	s.state = StateInit
	rep := s.reportOpenFile(playIncarnation)
	s.log.Info("open", "path", c.name, "live", c.live != nil, "playlist", c.isList, "bitrate", rep.FileBitRate)
	s.emit("open", "content opened", map[string]any{"path": c.name})
	s.send(ctx, rep)
	return nil
}

func (s *session) media() *media {
	if s.content == nil {
		return nil
	}
	if s.content.live != nil {
		return s.content.live.media
	}
	return s.content.opened
}

func (s *session) headerBytes() []byte {
	if s.content.live != nil {
		return s.content.live.header
	}
	return s.content.opened.headerBytes
}

func (s *session) reportOpenFile(playIncarnation uint32) *mmsproto.LinkMacToViewerReportOpenFile {
	m := s.media()
	rep := &mmsproto.LinkMacToViewerReportOpenFile{
		PlayIncarnation: playIncarnation,
		OpenFileID:      fileID,
		FilePacketSize:  uint32(m.packetSize),
		FileBitRate:     m.bitRate,
		FileHeaderSize:  uint32(len(s.headerBytes())),
	}
	if s.content.live != nil {
		rep.FileAttributes = mmsproto.FileAttributeBroadcast | mmsproto.FileAttributeLive
	} else {
		rep.FileAttributes = mmsproto.FileAttributeCanSeek | mmsproto.FileAttributeCanStride
		rep.FileDuration = m.duration
		rep.FileBlocks = uint32(math.Ceil(m.duration))
		rep.FilePacketCount = m.packetCount
		if s.content.isList {
			rep.FileAttributes |= mmsproto.FileAttributePlaylist
		}
	}
	return rep
}

// onReadBlock: 3.2.5.8.
func (s *session) onReadBlock(ctx context.Context, m *mmsproto.LinkViewerToMacReadBlock) {
	if s.content == nil || m.OpenFileID != fileID {
		s.send(ctx, &mmsproto.LinkMacToViewerReportReadBlock{HR: hrInvalidArg, PlayIncarnation: m.PlayIncarnation})
		return
	}
	s.incarnation = m.PlayIncarnation
	if s.clientPort != 0 && s.udpPacketPair {
		for _, loc := range []uint32{mmsproto.LocationPacketPair1, mmsproto.LocationPacketPair2} {
			pp := make([]byte, 1464)
			s.fillRandom(pp)
			dp := (&mmsproto.DataPacket{LocationID: loc, PlayIncarnation: mmsproto.IncarnationPair,
				AFFlags: mmsproto.AFFlagsPacketPair, Payload: pp}).Marshal()
			s.udp.WriteToUDPAddrPort(dp, s.udpDest())
		}
	}
	s.send(ctx, &mmsproto.LinkMacToViewerReportReadBlock{PlayIncarnation: m.PlayIncarnation})
	if s.clientPort != 0 {
		// 3.2.5.8: ReportReadBlock precedes the header's Data packets. Over
		// UDP they leave by another socket, so the queued TCP reply is
		// written first: VLC, finding the whole header on UDP before the
		// reply, leaves the reply unread and later takes it for the answer
		// to its StreamSwitch ("unknown answer (0x11 instead of 0x21)").
		s.flush(ctx, time.Second)
	}
	s.sendHeader(ctx, uint8(s.incarnation))
	if s.state == StateInit {
		s.state = StateReady
	}
	s.startIdle()
}

// sendHeader sends the ASF file header in Data packets no larger than the
// packet size, paced below the content bit rate (3.2.5.8.1).
func (s *session) sendHeader(ctx context.Context, incarnation uint8) {
	m := s.media()
	h := s.headerBytes()
	chunk := m.packetSize
	for loc := uint32(0); len(h) > 0; loc++ {
		n := min(chunk, len(h))
		flags := uint8(mmsproto.AFFlagsHeaderPart)
		if n == len(h) {
			flags = mmsproto.AFFlagsHeaderLast
		}
		dp := (&mmsproto.DataPacket{LocationID: loc, PlayIncarnation: incarnation, AFFlags: flags, Payload: h[:n]}).Marshal()
		h = h[n:]
		if s.clientPort != 0 {
			s.udp.WriteToUDPAddrPort(dp, s.udpDest())
		} else if !s.sendData(ctx, dp) {
			return
		}
		if len(h) > 0 && !s.srv.Unpaced && m.bitRate > 0 {
			d := time.Duration(float64(len(dp)*8) / float64(m.bitRate) / s.srv.rate() * float64(time.Second))
			select {
			case <-time.After(d):
			case <-ctx.Done():
				return
			}
		}
	}
}

// onStreamSwitch: 3.2.5.10.
func (s *session) onStreamSwitch(ctx context.Context, m *mmsproto.LinkViewerToMacStreamSwitch) {
	s.switched = true
	s.sel.apply(m.Entries, s.state == StateStreaming)
	s.send(ctx, &mmsproto.LinkMacToViewerReportStreamSwitch{})
}

// defaultSelection applies 3.2.5.11: without a StreamSwitch, WMS 4.x
// clients get every stream and others none.
func (s *session) defaultSelection() {
	if s.switched {
		return
	}
	if s.clientVersion.IsWMS4() {
		s.sel.selectAll(s.media().streams)
	}
}

// position resolves the start of StartPlaying and StartStriding: locationId,
// else asfOffset, else position (2.2.4.25). VLC sends position 0 with a
// packet number in locationId when it seeks, against 2.2.4.25 which wants
// position DBL_MAX then; a usable locationId therefore wins.
func (s *session) position(pos float64, asfOffset, locationID uint32) uint64 {
	m := s.media()
	switch {
	case locationID != 0 && locationID != 0xFFFFFFFF:
		return min(uint64(locationID), m.packetCount)
	case asfOffset != 0 && asfOffset != 0xFFFFFFFF:
		if int64(asfOffset) < m.dataOffset {
			return 0
		}
		return min(uint64(int64(asfOffset)-m.dataOffset)/uint64(m.packetSize), m.packetCount)
	case pos > 0 && pos < math.MaxFloat64 && !math.IsNaN(pos):
		return m.packetForTime(uint32(min(pos*1000, float64(math.MaxUint32/2))))
	}
	return 0
}

// onStartPlaying: 3.2.5.11.
func (s *session) onStartPlaying(ctx context.Context, m *mmsproto.LinkViewerToMacStartPlaying) {
	if s.content == nil || s.state == StateInit || m.OpenFileID != fileID {
		s.send(ctx, &mmsproto.LinkMacToViewerReportStartedPlaying{HR: hrInvalidArg, PlayIncarnation: m.PlayIncarnation})
		return
	}
	start := s.resumePoint(func() uint64 { return s.position(m.Position, m.ASFOffset, m.LocationID) })
	s.incarnation, s.startInc = m.PlayIncarnation, m.PlayIncarnation
	if m.HasLinkBandwidth {
		s.linkBandwidth = m.LinkBandwidth // for later playlist entries (3.2.4.2)
	}
	s.defaultSelection()
	s.resetSequence()
	s.send(ctx, &mmsproto.LinkMacToViewerReportStartedPlaying{PlayIncarnation: m.PlayIncarnation, TigerFileID: fileID})
	s.state = StateStreaming
	s.stopIdle()
	p := &player{
		start:       start,
		incarnation: uint8(m.PlayIncarnation),
		burst:       s.srv.FastStart,
	}
	if m.HasAccel && m.AccelDuration > 0 {
		// 3.2.5.11: dwAccelDuration ms at dwAccelBandwidth; the server
		// sends that much as fast as the connection allows.
		p.burst = max(p.burst, time.Duration(m.AccelDuration)*time.Millisecond)
	}
	if fo := m.FrameOffset; fo != 0 && s.content.live == nil {
		ms := fo & 0x7FFFFFFF
		if fo&0x80000000 != 0 && start < uint64(len(s.media().sendTimes)) {
			ms += s.media().sendTimes[start]
		}
		p.stopAt, p.hasStop = ms, true
	}
	s.emit("play", "streaming started", map[string]any{"packet": start})
	s.startPlayer(ctx, p)
}

// resumePoint stops a running player and returns where it was (3.2.5.11:
// while STREAMING the position fields are ignored), or seek() when READY.
func (s *session) resumePoint(seek func() uint64) uint64 {
	if s.state == StateStreaming && s.player != nil {
		s.stopPlayer()
		return s.player.next
	}
	s.stopPlayer()
	if s.content.live != nil {
		return 0
	}
	return seek()
}

// resetSequence applies 2.2.2: after a packet with AFFlags 0xFE, the next
// play starts again at 0.
func (s *session) resetSequence() {
	if s.sequence > 0 && uint8(s.sequence-1) == 0xFE {
		s.sequence = 0
	}
}

// onStartStriding: 3.2.5.12.
func (s *session) onStartStriding(ctx context.Context, m *mmsproto.LinkViewerToMacStartStriding) {
	bad := s.content == nil || s.state == StateInit || m.OpenFileID != fileID || s.content.live != nil ||
		m.Rate == 0 || m.Rate < -5 || m.Rate > 5 || math.IsNaN(m.Rate)
	if bad {
		s.send(ctx, &mmsproto.LinkMacToViewerReportStartStriding{HR: hrInvalidArg, PlayIncarnation: m.PlayIncarnation})
		return
	}
	start := s.resumePoint(func() uint64 { return s.position(m.Position, m.ASFOffset, m.LocationID) })
	s.incarnation, s.startInc = m.PlayIncarnation, m.PlayIncarnation
	s.defaultSelection()
	s.resetSequence()
	s.send(ctx, &mmsproto.LinkMacToViewerReportStartStriding{PlayIncarnation: m.PlayIncarnation})
	s.state = StateStreaming
	s.stopIdle()
	s.emit("stride", "striding started", map[string]any{"packet": start, "rate": m.Rate})
	s.startPlayer(ctx, &player{start: start, incarnation: uint8(m.PlayIncarnation), stride: m.Rate})
}

// onStopPlaying: 3.2.5.14.
func (s *session) onStopPlaying(ctx context.Context, m *mmsproto.LinkViewerToMacStopPlaying) {
	s.stopPlayer()
	s.state = StateReady
	s.startIdle()
	s.send(ctx, &mmsproto.LinkMacToViewerReportEndOfStream{HR: mmsproto.EndOfStreamOK, PlayIncarnation: m.PlayIncarnation})
}

// onLogging: 3.2.5.15.
func (s *session) onLogging(m *mmsproto.LinkViewerToMacLogging) {
	path := ""
	if s.content != nil {
		path = s.content.name
	}
	l := ClientLog{Time: time.Now(), Remote: s.conn.RemoteAddr().String(), Path: path, Log: m.Log}
	s.log.Info("client log", "path", path, "transport", m.Log.Transport, "played_ms", m.Log.Info.Played,
		"packets", m.Log.Info.PacketsReceived, "lost", m.Log.PacketsLostNet, "resent", m.Log.PacketsResent)
	s.emit("client_log", "client reported statistics", map[string]any{
		"path": path, "transport": m.Log.Transport, "packets_received": m.Log.Info.PacketsReceived,
		"packets_lost": m.Log.PacketsLostNet, "resend_requests": m.Log.ResendRequests,
	})
	s.srv.addClientLog(l)
}

// endOfEntry runs when a player has sent the last packet of the current
// playlist entry (3.2.4.1), and moves to the next entry (3.2.4.2).
func (s *session) endOfEntry(ctx context.Context, p *player) error {
	c := s.content
	next := c.isList && c.current+1 < len(c.files)
	hr := uint32(mmsproto.EndOfStreamOK)
	if next && p.stride == 0 {
		hr = mmsproto.EndOfStreamNext
	}
	s.send(ctx, &mmsproto.LinkMacToViewerReportEndOfStream{HR: hr, PlayIncarnation: s.startInc})
	s.emit("end_of_entry", "end of playlist entry", map[string]any{"path": c.name, "entry": c.current})
	if hr != mmsproto.EndOfStreamNext {
		s.state = StateReady
		s.stopIdle()
		s.idleRunning = true
		s.idle.Reset(durOr(s.srv.EndIdleTimeout, DefaultEndIdleTimeout))
		return nil
	}
	// 3.2.4.2: the next entry.
	m, err := openMedia(c.files[c.current+1])
	if err != nil {
		s.log.Warn("playlist entry failed", "err", err)
		s.state = StateReady
		s.startIdle()
		return nil
	}
	c.opened.Close()
	c.opened, c.current = m, c.current+1
	s.send(ctx, &mmsproto.LinkMacToViewerReportStreamChange{
		HR: 0, TcpHdrIncarnation: mmsproto.TcpHdrIncarnation,
		PacketSize: uint32(m.packetSize), HeaderSize: uint32(len(m.headerBytes)), BitRate: m.bitRate,
	})
	// 3.2.4.2: the higher layer selects the streams of the new entry,
	// taking dwLinkBandwidth into account when the client sent it: the
	// streams that fit it, one of each mutual exclusion (asf.SelectStreams,
	// the rule our client applies too). Without it every stream plays.
	s.sel = newSelection()
	if s.linkBandwidth > 0 {
		s.sel.selectAll(m.header.SelectStreams(int64(s.linkBandwidth), ""))
	} else {
		s.sel.selectAll(m.streams)
	}
	if s.clientPort != 0 {
		s.state = StateReady
		s.startIdle()
		return nil
	}
	s.incarnation = mmsproto.TcpHdrIncarnation
	s.sendHeader(ctx, mmsproto.TcpHdrIncarnation)
	s.startPlayer(ctx, &player{start: 0, incarnation: mmsproto.TcpHdrIncarnation, burst: s.srv.FastStart})
	return nil
}
