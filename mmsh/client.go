package mmsh

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ntlmssp "github.com/Azure/go-ntlmssp"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// Errors of the client; they match mmsclient's so that callers can treat
// both transports alike.
var (
	ErrTimeout   = errors.New("mmsh: timeout")
	ErrServer    = errors.New("mmsh: server error")
	ErrAuth      = errors.New("mmsh: authentication failed")
	ErrProtocol  = errors.New("mmsh: protocol violation")
	ErrRedirects = errors.New("mmsh: redirect refused")
	ErrClosed    = errors.New("mmsh: session closed")
	ErrNotFound  = errors.New("mmsh: not found")
	ErrNotMMSH   = errors.New("mmsh: the server does not speak MS-WMSP")
)

// UserAgent is what the client announces: a Windows Media Player 12
// version, so that servers send what 9.0+ clients get ($M, playlist
// features), and the product name.
const UserAgent = "NSPlayer/12.0.7601.17514 mmsgate"

// Options configure a session. Field names and meanings follow
// mmsclient.Options; fields that only make sense for MMS are absent.
type Options struct {
	// Username and Password authenticate (Basic or NTLM, whichever the
	// server asks for). Credentials in the URL are used when these are empty.
	Username, Password string
	// Bandwidth is the link bandwidth in bits/s used for stream selection;
	// 0 asks the server for a packet-pair experiment (4.3) and uses its
	// estimate (unlimited when the server does not do one). MaxBandwidth
	// caps it.
	Bandwidth, MaxBandwidth int64
	// Streams selects these stream numbers; nil chooses by bandwidth and
	// Language.
	Streams  []uint16
	Language string
	// Start is the position to start playing from (on-demand content).
	Start time.Duration
	// MaxRedirects limits the HTTP redirects followed (default 5; negative: none).
	MaxRedirects int
	// AllowHost vetoes the host of the URL and of every redirect hop.
	AllowHost func(host string) error
	// DialContext dials TCP connections; nil uses a net.Dialer.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Pipelined asks for the pipelined mode (2.2.2.5): when the server
	// accepts pipeline requests (pipeline-experiment=1) and the probe of
	// two back-to-back Pipeline requests succeeds, Play and, at each
	// playlist entry change, PlayNextEntry go on one HTTP/1.1 connection
	// (3.1.4.5); otherwise the session stays non-pipelined. KeepAlive goes
	// as OPTIONS (2.2.2.3.2) either way; the default sends it as POST
	// (2.2.2.3.1). Not used over https or with NTLM.
	Pipelined bool
	// StepTimeout bounds each request until its response header, and the
	// whole Describe four times it (default 10 s).
	StepTimeout time.Duration
	// IdleTimeout ends a session when nothing arrives for this long
	// (default 60 s).
	IdleTimeout time.Duration
	// MaxHeaderSize caps the ASF header (default 16 MiB).
	MaxHeaderSize int
	// OnEvent receives every protocol step; Logger debug logs.
	OnEvent event.Func
	Logger  *slog.Logger
}

