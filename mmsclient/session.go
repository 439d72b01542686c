package mmsclient

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsh"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// Errors a session can end with; each is wrapped with the details.
var (
	// ErrTimeout: the server did not answer within a deadline.
	ErrTimeout = errors.New("mmsclient: timeout")
	// ErrUDPSilent: the UDP attempt received no Data packet in time (NAT or
	// firewall); the auto policy falls back to TCP.
	ErrUDPSilent = errors.New("mmsclient: no Data packet arrived over UDP")
	// ErrServer: the server answered with a failure HRESULT.
	ErrServer = errors.New("mmsclient: server error")
	// ErrAuth: authentication failed (wrong user name or password, or no
	// credentials for a server that asks for them).
	ErrAuth = errors.New("mmsclient: authentication failed")
	// ErrProtocol: the server broke the protocol.
	ErrProtocol = errors.New("mmsclient: protocol violation")
	// ErrRedirects: too many redirects, or a redirect the caller vetoed.
	ErrRedirects = errors.New("mmsclient: redirect refused")
	// ErrClosed: the session was closed.
	ErrClosed = errors.New("mmsclient: session closed")

	errInterrupted = fmt.Errorf("%w while waiting", ErrClosed)
)

// Item is what Next returns: either a new ASF file header (Header Object
// plus the 50-byte Data Object header) at a new server-side playlist entry,
// or one ASF data packet restored to the fixed packet size of the header.
type Item struct {
	Header []byte
	Packet []byte
}

// clientState is the State variable of 3.1.1.
type clientState uint8

const (
	stateInit clientState = iota
	stateReady
	stateStreaming
)

// maxMessageSize bounds one TcpMessageHeader packet from the server.
const maxMessageSize = 1 << 20

// Session is one MMS streaming session (3.1). Next, Seek, Stride and
// SwitchStreams run one at a time (they lock the session); Close, Header,
// Stats and the other getters may be called from any goroutine at any time.
type Session struct {
	// h plays the session when it runs over MMSH; every public method
	// then delegates to it. prior holds the MMS rungs' attempts before it.
	h     *mmsh.Session
	prior Stats

	opts  Options
	ev    event.Func
	log   *slog.Logger
	tgt   *target
	user  string
	pass  string
	begin time.Time

	ctx     context.Context // the session's life; canceled by Close or the Dial context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	conn    net.Conn
	wmu     sync.Mutex
	wseq    uint16
	inbox   chan *tcpBatch
	inq     []inbound      // the rest of the last batch from inbox
	inBatch *tcpBatch      // the batch inq belongs to, recycled once inq is done
	spare   chan *tcpBatch // batches the session is done with, for readTCP
	chunks  chan []byte    // their chunks
	udp     net.PacketConn
	udpCh   chan datagram
	udpFrom net.IP
	resend  net.Addr
	pings   atomic.Uint32

	// opMu serializes Next, Seek, Stride, SwitchStreams and Close; Close
	// closes interrupt to get a blocked Next out of its wait.
	opMu            sync.Mutex
	interrupt       chan struct{}
	interruptOnce   sync.Once
	ignoreInterrupt bool         // set by Close once it holds opMu
	dataOK          atomic.Bool  // a ReadBlock went out: Data packets may arrive on TCP
	maxDgram        atomic.Int32 // larger UDP datagrams are dropped unread

	// The abstract data model of 3.1.1.
	state          clientState
	transport      string // "udp" or "tcp": UDP-Selected
	clientID       uint32
	fileID         uint32
	fileOpen       bool
	funnelInfos    int
	headerInc      uint32 // HeaderIncarnation, 1..8
	playInc        uint32 // PlayIncarnation, 9..0xFE
	playIncForStop uint32
	serverVersion  string
	serverMajor    int
	authScheme     string
	pairExpected   int
	pairArrival    time.Time
	openFile       mmsproto.LinkMacToViewerReportOpenFile
	switchSent     bool

	mu          sync.Mutex // guards header, headerBytes and stats for the getters
	header      *asf.Header
	headerBytes []byte
	stats       Stats
	loss        resendStats // a copy of reorder.st for the getters

	packetSize int
	streams    []streamInfo
	selected   []uint16
	bandwidth  int64

	dataInc    uint8 // playIncarnation of the Data packets accepted now
	rebaseNext bool
	seq        seqTracker
	reorder    *reorderBuffer
	assembly   *headerAssembly // non-nil while an ASF file header is expected
	items      []Item          // items[itemHead:] wait for Next
	itemHead   int
	backlog    []inbound
	eof        bool
	err        error
	closed     bool
	pkt        asf.Packet
	firstSend  uint32 // send time of the first packet of this play incarnation (under mu)
	haveSend   bool
	lastSend   uint32 // send time of the last packet delivered (under mu)
	haveLast   bool
	playedBase time.Duration // content played in earlier incarnations (under mu)
	lastLossEv time.Time
	lastAt     time.Time // arrival of the message expect returned last
	udpSeen    bool
	stopSent   bool
	draining   bool // wait leaves the backlog alone
	probes     map[uint32]bool
	nextTick   time.Time
	timer      *time.Timer // wait's deadline, reused
	armed      time.Time   // when timer fires
	highLoc    uint32      // LocationId of the packet with the highest sequence number
	locReverse bool        // striding backwards: LocationId decreases
	locs       []locEntry  // LocationId by sequence number, for late packets

	freeMu sync.Mutex
	free   [][]byte // packets handed back by Recycle, reused by onData
}