func (o *Options) setDefaults() {
	if o.StepTimeout <= 0 {
		o.StepTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	if o.MaxHeaderSize <= 0 {
		o.MaxHeaderSize = 16 << 20
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DialContext == nil {
		d := &net.Dialer{Timeout: o.StepTimeout}
		o.DialContext = d.DialContext
	}
}

// Item is what Next returns: a new ASF header (Header Object plus the
// 50-byte Data Object header) at a new server-side playlist entry, or one
// ASF data packet restored to the packet size of the header.
type Item struct {
	Header []byte
	Packet []byte
}

// Attempt is one connection attempt, as in mmsclient.
type Attempt struct {
	URL       string        `json:"url"`
	Transport string        `json:"transport"`
	Outcome   string        `json:"outcome"` // "ok", "failed"
	Reason    string        `json:"reason,omitempty"`
	Duration  time.Duration `json:"duration_ns"`
}

// Stats are the session's figures, named and tagged as mmsclient.Stats
// (the MMS-only loss and resend counters are absent: TCP loses nothing).
type Stats struct {
	URL             string        `json:"url"`
	Transport       string        `json:"transport"` // "http"
	Attempts        []Attempt     `json:"attempts"`
	Redirects       []string      `json:"redirects,omitempty"`
	ServerVersion   string        `json:"server_version,omitempty"`
	AuthScheme      string        `json:"auth_scheme,omitempty"`
	Bandwidth       int64         `json:"bandwidth_bps"`
	BandwidthMethod string        `json:"bandwidth_method"` // "packet-pair-http", "forced", "none"
	Streams         []uint16      `json:"streams"`
	StreamsBitrate  int64         `json:"streams_bitrate_bps"`
	HeaderBytes     int           `json:"header_bytes"`
	Entries         int           `json:"entries"`
	PacketsReceived uint32        `json:"packets_received"`
	BytesReceived   uint64        `json:"bytes_received"`
	Delivered       uint64        `json:"packets_delivered"`
	StartTime       time.Duration `json:"start_ns"`
	Played          time.Duration `json:"played_ns"`
	Elapsed         time.Duration `json:"elapsed_ns"`
	AvgBps          int64         `json:"avg_bps"`
	Quality         uint32        `json:"min_quality"`
	EndReason       string        `json:"end,omitempty"`
	// Mode is "pipelined" or "non-pipelined" (2.2.2.5).
	Mode string `json:"mode"`
	// LogsSent counts the Log requests the server answered (2.2.2.4):
	// one per playlist entry played and per stop.
	LogsSent int `json:"logs_sent"`
}

// Session is one MS-WMSP streaming session (3.1). Next, Seek and
// KeepAlive run one at a time; Close, Header, Stats and the other getters
// may be called from any goroutine.
type Session struct {
	opts   Options
	ev     event.Func
	log    *slog.Logger
	client *http.Client
	url    *url.URL // after redirects
	user   string
	pass   string
	basic  string // Authorization value once Basic worked
	guid   string
	begin  time.Time
	ctx    context.Context
	cancel context.CancelFunc

	opMu sync.Mutex // Next, Seek, KeepAlive

	clientID int64
	features []string
	live     bool

	mu          sync.Mutex // header, headerBytes, stats, body
	header      *asf.Header
	headerBytes []byte
	stats       Stats
	body        io.ReadCloser
	closed      bool

	pipeAllowed bool          // the Describe response had pipeline-experiment=1
	pipelined   bool          // KeepAlive-Mode: pipelined (3.1.5.9)
	needPNE     bool          // a new entry's header was returned: PlayNextEntry before more
	pconn       net.Conn      // the pipelined connection (under mu)
	pbr         *bufio.Reader // its reader (under mu)

	pairs  int       // $P packets received (Describe)
	pairAt time.Time // arrival of the first $P
	pairBW int64     // packet-pair estimate in bit/s, 0 when none

	// Client-State STREAMING (3.1.5.13, 3.1.4.6): a Log is due when the
	// play ends; ent counts its figures; pendLogs were sent on the
	// pipelined connection and await their responses. Under opMu.
	streaming bool
	ent       entryStats
	pendLogs  []mmsproto.ClientLog

	hdr        *asf.Header // the current header, for selection: the session's goroutine only
	selected   []uint16
	nextSel    []uint16 // chosen by SwitchStreams for the PlayNextEntry to come
	packetSize int

	meta      Metadata // from the latest $M (under mu)
	mbuf      []byte   // $M payloads being assembled
	rd        *Reader
	pkt       Packet
	assembly  []byte // $H payloads while a header is incomplete
	inHeader  bool
	announce  bool // the header being assembled is a new entry's
	eof       bool
	err       error
	asfPkt    asf.Packet
	firstSend uint32
	lastSend  uint32
	haveSend  bool
}

// Dial connects to an mmsh:// or http:// URL: Describe (header), stream
// selection, Play. It returns once the Play response has begun; packets
// then come from Next. Canceling ctx, before or after Dial returns, ends
// the session.
func Dial(ctx context.Context, rawURL string, opts Options) (*Session, error) {
	opts.setDefaults()
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	s := &Session{opts: opts, ev: opts.OnEvent, log: opts.Logger, begin: time.Now(), guid: newGUID(), clientID: -1}
	s.user, s.pass = opts.Username, opts.Password
	if s.user == "" && u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	u.User = nil
	s.url = u
	s.stats = Stats{URL: u.String(), Transport: "http", BandwidthMethod: "none", Quality: 100, Mode: "non-pipelined"}
	if opts.AllowHost != nil {
		if err := opts.AllowHost(u.Hostname()); err != nil {
			return nil, fmt.Errorf("%w: host %s: %w", ErrRedirects, u.Hostname(), err)
		}
	}
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.client = s.newClient()
	t0 := time.Now()
	s.ev.Emit(event.Attempt, "trying "+u.String()+" over HTTP", map[string]any{"transport": "http", "url": u.String(), "outcome": "start"})
	err = s.start()
	a := Attempt{URL: u.String(), Transport: "http", Duration: time.Since(t0), Outcome: "ok"}
	if err != nil {
		a.Outcome, a.Reason = "failed", err.Error()
		s.stats.Attempts = append(s.stats.Attempts, a)
		s.ev.Emit(event.Attempt, "HTTP attempt failed: "+err.Error(),
			map[string]any{"transport": "http", "url": u.String(), "outcome": "failed", "reason": err.Error()})
		s.ev.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
		s.cancel()
		s.client.CloseIdleConnections()
		if s.pconn != nil {
			s.pconn.Close()
		}
		return nil, err
	}
	s.mu.Lock()
	s.stats.Attempts = append(s.stats.Attempts, a)
	s.mu.Unlock()
	s.ev.Emit(event.Attempt, "playing over HTTP", map[string]any{"transport": "http", "url": s.url.String(), "outcome": "ok"})
	return s, nil
}

// ParseURL accepts mmsh://host[:port]/path (port 80 by default) and
// http(s):// URLs and returns the http(s) URL to request.
func ParseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("mmsh: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "mmsh", "http":
		u.Scheme = "http"
	case "https":
	default:
		return nil, fmt.Errorf("mmsh: URL scheme %q (want mmsh, http or https)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("mmsh: URL %q without host", raw)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

func (s *Session) newClient() *http.Client {
	idle := s.opts.IdleTimeout
	dial := s.opts.DialContext
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &idleConn{Conn: c, idle: idle}, nil
		},
		ResponseHeaderTimeout:  s.opts.StepTimeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableCompression:     true,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        s.opts.IdleTimeout,
		TLSHandshakeTimeout:    s.opts.StepTimeout,
		ForceAttemptHTTP2:      false,
	}
	return &http.Client{Transport: tr, CheckRedirect: s.checkRedirect}
}

func (s *Session) checkRedirect(req *http.Request, via []*http.Request) error {
	if s.opts.MaxRedirects < 0 || len(via) > s.opts.MaxRedirects {
		return fmt.Errorf("%w: more than %d redirects (last to %s)", ErrRedirects, max(s.opts.MaxRedirects, 0), req.URL)
	}
	if s.opts.AllowHost != nil {
		if err := s.opts.AllowHost(req.URL.Hostname()); err != nil {
			return fmt.Errorf("%w: host %s: %w", ErrRedirects, req.URL.Hostname(), err)
		}
	}
	s.ev.Emit(event.Redirect, "redirected to "+req.URL.String(), map[string]any{"url": req.URL.String()})
	s.mu.Lock()
	s.stats.Redirects = append(s.stats.Redirects, req.URL.String())
	s.mu.Unlock()
	return nil
}

// idleConn ends reads and writes that make no progress for idle.
type idleConn struct {
	net.Conn
	idle time.Duration
}

func (c *idleConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

func (c *idleConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("{%08X-%04X-%04X-%04X-%012X}", binary.BigEndian.Uint32(b[0:]), binary.BigEndian.Uint16(b[4:]),
		binary.BigEndian.Uint16(b[6:]), binary.BigEndian.Uint16(b[8:]), b[10:16])
}

// start runs Describe, selection and Play.
func (s *Session) start() error {
	dctx, cancel := context.WithTimeout(s.ctx, 4*s.opts.StepTimeout)
	defer cancel()
	if err := s.describe(dctx); err != nil {
		return err
	}
	if err := s.chooseStreams(); err != nil {
		return err
	}
	if s.pipeAllowed && s.Stats().AuthScheme != "NTLM" {
		ok, err := s.probePipeline(s.ctx)
		if err != nil {
			s.log.Debug("mmsh: pipeline probe failed, non-pipelined mode", "err", err)
		}
		s.pipelined = ok
		if ok {
			s.mu.Lock()
			s.stats.Mode = "pipelined"
			s.mu.Unlock()
		}
	}
	return s.play(s.opts.Start)
}

// request sends one request with the Pragma tokens of p, answering 401
// with Basic or NTLM when credentials are known.
func (s *Session) request(ctx context.Context, method string, p Pragma) (*http.Response, error) {
	build := func(authz string) (*http.Request, error) { return s.newRequest(ctx, method, p, authz) }
	req, err := build(s.basic)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, s.netError(err)
	}
	s.url = resp.Request.URL
	if resp.StatusCode != http.StatusUnauthorized {
		return resp, nil
	}
	challenges := resp.Header.Values("WWW-Authenticate")
	drain(resp)
	if s.user == "" {
		return nil, fmt.Errorf("%w: the server asks for credentials (%s)", ErrAuth, strings.Join(challenges, "; "))
	}
	scheme := ""
	for _, c := range challenges {
		name, _, _ := strings.Cut(strings.TrimSpace(c), " ")
		switch {
		case strings.EqualFold(name, "NTLM") || strings.EqualFold(name, "Negotiate"):
			scheme = "NTLM"
		case strings.EqualFold(name, "Basic") && scheme == "":
			scheme = "Basic"
		}
	}
	switch scheme {
	case "Basic":
		s.basic = "Basic " + base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.pass))
		if req, err = build(s.basic); err != nil {
			return nil, err
		}
		if resp, err = s.client.Do(req); err != nil {
			return nil, s.netError(err)
		}
	case "NTLM":
		if resp, err = s.ntlm(s.client, build); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: no supported scheme in %q", ErrAuth, challenges)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		drain(resp)
		s.ev.Emit(event.Auth, "credentials rejected", map[string]any{"scheme": scheme, "outcome": "rejected"})
		s.basic = ""
		return nil, fmt.Errorf("%w: %s credentials rejected", ErrAuth, scheme)
	}
	s.url = resp.Request.URL
	s.mu.Lock()
	first := s.stats.AuthScheme == ""
	s.stats.AuthScheme = scheme
	s.mu.Unlock()
	if first {
		s.ev.Emit(event.Auth, "authenticated with "+scheme, map[string]any{"scheme": scheme, "outcome": "ok"})
	}
	return resp, nil
}