type inbound struct {
	item tcpItem
	at   time.Time
	err  error
}

type datagram struct {
	b  []byte
	at time.Time
}

// Dial connects to the mms:// URL, runs the transport attempts of the
// policy (auto: UDP, then TCP, then MMSH on Options.HTTPPort), follows
// redirects, authenticates, reads the ASF file header, selects streams and
// starts playing. mmsh://, http:// and https:// URLs, and the "http"
// policy, play over MMSH (package mmsh) behind the same Session API. Dial
// returns once the server has confirmed playback; the packets then come
// from Next. Canceling ctx, before or after Dial returns, ends the session.
func Dial(ctx context.Context, rawURL string, opts Options) (*Session, error) {
	if err := opts.setDefaults(); err != nil {
		return nil, err
	}
	if isHTTPURL(rawURL) {
		return dialHTTP(ctx, rawURL, opts, opts.Username, opts.Password, nil, true)
	}
	tgt, err := parseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opts.Transport == TransportHTTP {
		if opts.AllowHost != nil {
			if err := opts.AllowHost(tgt.URL.Hostname()); err != nil {
				return nil, fmt.Errorf("%w: host %s: %w", ErrRedirects, tgt.URL.Hostname(), err)
			}
		}
		user, pass := tgt.User, tgt.Pass
		if user == "" {
			user, pass = opts.Username, opts.Password
		}
		return dialHTTP(ctx, httpURL(tgt.URL, opts.HTTPPort), opts, user, pass, nil, true)
	}
	stats := Stats{URL: tgt.URL.String()}
	begin := time.Now()
	// Credentials go to the URL's host only: a redirect to another host
	// gets none unless its own URL carries them (as HTTP clients do).
	credHost := tgt.URL.Hostname()
	creds := func(t *target) (string, string) {
		if t.User != "" {
			return t.User, t.Pass
		}
		if strings.EqualFold(t.URL.Hostname(), credHost) {
			return opts.Username, opts.Password
		}
		return "", ""
	}
	var failed []rungError // the failed rungs, for the final error
	for hop := 0; ; hop++ {
		if opts.AllowHost != nil {
			if err := opts.AllowHost(tgt.URL.Hostname()); err != nil {
				return nil, fmt.Errorf("%w: host %s: %w", ErrRedirects, tgt.URL.Hostname(), err)
			}
		}
		plan := transportPlan(opts.Transport, tgt.Transport, opts.Prefer)
	attempts:
		for i, tr := range plan {
			user, pass := creds(tgt)
			last := i == len(plan)-1
			if tr == TransportHTTP {
				s, err := dialHTTP(ctx, httpURL(tgt.URL, opts.HTTPPort), opts, user, pass, &stats, false)
				if err == nil {
					return s, nil
				}
				if last || !canFallBack(err) || ctx.Err() != nil {
					err = withEarlier(err, failed)
					opts.OnEvent.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
					return nil, err
				}
				failed = append(failed, rungError{TransportHTTP, err})
				continue
			}
			t0 := time.Now()
			opts.OnEvent.Emit(event.Attempt, fmt.Sprintf("trying %s over %s", tgt.URL, strings.ToUpper(tr)),
				map[string]any{"transport": tr, "url": tgt.URL.String(), "outcome": "start"})
			s, err := attempt(ctx, tgt, tr, opts, user, pass, &stats, begin)
			a := Attempt{URL: tgt.URL.String(), Transport: tr, Duration: time.Since(t0)}
			var rd *redirectError
			switch {
			case err == nil:
				a.Outcome = "ok"
				s.mu.Lock()
				s.stats.Attempts = append(s.stats.Attempts, a)
				s.mu.Unlock()
				opts.OnEvent.Emit(event.Attempt, "playing over "+strings.ToUpper(tr),
					map[string]any{"transport": tr, "url": tgt.URL.String(), "outcome": "ok"})
				return s, nil
			case errors.As(err, &rd):
				a.Outcome = "redirected"
				stats.Attempts = append(stats.Attempts, a)
				if hop >= opts.MaxRedirects || opts.MaxRedirects < 0 {
					return nil, fmt.Errorf("%w: more than %d redirects (last to %s)", ErrRedirects, max(opts.MaxRedirects, 0), rd.to.URL)
				}
				opts.OnEvent.Emit(event.Redirect, "redirected to "+rd.to.URL.String(), map[string]any{"url": rd.to.URL.String()})
				stats.Redirects = append(stats.Redirects, rd.to.URL.String())
				if rd.to.User == "" && strings.EqualFold(rd.to.URL.Hostname(), tgt.URL.Hostname()) {
					rd.to.User, rd.to.Pass = tgt.User, tgt.Pass // same host: same credentials
				}
				tgt = rd.to
				failed = nil
				break attempts
			default:
				a.Outcome, a.Reason = "failed", err.Error()
				stats.Attempts = append(stats.Attempts, a)
				opts.OnEvent.Emit(event.Attempt, fmt.Sprintf("%s attempt failed: %v", strings.ToUpper(tr), err),
					map[string]any{"transport": tr, "url": tgt.URL.String(), "outcome": "failed", "reason": err.Error()})
				if last || !canFallBack(err) || ctx.Err() != nil {
					err = withEarlier(err, failed)
					opts.OnEvent.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
					return nil, err
				}
				failed = append(failed, rungError{tr, err})
			}
		}
	}
}

// transportPlan lists the transports to try in order: the policy's rungs,
// the preferred one first. The MMSH rung belongs to plain mms:// URLs only
// (the rollover URL; mmsu:// and mmst:// name their transport).
func transportPlan(policy, scheme, prefer string) []string {
	switch {
	case policy == TransportUDP || policy == "" && scheme == TransportUDP:
		return []string{TransportUDP}
	case policy == TransportTCP || policy == "" && scheme == TransportTCP:
		return []string{TransportTCP}
	case policy == TransportHTTP:
		return []string{TransportHTTP}
	}
	plan := []string{TransportUDP, TransportTCP}
	if scheme == "" {
		plan = append(plan, TransportHTTP)
	}
	if i := slices.Index(plan, prefer); i > 0 {
		plan = slices.Insert(slices.Delete(plan, i, i+1), 0, prefer)
	}
	return plan
}

// canFallBack reports whether a failed attempt is worth retrying over the
// next transport: not when the server refused the credentials, when the
// caller vetoed a host, or when the MMS server refused the content (an
// MMSH "not found" may still fall back: port 80 is often another server).
func canFallBack(err error) bool {
	return !errors.Is(err, ErrAuth) && !errors.Is(err, ErrServer) && !errors.Is(err, ErrRedirects) &&
		!errors.Is(err, mmsh.ErrAuth) && !errors.Is(err, mmsh.ErrRedirects) &&
		!errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
}

// withEarlier adds the rungs that failed before err. errors.Is and
// errors.As see every rung's error.
func withEarlier(err error, failed []rungError) error {
	if len(failed) == 0 {
		return err
	}
	return &rolloverError{last: err, earlier: failed}
}

type rungError struct {
	transport string
	err       error
}

// rolloverError is the error of a Dial whose every rung failed.
type rolloverError struct {
	last    error
	earlier []rungError
}