// newRequest builds a request with the Pragma tokens of p.
func (s *Session) newRequest(ctx context.Context, method string, p Pragma, authz string) (*http.Request, error) {
	u := *s.url
	target := u.String()
	if method == http.MethodOptions {
		target = u.Scheme + "://" + u.Host
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return nil, fmt.Errorf("mmsh: %w", err)
	}
	if method == http.MethodOptions {
		req.URL.Path, req.URL.Opaque = "", "*"
	}
	h := req.Header
	h.Set("Accept", "*/*")
	h.Set("User-Agent", UserAgent)
	h.Set("X-Accept-Authentication", "NTLM, Basic")
	h.Set("Supported", "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm")
	for _, v := range p.Values() {
		h.Add("Pragma", v)
	}
	if method == http.MethodPost {
		req.ContentLength = 0
		req.Body = http.NoBody
	}
	if authz != "" {
		h.Set("Authorization", authz)
	}
	return req, nil
}

// ntlm runs NEGOTIATE, CHALLENGE, AUTHENTICATE on one kept-alive
// connection (NTLM over HTTP authenticates the connection).
func (s *Session) ntlm(c *http.Client, build func(string) (*http.Request, error)) (*http.Response, error) {
	neg, err := ntlmssp.NewNegotiateMessage("", "")
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrAuth, err)
	}
	req, err := build("NTLM " + base64.StdEncoding.EncodeToString(neg))
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, s.netError(err)
	}
	var challenge []byte
	for _, c := range resp.Header.Values("WWW-Authenticate") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(c), "NTLM "); ok {
			challenge, _ = base64.StdEncoding.DecodeString(strings.TrimSpace(v))
		}
	}
	drain(resp)
	if resp.StatusCode != http.StatusUnauthorized || len(challenge) == 0 {
		return nil, fmt.Errorf("%w: no NTLM challenge (status %d)", ErrAuth, resp.StatusCode)
	}
	am, err := ntlmssp.NewAuthenticateMessage(challenge, s.user, s.pass, nil) // "DOMAIN\\user" and UPNs are split there
	if err != nil {
		return nil, fmt.Errorf("%w: NTLM challenge: %w", ErrAuth, err)
	}
	if req, err = build("NTLM " + base64.StdEncoding.EncodeToString(am)); err != nil {
		return nil, err
	}
	resp, err = c.Do(req)
	if err != nil {
		return nil, s.netError(err)
	}
	return resp, nil
}