func (e *rolloverError) Error() string {
	var b strings.Builder
	b.WriteString(e.last.Error())
	b.WriteString(" (earlier attempts: ")
	for i, r := range e.earlier {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(strings.ToUpper(r.transport) + ": " + r.err.Error())
	}
	b.WriteString(")")
	return b.String()
}

func (e *rolloverError) Unwrap() []error {
	out := []error{e.last}
	for _, r := range e.earlier {
		out = append(out, r.err)
	}
	return out
}

type redirectError struct{ to *target }

func (e *redirectError) Error() string { return "redirect to " + e.to.URL.String() }

// attempt runs one transport attempt against one server up to playing.
func attempt(ctx context.Context, tgt *target, transport string, opts Options, user, pass string, stats *Stats, begin time.Time) (*Session, error) {
	s := &Session{
		opts: opts, ev: opts.OnEvent, log: opts.Logger, tgt: tgt, begin: begin,
		transport: transport, headerInc: 1, playInc: 9,
		inbox:     make(chan *tcpBatch, 8),
		spare:     make(chan *tcpBatch, 10),
		chunks:    make(chan []byte, 10),
		interrupt: make(chan struct{}),
		stats:     *stats,
	}
	s.stats.Attempts = slices.Clone(stats.Attempts)
	s.user, s.pass = user, pass
	s.ctx, s.cancel = context.WithCancel(ctx)
	if err := s.handshake(ctx); err != nil {
		s.shutdown()
		return nil, err
	}
	return s, nil
}

// handshake runs 3.1.4.1 to 3.1.4.2: Connect, FunnelInfo, ConnectFunnel,
// OpenFile (with authentication and redirects), ReadBlock and the header,
// StreamSwitch and StartPlaying.
func (s *Session) handshake(ctx context.Context) error {
	hctx, cancel := context.WithTimeout(ctx, 4*s.opts.StepTimeout)
	defer cancel()
	dctx, dcancel := context.WithTimeout(hctx, s.opts.StepTimeout)
	conn, err := s.opts.DialContext(dctx, "tcp", s.tgt.Host)
	dcancel()
	if err != nil {
		return fmt.Errorf("mmsclient: connect to %s: %w", s.tgt.Host, err)
	}
	s.conn = conn
	context.AfterFunc(s.ctx, func() { conn.Close() })
	s.wg.Add(1)
	// Buffered: Data packets over TCP would otherwise cost two reads each.
	go s.readTCP(&tcpReader{r: conn, maxSize: maxMessageSize, dataOK: s.dataOK.Load})

	if s.transport == TransportUDP {
		if err := s.openUDP(hctx); err != nil {
			return err
		}
	}
	wantPair := s.opts.Bandwidth == 0
	if wantPair {
		s.pairExpected = 2
	}
	if err := s.connect(hctx, wantPair); err != nil {
		return err
	}
	if err := s.funnel(hctx); err != nil {
		return err
	}
	if err := s.open(hctx); err != nil {
		return err
	}
	if err := s.readHeader(hctx, true); err != nil {
		return err
	}
	s.setBandwidth()
	if err := s.chooseStreams(); err != nil {
		return err
	}
	s.mu.Lock()
	s.stats.Entries = 1
	s.stats.Transport = s.transport
	s.mu.Unlock()
	pos := startPosition{time: s.opts.Start, packet: s.opts.StartPacket}
	return s.play(hctx, pos, s.opts.Rate)
}

func (s *Session) openUDP(ctx context.Context) error {
	local, remote := addrPort(s.conn.LocalAddr()), addrPort(s.conn.RemoteAddr())
	if !remote.Addr().IsValid() || remote.Addr().IsUnspecified() {
		return fmt.Errorf("mmsclient: UDP needs an IP connection (remote address %v)", s.conn.RemoteAddr())
	}
	pc, err := s.opts.ListenPacket(ctx, "udp", netip.AddrPortFrom(local.Addr(), 0).String())
	if err != nil {
		return fmt.Errorf("mmsclient: UDP socket: %w", err)
	}
	if uc, ok := pc.(*net.UDPConn); ok {
		_ = uc.SetReadBuffer(4 << 20) // bursts at the start of playback; best effort
	}
	s.udp = pc
	s.udpFrom = net.IP(remote.Addr().AsSlice())
	s.resend = net.UDPAddrFromAddrPort(remote)
	s.udpCh = make(chan datagram, 2048)
	s.maxDgram.Store(mmsproto.MaxDataPacketSize)
	s.reorder = newReorderBuffer(1024, s.opts.ResendRetry, s.opts.ResendTimeout)
	context.AfterFunc(s.ctx, func() { pc.Close() })
	s.wg.Add(1)
	go s.readUDP()
	return nil
}

// readTCP reads the control connection. It answers LinkMacToViewerPing
// itself (3.1.5.13) so that keepalive works in every state, also while the
// handshake waits or the caller is slow to call Next.
func (s *Session) readTCP(r *tcpReader) {
	defer s.wg.Done()
	var lastDeadline time.Time
	batch := s.spareBatch()
	for {
		// Refreshing the deadline costs a timer update: do it when a
		// tenth of the idle timeout has passed since, not for every packet
		// (r.readAt is recent: the read that brought the bytes).
		if at := r.readAt; lastDeadline.IsZero() || at.Sub(lastDeadline) > s.opts.IdleTimeout/10 {
			at = time.Now()
			_ = s.conn.SetReadDeadline(at.Add(s.opts.IdleTimeout))
			lastDeadline = at
		}
		it, err := r.next()
		if err == nil && it.msg != nil {
			if _, ok := it.msg.(*mmsproto.LinkMacToViewerPing); ok {
				s.pings.Add(1)
				if err = s.send(&mmsproto.LinkViewerToMacPong{}); err == nil {
					continue
				}
			}
		}
		at := r.readAt
		if err != nil || at.IsZero() {
			at = time.Now()
		}
		// What is already read goes to the session in one batch: one
		// channel operation (and wake-up) for many Data packets.
		batch.items = append(batch.items, inbound{item: it, at: at, err: err})
		if err == nil && len(batch.items) < maxBatch && r.buffered() {
			continue
		}
		// The Data packets of the batch alias the reader's chunk: it
		// goes with them, the reader continues in a spare one.
		var next []byte
		if r.lent {
			next = s.spareChunk()
		}
		batch.chunk = r.detach(next)
		select {
		case s.inbox <- batch:
		case <-s.ctx.Done():
			return
		}
		if err != nil {
			return
		}
		batch = s.spareBatch()
	}
}

// tcpBatch is what readTCP hands to the session at once: items, and the
// chunk their Data packets alias (nil when none do).
type tcpBatch struct {
	items []inbound
	chunk []byte
}

// maxBatch bounds the TCP items handed over at once.
const maxBatch = 256

// spareBatch returns an empty batch, one the session is done with if any.
func (s *Session) spareBatch() *tcpBatch {
	select {
	case b := <-s.spare:
		return b
	default:
		return &tcpBatch{items: make([]inbound, 0, 16)}
	}
}

// spareChunk returns a chunk the session is done with, or nil (detach
// then makes one).
func (s *Session) spareChunk() []byte {
	select {
	case c := <-s.chunks:
		return c
	default:
		return nil
	}
}

// releaseBatch gives the batch the session has finished back to readTCP,
// with its chunk: nothing aliases it any more.
func (s *Session) releaseBatch() {
	b := s.inBatch
	s.inBatch = nil
	if b == nil {
		return
	}
	if len(b.chunk) == tcpChunkSize {
		select {
		case s.chunks <- b.chunk:
		default:
		}
	}
	clear(b.items)
	b.items, b.chunk = b.items[:0], nil
	select {
	case s.spare <- b:
	default:
	}
}

// readUDP reads Data packets. It never blocks on the session: when the
// queue is full the datagram is dropped and resend recovers it.
func (s *Session) readUDP() {
	defer s.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		_ = s.udp.SetReadDeadline(time.Now().Add(time.Second))
		n, addr, err := s.udp.ReadFrom(buf)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if ua, ok := addr.(*net.UDPAddr); !ok || !ua.IP.Equal(s.udpFrom) {
			continue // only the server's datagrams
		}
		if n > int(s.maxDgram.Load()) {
			continue // bigger than any Data packet of this content: junk
		}
		d := datagram{b: slices.Clone(buf[:n]), at: time.Now()}
		select {
		case s.udpCh <- d:
		default:
		}
	}
}