// drain reads a little of a body so that its connection can be reused.
func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

func (s *Session) netError(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %w", ErrTimeout, err)
	}
	if s.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ErrClosed, err)
	}
	return fmt.Errorf("mmsh: %w", err)
}

// statusError maps a non-200 answer.
func statusError(resp *http.Response, what string) error {
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return fmt.Errorf("%w: %s: %s", ErrNotFound, what, resp.Status)
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("%w: %s: %s", ErrServer, what, resp.Status)
	}
	return nil
}

// describe sends the Describe request (2.2.2.1, 3.1.4.2) and reads the
// ASF header from its $H packets.
func (s *Session) describe(ctx context.Context) error {
	p := NewPragma()
	p.NoCache, p.Rate, p.StreamTime, p.StreamOffset, p.RequestContext, p.MaxDuration = true, 1, 0, [2]int64{0, 0}, 1, 0
	p.XClientGUID = s.guid
	// Ask for a packet-pair experiment (4.3) unless the bandwidth is forced.
	p.PacketPairExperiment = s.opts.Bandwidth <= 0
	// 2.2.1.4.15: only HTTP/1.1 clients may say they send pipeline requests.
	p.PipelineExperiment = s.opts.Pipelined && s.url.Scheme == "http"
	resp, err := s.request(ctx, http.MethodGet, p)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := statusError(resp, "Describe"); err != nil {
		return err
	}
	s.serverInfo(resp)
	if rp, _ := ParsePragma(resp.Header.Values("Pragma")); p.PipelineExperiment && rp.PipelineExperiment {
		s.pipeAllowed = true // 3.1.5.5: Pipeline-Test-Allowed
	}
	ct := strings.ToLower(resp.Header.Get("Content-Type"))
	if ct != "" && !strings.HasPrefix(ct, "application/vnd.ms.wms-hdr.asfv1") && !strings.HasPrefix(ct, "application/x-mms-framed") &&
		!strings.HasPrefix(ct, "application/octet-stream") {
		return fmt.Errorf("%w: Describe answered with %s", ErrNotMMSH, ct)
	}
	s.rd = NewReader(resp.Body)
	s.inHeader, s.assembly = true, s.assembly[:0]
	for n := 0; ; n++ {
		if n > maxControlPackets {
			return fmt.Errorf("%w: no ASF header in %d packets", ErrProtocol, n)
		}
		if err := s.rd.Next(&s.pkt); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return s.readError(err, "Describe")
		}
		switch s.pkt.Type {
		case TypePacketPair:
			if !p.PacketPairExperiment || s.inHeader && len(s.assembly) > 0 {
				return fmt.Errorf("%w: $P packet unasked or inside the header", ErrProtocol)
			}
			s.packetPair(&s.pkt)
		case TypeHeader:
			done, err := s.addHeader(&s.pkt)
			if err != nil {
				return err
			}
			if done {
				return nil
			}
		case TypeMetadata:
			s.addMetadata(&s.pkt)
		case TypeData, TypeEnd, TypeStreamChange:
			if err := s.finishShortHeader(); err != nil {
				return err
			}
			return nil
		}
	}
}