// send writes one message (3.1.5.1: one message per TcpMessageHeader).
func (s *Session) send(m mmsproto.Message) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	b := mmsproto.Marshal(m, s.wseq, uint64(time.Since(s.begin).Milliseconds()))
	s.wseq++
	_ = s.conn.SetWriteDeadline(time.Now().Add(s.opts.StepTimeout))
	if _, err := s.conn.Write(b); err != nil {
		return fmt.Errorf("mmsclient: send MID 0x%08x: %w", m.MID(), err)
	}
	return nil
}

type evKind uint8

const (
	evTCP evKind = iota
	evUDP
	evTick
)

type evt struct {
	kind evKind
	tcp  inbound
	udp  datagram
}

// wait returns the next thing that happens: a TCP message or Data packet, a
// UDP datagram, or a resend tick while packets are missing.
func (s *Session) wait(ctx context.Context, deadline time.Time, what string) (evt, error) {
	if len(s.backlog) > 0 && !s.draining {
		in := s.backlog[0]
		s.backlog = s.backlog[1:]
		return evt{kind: evTCP, tcp: in}, nil
	}
	if len(s.inq) > 0 {
		return s.popInbound(what)
	}
	// The last batch is handled: its chunk may be read into again.
	s.releaseBatch()
	// The resend tick runs on its own schedule: a steady stream of
	// datagrams must not keep postponing it.
	var tick <-chan time.Time
	if s.reorder != nil && s.reorder.pending() {
		now := time.Now()
		if s.nextTick.IsZero() || s.nextTick.Sub(now) > s.opts.ResendRetry {
			s.nextTick = now.Add(s.opts.ResendRetry / 2)
		}
		if !now.Before(s.nextTick) {
			s.nextTick = now.Add(s.opts.ResendRetry / 2)
			return evt{kind: evTick}, nil
		}
		t := time.NewTimer(s.nextTick.Sub(now))
		defer t.Stop()
		tick = t.C
	}
	interrupt := s.interrupt
	if s.ignoreInterrupt {
		interrupt = nil
	}
	// The deadline timer stays armed between calls: while packets flow,
	// every call moves the deadline a little, and resetting a timer per
	// packet costs more than the rest of the packet's handling. It is
	// re-armed when the deadline moved by more than a second, and a
	// firing before the deadline only re-arms it.
	if s.timer == nil {
		s.timer, s.armed = time.NewTimer(time.Until(deadline)), deadline
	} else if deadline.Before(s.armed) || deadline.Sub(s.armed) > time.Second {
		s.timer.Reset(time.Until(deadline))
		s.armed = deadline
	}
	for {
		select {
		case <-ctx.Done():
			return evt{}, ctx.Err()
		case <-s.ctx.Done():
			return evt{}, fmt.Errorf("%w (%v)", ErrClosed, context.Cause(s.ctx))
		case <-interrupt:
			return evt{}, errInterrupted
		case b := <-s.inbox:
			s.inBatch, s.inq = b, b.items
			return s.popInbound(what)
		case d := <-s.udpCh:
			return evt{kind: evUDP, udp: d}, nil
		case <-tick:
			s.nextTick = time.Now().Add(s.opts.ResendRetry / 2)
			return evt{kind: evTick}, nil
		case <-s.timer.C:
			if now := time.Now(); now.Before(deadline) {
				s.timer.Reset(deadline.Sub(now))
				s.armed = deadline
				continue
			}
			s.armed = time.Time{}
			return evt{}, fmt.Errorf("%w: %s", ErrTimeout, what)
		}
	}
}

// popInbound returns the next TCP item of the current batch.
func (s *Session) popInbound(what string) (evt, error) {
	in := s.inq[0]
	s.inq[0] = inbound{}
	s.inq = s.inq[1:]
	if in.err != nil {
		return evt{}, s.connError(in.err, what)
	}
	return evt{kind: evTCP, tcp: in}, nil
}

func (s *Session) connError(err error, what string) error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: nothing from the server for %v while %s", ErrTimeout, s.opts.IdleTimeout, what)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("mmsclient: server closed the connection while %s: %w", what, err)
	}
	return fmt.Errorf("%w: while %s: %w", ErrProtocol, what, err)
}