// packetPair notes the arrival of a $P (3.1.5.6): the first sets the
// arrival time, the second gives the estimate (its bits over the gap).
// The Reader has checked the sizes and that there are at most three.
func (s *Session) packetPair(p *Packet) {
	now := time.Now()
	s.pairs++
	switch s.pairs {
	case 1:
		s.pairAt = now
	case 2:
		s.pairBW = mmsproto.PacketPairBandwidth(framingHeaderSize+4+len(p.Payload), now.Sub(s.pairAt))
		s.log.Debug("mmsh: packet pair", "gap", now.Sub(s.pairAt), "bps", s.pairBW)
	}
}

// addMetadata assembles $M payloads (split by AFFlags like headers,
// 2.2.3.1.2) and keeps the entry's metadata (2.2.3.6): features and the
// content description list. A malformed $M is ignored: it is optional.
func (s *Session) addMetadata(p *Packet) {
	if p.AFFlags&AFFirst != 0 {
		s.mbuf = s.mbuf[:0]
	}
	single := p.AFFlags == 0 && len(s.mbuf) == 0
	if len(s.mbuf)+len(p.Payload) > maxMetadataSize {
		s.mbuf = s.mbuf[:0]
		return
	}
	s.mbuf = append(s.mbuf, p.Payload...)
	if p.AFFlags&AFLast == 0 && !single {
		return
	}
	m, err := ParseMetadata(s.mbuf)
	s.mbuf = s.mbuf[:0]
	if err != nil {
		s.log.Debug("mmsh: $M ignored", "err", err)
		return
	}
	s.mu.Lock()
	s.meta = m
	s.mu.Unlock()
	if m.Features != nil {
		s.features = m.Features
		s.live = slices.Contains(m.Features, "broadcast") || slices.Contains(m.Features, "live")
	}
}

// maxControlPackets bounds the packets read without progress (no header
// completed, no data): a server cannot keep the client busy forever.
const maxControlPackets = 4096

func (s *Session) readError(err error, what string) error {
	switch {
	case s.ctx.Err() != nil:
		return fmt.Errorf("%w: %w", ErrClosed, err)
	case errors.Is(err, ErrFraming):
		return fmt.Errorf("%w: %s: %w", ErrProtocol, what, err)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("%w: %s: nothing received for %v", ErrTimeout, what, s.opts.IdleTimeout)
	}
	return fmt.Errorf("mmsh: %s: %w", what, err)
}

func (s *Session) serverInfo(resp *http.Response) {
	p, _ := ParsePragma(resp.Header.Values("Pragma"))
	if p.ClientID >= 0 {
		s.clientID = p.ClientID
	}
	if p.Features != nil {
		s.features = p.Features
		s.live = p.HasFeature("broadcast") || p.HasFeature("live")
	}
	if sv := resp.Header.Get("Server"); sv != "" {
		s.mu.Lock()
		first := s.stats.ServerVersion == ""
		s.stats.ServerVersion = sv
		s.mu.Unlock()
		if first {
			s.ev.Emit(event.Connected, "connected to "+s.url.Host+", server version "+sv,
				map[string]any{"server": sv, "features": strings.Join(s.features, ",")})
		}
	}
}

// addHeader adds a $H payload; done when the Header Object and the Data
// Object header are complete.
func (s *Session) addHeader(p *Packet) (bool, error) {
	if len(s.assembly)+len(p.Payload) > s.opts.MaxHeaderSize+asf.DataObjectHeaderSize {
		return false, fmt.Errorf("%w: ASF header beyond %d bytes", ErrProtocol, s.opts.MaxHeaderSize)
	}
	s.assembly = append(s.assembly, p.Payload...)
	if len(s.assembly) < 24 {
		return false, nil
	}
	hsize := binary.LittleEndian.Uint64(s.assembly[16:])
	if hsize < 30 || hsize > uint64(s.opts.MaxHeaderSize) {
		return false, fmt.Errorf("%w: Header Object size %d", ErrProtocol, hsize)
	}
	need := int(hsize) + asf.DataObjectHeaderSize
	if len(s.assembly) < need {
		return false, nil
	}
	return true, s.setHeader(s.assembly[:need])
}

// finishShortHeader accepts a header without its Data Object header (some
// servers leave it out) when the Header Object is complete.
func (s *Session) finishShortHeader() error {
	if len(s.assembly) >= 24 {
		hsize := binary.LittleEndian.Uint64(s.assembly[16:])
		if uint64(len(s.assembly)) == hsize {
			h, err := asf.ParseHeader(s.assembly)
			if err == nil {
				b := asf.AppendDataObjectHeader(slices.Clone(s.assembly), h.FileProperties.FileID,
					h.FileProperties.DataPacketsCount, h.PacketSize(), h.FileProperties.Broadcast)
				return s.setHeader(b)
			}
		}
	}
	return fmt.Errorf("%w: incomplete ASF header (%d bytes)", ErrProtocol, len(s.assembly))
}

func (s *Session) setHeader(b []byte) error {
	b = slices.Clone(b)
	h, err := asf.ParseHeader(b)
	if err != nil {
		return fmt.Errorf("%w: ASF header: %w", ErrProtocol, err)
	}
	ps := h.PacketSize()
	if ps <= 0 || ps > MaxPayload || int(h.FileProperties.MinDataPacketSize) != ps {
		return fmt.Errorf("%w: packet size %d..%d", ErrProtocol, h.FileProperties.MinDataPacketSize, ps)
	}
	s.inHeader, s.assembly = false, s.assembly[:0]
	s.packetSize = ps
	s.hdr = h
	s.mu.Lock()
	s.header, s.headerBytes = h, b
	s.stats.HeaderBytes = len(b)
	s.mu.Unlock()
	title := ""
	if h.ContentDescription != nil {
		title = h.ContentDescription.Title
	}
	s.ev.Emit(event.Header, fmt.Sprintf("ASF header: %d bytes, %d streams, packets of %d bytes", len(b), len(h.Streams), ps),
		map[string]any{"bytes": len(b), "packet_size": ps, "streams": len(h.Streams), "title": title})
	return nil
}

// chooseStreams selects the streams of the current header.
func (s *Session) chooseStreams() error {
	bw, method := s.opts.Bandwidth, "none"
	switch {
	case bw > 0:
		method = "forced"
	case s.pairBW > 0:
		bw, method = s.pairBW, "packet-pair-http"
	}
	if s.opts.MaxBandwidth > 0 && (bw == 0 || bw > s.opts.MaxBandwidth) {
		bw = s.opts.MaxBandwidth
	}
	if s.hdr == nil {
		return fmt.Errorf("%w: no ASF header to select streams from", ErrProtocol)
	}
	var sel []uint16
	if s.nextSel != nil { // SwitchStreams between a new entry's header and PlayNextEntry
		sel, s.nextSel = s.nextSel, nil
	} else if s.opts.Streams != nil {
		var err error
		if sel, err = s.hdr.CheckStreams(s.opts.Streams); err != nil {
			return fmt.Errorf("mmsh: %w", err)
		}
	} else {
		sel = s.hdr.SelectStreams(bw, s.opts.Language)
	}
	if len(sel) == 0 {
		return fmt.Errorf("%w: the ASF header declares no streams", ErrProtocol)
	}
	s.selected = sel
	br := s.hdr.StreamsBitrate(sel)
	s.mu.Lock()
	s.stats.Bandwidth, s.stats.BandwidthMethod = bw, method
	s.stats.Streams, s.stats.StreamsBitrate = sel, br
	s.mu.Unlock()
	s.ev.Emit(event.Bandwidth, fmt.Sprintf("bandwidth %d bit/s (%s)", bw, method), map[string]any{"bps": bw, "method": method})
	s.ev.Emit(event.Streams, fmt.Sprintf("streams %v (%d bit/s)", sel, br), map[string]any{"streams": sel, "bitrate": br})
	return nil
}

// play sends the Play request (2.2.2.6, 3.1.4.3) from start and keeps its
// body for Next.
func (s *Session) play(start time.Duration) error {
	p := NewPragma()
	p.NoCache, p.Rate, p.RequestContext, p.MaxDuration = true, 1, 2, 0
	p.StreamTime = start.Milliseconds()
	if s.live {
		p.StreamTime = 0
	}
	p.StreamOffset = [2]int64{4294967295, 4294967295}
	p.PacketNum = 4294967295
	p.XPlayStrm = 1
	p.ClientID = s.clientID
	p.XClientGUID = s.guid
	p.StreamSwitch = switchEntries(s.hdr, s.selected)
	if s.pipelined && s.pipeConn() == nil {
		// After a Seek closed the pipelined connection: the server serves a
		// connection pipelined only after its probe (3.2.5.5), so probe the
		// new one; when that fails, go on non-pipelined.
		ok, err := s.probePipeline(s.ctx)
		if err != nil {
			s.log.Debug("mmsh: pipeline probe failed, non-pipelined mode", "err", err)
		}
		if !ok {
			s.pipelined = false
			s.mu.Lock()
			s.stats.Mode = "non-pipelined"
			s.mu.Unlock()
		}
	}
	var resp *http.Response
	var err error
	if s.pipelined {
		resp, err = s.playPipelined(p)
	} else {
		resp, err = s.request(s.ctx, http.MethodGet, p) // ResponseHeaderTimeout bounds the wait
	}
	if err != nil {
		return err
	}
	if err := statusError(resp, "Play"); err != nil {
		drain(resp)
		return err
	}
	s.serverInfo(resp)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		resp.Body.Close()
		return ErrClosed
	}
	s.body = resp.Body
	s.stats.StartTime = start
	s.mu.Unlock()
	s.streaming, s.pendLogs = true, nil
	s.ent = entryStats{begin: time.Now(), start: start}
	s.rd = NewReader(resp.Body)
	s.inHeader, s.announce, s.assembly = true, false, s.assembly[:0]
	s.haveSend, s.eof, s.err = false, false, nil
	f := map[string]any{"position": start.String(), "transport": "http"}
	s.ev.Emit(event.Playing, fmt.Sprintf("playing from %v over http", start), f)
	return nil
}