// expect waits for a message of type T, handling Data packets and anything
// else with handle (which may return an error). Other messages are an error
// unless handle accepts them.
func expect[T mmsproto.Message](s *Session, ctx context.Context, what string) (T, error) {
	var zero T
	deadline := time.Now().Add(s.opts.StepTimeout)
	for {
		e, err := s.wait(ctx, deadline, what)
		if err != nil {
			return zero, err
		}
		switch e.kind {
		case evUDP:
			if err := s.onDatagram(e.udp); err != nil {
				return zero, err
			}
		case evTick:
			s.onTick(time.Now())
		case evTCP:
			if e.tcp.item.msg == nil {
				if err := s.onTCPData(e.tcp); err != nil {
					return zero, err
				}
				continue
			}
			if m, ok := e.tcp.item.msg.(T); ok {
				s.lastAt = e.tcp.at
				return m, nil
			}
			handled, err := s.onMessage(ctx, e.tcp)
			if err != nil {
				return zero, err
			}
			if !handled {
				return zero, fmt.Errorf("%w: got MID 0x%08x (%T) while %s", ErrProtocol, e.tcp.item.msg.MID(), e.tcp.item.msg, what)
			}
		}
	}
}

func hrError(what string, hr uint32) error {
	if hr == mmsproto.HRAccessDenied {
		return fmt.Errorf("%w: %s: access denied (hr 0x%08x)", ErrAuth, what, hr)
	}
	return fmt.Errorf("%w: %s failed with hr 0x%08x", ErrServer, what, hr)
}

func (s *Session) emit(kind event.Kind, msg string, fields map[string]any) {
	s.ev.Emit(kind, msg, fields)
}

func (s *Session) nextPlayInc() uint32 {
	v := s.playInc
	s.playInc++
	if s.playInc > 0xFE {
		s.playInc = 9
	}
	return v
}

func (s *Session) nextHeaderInc() uint32 {
	v := s.headerInc
	s.headerInc++
	if s.headerInc > 8 {
		s.headerInc = 1
	}
	return v
}

// Header returns the ASF header of the current playlist entry.
func (s *Session) Header() *asf.Header {
	if s.h != nil {
		return s.h.Header()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

// HeaderBytes returns the ASF file header as received: the Header Object
// and the 50-byte Data Object header.
func (s *Session) HeaderBytes() []byte {
	if s.h != nil {
		return s.h.HeaderBytes()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headerBytes
}

// Transport returns "udp" or "tcp" (how MMS Data packets arrive), or
// "http" for MMSH.
func (s *Session) Transport() string { return s.transport }

// Bandwidth returns the bandwidth (bits/s) used for stream selection: the
// forced one, or the packet-pair estimate, capped by MaxBandwidth; 0 when
// unknown.
func (s *Session) Bandwidth() int64 {
	if s.h != nil {
		return s.h.Bandwidth()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Bandwidth
}

// Streams returns the stream numbers selected.
func (s *Session) Streams() []uint16 {
	if s.h != nil {
		return s.h.Streams()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stats.Streams)
}

// Played returns how much content time has been delivered (msPlayed).
func (s *Session) Played() time.Duration {
	if s.h != nil {
		return s.h.Played()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.playedLocked()
}

// Stats returns the session's figures so far.
func (s *Session) Stats() Stats {
	if s.h != nil {
		return fromMMSH(s.h.Stats(), s.prior)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Played = s.playedLocked()
	st.Attempts = slices.Clone(st.Attempts)
	st.Redirects = slices.Clone(st.Redirects)
	st.Streams = slices.Clone(st.Streams)
	r := s.loss
	st.PacketsLostNet, st.PacketsLostCont, st.ResendRequests = r.LostNet, r.LostContNet, r.ResendRequests
	st.Recovered, st.Resent, st.Lost, st.Late, st.Duplicates = r.Recovered, r.Resent, r.LostClient, r.Late, r.Duplicates
	st.Elapsed = time.Since(s.begin)
	if secs := st.Elapsed.Seconds(); secs > 0 {
		st.AvgBps = int64(float64(st.BytesReceived*8) / secs)
	}
	st.Quality = 100
	if total := uint64(st.PacketsReceived) + uint64(st.Lost); total > 0 {
		st.Quality = uint32(100 * uint64(st.PacketsReceived) / total)
	}
	return st
}