// Next returns the next item in order: data packets (full size) and, at
// each new playlist entry after the first, the entry's header. It returns
// io.EOF at the end of the content.
func (s *Session) Next(ctx context.Context) (Item, error) {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.err != nil {
		return Item{}, s.err
	}
	if s.eof {
		return Item{}, io.EOF
	}
	if s.needPNE {
		s.needPNE = false
		if err := s.playNextEntry(); err != nil {
			s.err = err
			s.ev.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
			return Item{}, err
		}
	}
	s.mu.Lock()
	body, closed := s.body, s.closed
	s.mu.Unlock()
	if closed || body == nil {
		return Item{}, ErrClosed
	}
	// A blocked read ends when ctx ends: the body is closed under it. A
	// server that trickles a packet byte by byte (each byte within
	// IdleTimeout) is cut off too: one item must come within twice
	// IdleTimeout.
	stop := context.AfterFunc(ctx, func() { body.Close() })
	defer stop()
	var trickled atomic.Bool
	watchdog := time.AfterFunc(2*s.opts.IdleTimeout, func() { trickled.Store(true); body.Close() })
	it, err := s.next()
	watchdog.Stop()
	if err != nil {
		switch {
		case ctx.Err() != nil && s.ctx.Err() == nil:
			err = fmt.Errorf("%w: %w", ErrClosed, ctx.Err())
		case trickled.Load():
			err = fmt.Errorf("%w: no complete packet within %v", ErrTimeout, 2*s.opts.IdleTimeout)
		}
		if !errors.Is(err, io.EOF) {
			s.err = err
			s.ev.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
		}
	}
	return it, err
}

func (s *Session) next() (Item, error) {
	for n := 0; n < maxControlPackets; n++ {
		if err := s.rd.Next(&s.pkt); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the end is announced by $E
			}
			return Item{}, s.readError(err, "Play")
		}
		p := &s.pkt
		switch p.Type {
		case TypeHeader:
			if !s.inHeader {
				// A header without $C: a server restarting the entry.
				s.inHeader, s.assembly = true, s.assembly[:0]
			}
			done, err := s.addHeader(p)
			if err != nil {
				return Item{}, err
			}
			if done && s.announce {
				s.announce = false
				s.mu.Lock()
				s.stats.Entries++
				entry, hb, title := s.stats.Entries, s.headerBytes, s.meta.Get("title")
				if title == "" && s.header.ContentDescription != nil {
					title = s.header.ContentDescription.Title
				}
				s.mu.Unlock()
				s.ev.Emit(event.EntryChange, fmt.Sprintf("playlist entry %d: header of %d bytes", entry, len(hb)),
					map[string]any{"entry": entry, "header_bytes": len(hb), "title": title})
				// Pipelined mode: the server waits for PlayNextEntry with
				// the streams chosen from this header (3.1.4.5).
				s.needPNE = s.pipelined
				return Item{Header: hb}, nil
			}
			if done {
				s.mu.Lock()
				if s.stats.Entries == 0 {
					s.stats.Entries = 1
				}
				s.mu.Unlock()
			}
		case TypeData:
			if s.inHeader {
				return Item{}, fmt.Errorf("%w: $D before the ASF header", ErrProtocol)
			}
			return s.data(p)
		case TypeStreamChange: // 2.2.3.2: a new entry's $M and $H follow
			s.inHeader, s.announce, s.assembly = true, true, s.assembly[:0]
			// Non-pipelined, the server streams the entry in this
			// response (predictive stream selection): STREAMING again
			// (3.1.5.14). Pipelined, PlayNextEntry's response starts it.
			s.streaming = s.streaming || !s.pipelined
		case TypeMetadata:
			s.addMetadata(p)
		case TypeEnd:
			switch p.Reason {
			case EndNextEntry: // $C follows
				s.endOfPlay(false, p.Reason) // 3.1.5.13: the entry's Log
				continue
			case EndOK, EndReceding:
				s.endOfPlay(true, p.Reason)
				s.eof = true
				s.mu.Lock()
				s.stats.EndReason = "end of stream"
				s.mu.Unlock()
				s.ev.Emit(event.End, "end of stream", map[string]any{"reason": "end of stream"})
				return Item{}, io.EOF
			default:
				s.endOfPlay(true, p.Reason)
				return Item{}, fmt.Errorf("%w: $E with HRESULT 0x%08X", ErrServer, p.Reason)
			}
		}
		// $M, $P, $T: nothing to do.
	}
	return Item{}, fmt.Errorf("%w: %d packets without data", ErrProtocol, maxControlPackets)
}

// data restores a $D packet's ASF packet to full size.
func (s *Session) data(p *Packet) (Item, error) {
	out := make([]byte, 0, s.packetSize)
	out, err := asf.RestorePadding(out, p.Payload, s.packetSize)
	if err != nil {
		return Item{}, fmt.Errorf("%w: $D packet %d: %w", ErrProtocol, p.LocationID, err)
	}
	s.mu.Lock()
	s.stats.PacketsReceived++
	s.stats.BytesReceived += uint64(len(p.Payload))
	s.stats.Delivered++
	timed := s.asfPkt.Unmarshal(out) == nil
	s.ent.add(len(p.Payload), s.asfPkt.SendTime, timed)
	if timed {
		if !s.haveSend {
			s.haveSend, s.firstSend = true, s.asfPkt.SendTime
		}
		s.lastSend = s.asfPkt.SendTime
		if s.lastSend >= s.firstSend {
			s.stats.Played = time.Duration(s.lastSend-s.firstSend) * time.Millisecond
		}
	}
	s.mu.Unlock()
	return Item{Packet: out}, nil
}

// Seek restarts playback at t (on-demand content only): a new Play
// request with stream-time (2.2.1.4.28, 3.1.4.7). Canceling ctx while the
// request is under way ends the session, as a failed Seek does.
func (s *Session) Seek(ctx context.Context, t time.Duration) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.live {
		return fmt.Errorf("mmsh: cannot seek in a broadcast")
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// 3.1.4.7: a STREAMING client stops first (3.1.4.6, with the play's
	// Log). The pipelined connection closes: Play goes on a new one.
	s.stop(true)
	s.needPNE = false
	stop := context.AfterFunc(ctx, s.cancel)
	defer stop()
	if err := s.play(t); err != nil {
		s.err = err
		return err
	}
	return nil
}

// KeepAlive tells the server to keep the session (2.2.2.3): a POST with
// xKeepAliveInPause, or OPTIONS * in pipelined mode.
func (s *Session) KeepAlive(ctx context.Context) error {
	p := NewPragma()
	p.NoCache = true
	p.ClientID = s.clientID
	method := http.MethodOptions
	if !s.opts.Pipelined {
		method = http.MethodPost
		p.XKeepAliveInPause = true
		p.XClientGUID = s.guid
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.StepTimeout)
	defer cancel()
	resp, err := s.request(ctx, method, p)
	if err != nil {
		return err
	}
	drain(resp)
	return statusError(resp, "KeepAlive")
}

// Header returns the ASF header of the current playlist entry.
func (s *Session) Header() *asf.Header {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

// HeaderBytes returns the ASF header as received (Header Object and Data
// Object header).
func (s *Session) HeaderBytes() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headerBytes
}

// Pipelined reports whether the session uses the pipelined mode.
func (s *Session) Pipelined() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Mode == "pipelined"
}

// Transport returns "http".
func (s *Session) Transport() string { return "http" }

// Live reports whether the server announced a broadcast.
func (s *Session) Live() bool { return s.live }

// Metadata returns the latest $M of the server (2.2.3.6): playlist entry
// id, features and content description list (title, author, ...). Servers
// send it to clients of version 9 and later, such as this one.
func (s *Session) Metadata() Metadata {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.meta
	m.Features = slices.Clone(m.Features)
	m.Descriptions = slices.Clone(m.Descriptions)
	return m
}

// Features returns the server's features token (2.2.1.4.8).
func (s *Session) Features() []string { return slices.Clone(s.features) }

// Bandwidth returns the bandwidth used for stream selection (0: unlimited).
func (s *Session) Bandwidth() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Bandwidth
}

// Streams returns the stream numbers selected.
func (s *Session) Streams() []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.stats.Streams)
}

// Played returns how much content time has been delivered.
func (s *Session) Played() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats.Played
}

// ClientID returns the server's client-id (2.2.1.4.5), -1 when none.
func (s *Session) ClientID() int64 { return s.clientID }

// Stats returns the session's figures so far.
func (s *Session) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Attempts = slices.Clone(st.Attempts)
	st.Redirects = slices.Clone(st.Redirects)
	st.Streams = slices.Clone(st.Streams)
	st.Elapsed = time.Since(s.begin)
	if secs := st.Elapsed.Seconds(); secs > 0 {
		st.AvgBps = int64(float64(st.BytesReceived*8) / secs)
	}
	return st
}

// Close ends the session (3.1.4.6): in the non-pipelined mode the
// streaming connection is closed, in the pipelined mode a Stop request
// ends the play; when the session was STREAMING, the play's Log goes to
// the server (within min(StepTimeout, 5 s)). The final statistics are
// reported. It is safe to call more than once. A Next under way is cut
// short: then the pipelined connection is closed too and the Log goes on
// a new one.
func (s *Session) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	body, pconn := s.body, s.pconn
	if s.stats.EndReason == "" {
		s.stats.EndReason = "closed"
	}
	s.mu.Unlock()
	idle := s.opMu.TryLock()
	if !idle {
		s.cancel()
		if body != nil {
			body.Close()
		}
		if pconn != nil {
			pconn.Close()
		}
		s.opMu.Lock()
	}
	s.stop(idle)
	s.opMu.Unlock()
	s.cancel()
	s.client.CloseIdleConnections()
	if !s.eof {
		s.ev.Emit(event.End, "closed", map[string]any{"reason": "closed"})
	}
	st := s.Stats()
	s.ev.Emit(event.Stats, fmt.Sprintf("%d packets, %d bytes", st.PacketsReceived, st.BytesReceived), map[string]any{
		"transport": "http", "packets_received": st.PacketsReceived, "bytes_received": st.BytesReceived,
		"bandwidth_bps": st.Bandwidth, "streams": st.Streams, "played_ms": st.Played.Milliseconds(),
		"avg_bps": st.AvgBps, "entries": st.Entries, "server": st.ServerVersion + " " + strconv.Itoa(int(s.clientID)),
		"logs_sent": st.LogsSent,
	})
	return nil
}
