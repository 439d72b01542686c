// Package mmsserver is an MMS server (MS-MMSP section 3.2): it streams ASF
// files, files looped as live broadcasts and server-side playlists to MMS
// clients over TCP, with Data packets over TCP or UDP.
//
// The server keeps the abstract data model of 3.2.1 per connection
// (Client-ID, Client-Port, Client-Version, File-ID, Incarnation, Sequence,
// State, UDP-Packet-Pair) and runs the KeepAlive and Idle-Timeout timers of
// 3.2.2. It was checked against FFmpeg's mmst and VLC's mmst/mmsu clients;
// where they deviate from the specification the server accepts what they
// send, and the code says so with the section number.
//
// HTTPHandler serves the same content over MMSH (MS-WMSP) through package
// mmsh, sharing the live broadcasts with the MMS sessions.
package mmsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// Padding policies for ASF data packets (2.2.2), see Server.StripPadding.
const (
	// StripMulti removes Padding Data only from packets with multiple
	// payloads, whose explicit payload lengths make the removal safe. A
	// single-payload packet whose padding is removed and whose Padding
	// Length is set to 0 is corrupted by FFmpeg, VLC, MPlayer and libmms,
	// which pad it back with zeros and read the zeros as payload data.
	StripMulti = "multi"
	// StripAll removes Padding Data from every packet, as 2.2.2 literally
	// says; for testing clients that restore packets exactly.
	StripAll = "all"
	// StripNone sends every packet whole.
	StripNone = "none"
)

// Defaults of the zero-valued Server fields.
const (
	DefaultKeepAlive        = 30 * time.Second   // 3.2.2 KeepAlive
	DefaultIdleTimeout      = 3600 * time.Second // 3.2.2 Idle-Timeout
	DefaultEndIdleTimeout   = 10 * time.Second   // Idle-Timeout after the end of the content
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 20 * time.Second
	DefaultMaxConns         = 1000
	DefaultMaxMessageSize   = 64 << 10
	DefaultResendHistory    = 1024
)

// Auth requires clients to authenticate before OpenFile succeeds (2.2.4.14,
// 3.2.5.6, 3.2.5.7).
type Auth struct {
	Scheme   string // "basic" or "ntlm"
	Username string
	Password string
	Realm    string // Basic realm; default "mmsd"
	Domain   string // NTLM domain accepted (empty: any)
}

// ClientLog is what a client reported with LinkViewerToMacLogging (3.2.5.15).
type ClientLog struct {
	Time   time.Time
	Remote string
	Path   string
	Log    mmsproto.ClientLog
}

// Server serves MMS. Set its fields before Serve; the zero value serves
// nothing but answers the protocol.
type Server struct {
	// Dir is served: every ASF, WMV and WMA file below it is at
	// mms://host:port/<path relative to Dir>.
	Dir string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// OnEvent, when set, receives session events (connect, open, play, end,
	// client log, errors).
	OnEvent event.Func
	// OnClientLog, when set, is called with every LinkViewerToMacLogging.
	OnClientLog func(ClientLog)
	// Auth, when set, requires authentication.
	Auth *Auth
	// Redirects maps a requested path to a URL the client is sent to
	// with LinkMacToViewerReportRedirect (2.2.4.9).
	Redirects map[string]string
	// DropUDP is the share (0..1) of ASF data packets sent over UDP that
	// are dropped on purpose, to exercise clients' resend requests.
	DropUDP float64
	// Rate scales pacing by the packets' send times: 1 (or 0, the zero
	// value) is real time, 2 twice as fast. Live broadcasts run at this
	// rate too.
	Rate float64
	// Unpaced sends file content as fast as the client reads (benchmarks).
	// Live broadcasts are always paced.
	Unpaced bool
	// FastStart is the media time sent without pacing at the start of each
	// play, as Windows Media servers do to fill the client's buffer.
	FastStart time.Duration
	// StripPadding is StripMulti (the default when empty), StripAll or
	// StripNone. Padding is never stripped for WMS 4.0/4.1 clients (2.2.2).
	StripPadding string
	// Timers and limits; zero means the Default* value.
	KeepAlive   time.Duration
	IdleTimeout time.Duration
	// EndIdleTimeout is the Idle-Timeout started when the last entry has
	// been sent (3.2.4.1). 3.2.2 allows any period from 10 s; a short one
	// releases clients such as FFmpeg's mmst, which keeps reading after
	// EndOfStream and would otherwise wait for the full Idle-Timeout.
	EndIdleTimeout   time.Duration
	HandshakeTimeout time.Duration
	WriteTimeout     time.Duration
	MaxConns         int
	MaxMessageSize   int
	ResendHistory    int // Data packets kept per session for RequestPacketListResend

	mu       sync.Mutex
	started  bool
	lives    map[string]*broadcast
	lists    map[string][]string
	sessions map[uint32]*session // by Client-ID, for RequestPacketListResend
	conns    map[*session]struct{}
	lns      map[net.Listener]struct{}
	udp      map[net.Listener]*net.UDPConn
	logs     []ClientLog
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	closed   bool
}

func (s *Server) init() {
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancel(context.Background())
		s.lives = map[string]*broadcast{}
		s.lists = map[string][]string{}
		s.sessions = map[uint32]*session{}
		s.conns = map[*session]struct{}{}
		s.lns = map[net.Listener]struct{}{}
		s.udp = map[net.Listener]*net.UDPConn{}
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (s *Server) rate() float64 {
	if s.Rate > 0 {
		return s.Rate
	}
	return 1
}

func durOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

func intOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// AddLive serves file, looped, as a live broadcast at /name: clients join
// it mid-stream at the latest key frame and see a header marked broadcast.
// The broadcast runs from the first Serve call until Shutdown.
func (s *Server) AddLive(name, file string) error {
	m, err := openMedia(file)
	if err != nil {
		return fmt.Errorf("mmsserver: live %s: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	name = cleanName(name)
	if old := s.lives[name]; old != nil {
		old.media.Close()
	}
	b := newBroadcast(name, m, s.rate(), s.logger())
	s.lives[name] = b
	if s.started {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); b.run(s.ctx) }()
	}
	return nil
}

// AddPlaylist serves files, in order, as a server-side playlist at /name
// (3.2.4.1, 3.2.4.2).
func (s *Server) AddPlaylist(name string, files ...string) error {
	if len(files) == 0 {
		return errors.New("mmsserver: empty playlist")
	}
	for _, f := range files {
		m, err := openMedia(f)
		if err != nil {
			return fmt.Errorf("mmsserver: playlist %s: %w", name, err)
		}
		m.Close()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.init()
	s.lists[cleanName(name)] = append([]string(nil), files...)
	return nil
}

// ClientLogs returns the logs clients reported so far (at most the last 1000).
func (s *Server) ClientLogs() []ClientLog {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]ClientLog(nil), s.logs...)
}

// Sessions returns the number of open connections.
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) addClientLog(l ClientLog) {
	s.mu.Lock()
	s.logs = append(s.logs, l)
	if len(s.logs) > 1000 {
		s.logs = append([]ClientLog(nil), s.logs[len(s.logs)-1000:]...)
	}
	s.mu.Unlock()
	if s.OnClientLog != nil {
		s.OnClientLog(l)
	}
}

// ErrServerClosed is returned by Serve after Shutdown.
var ErrServerClosed = errors.New("mmsserver: server closed")

// ListenAndServe listens on the TCP address addr and serves.
func (s *Server) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown. It also listens for
// RequestPacketListResend on the UDP port with the same number as ln's
// (3.2.5.11.1); if that port is taken, UDP data still works but resend
// requests are not served. Serve closes ln when it returns.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.init()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	s.startLocked()
	s.lns[ln] = struct{}{}
	var udp *net.UDPConn
	if ta, ok := ln.Addr().(*net.TCPAddr); ok {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP, Port: ta.Port})
		if err != nil {
			s.logger().Warn("no UDP socket for resend requests", "addr", ta, "err", err)
			u, err = net.ListenUDP("udp", &net.UDPAddr{IP: ta.IP})
		}
		if err == nil {
			udp = u
			s.udp[ln] = u
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.serveUDP(u) }()
		}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		if udp != nil {
			udp.Close()
			delete(s.udp, ln)
		}
		s.mu.Unlock()
		ln.Close()
	}()
	s.logger().Info("mmsd listening", "addr", ln.Addr().String())
	var tempDelay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscallEMFILE) {
				tempDelay = min(max(2*tempDelay, 5*time.Millisecond), time.Second)
				time.Sleep(tempDelay)
				continue
			}
			return err
		}
		tempDelay = 0
		s.mu.Lock()
		if len(s.conns) >= intOr(s.MaxConns, DefaultMaxConns) || s.closed {
			s.mu.Unlock()
			s.logger().Warn("connection refused: limit reached", "remote", c.RemoteAddr().String())
			c.Close()
			continue
		}
		ss := newSession(s, c, udp)
		s.conns[ss] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			ss.run(s.ctx)
			s.mu.Lock()
			delete(s.conns, ss)
			if s.sessions[ss.clientID] == ss {
				delete(s.sessions, ss.clientID)
			}
			s.mu.Unlock()
		}()
	}
}

// startLocked starts the live broadcasts once, at the first Serve or
// HTTPHandler call. s.mu is held.
func (s *Server) startLocked() {
	if s.started || s.closed {
		return
	}
	s.started = true
	for _, b := range s.lives {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); b.run(s.ctx) }()
	}
}

// Shutdown stops accepting, closes every connection and broadcast, and
// waits for every goroutine of the server to end or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.init()
	s.closed = true
	s.cancel()
	for ln := range s.lns {
		ln.Close()
	}
	for _, u := range s.udp {
		u.Close()
	}
	for c := range s.conns {
		c.conn.Close()
	}
	lives := s.lives
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	for _, b := range lives {
		b.media.Close()
	}
	return nil
}

// newClientID returns a random Client-ID not in use (3.2.3).
func (s *Server) registerSession(ss *session) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		id := rand.Uint32()
		if id == 0 {
			continue
		}
		if _, dup := s.sessions[id]; !dup {
			s.sessions[id] = ss
			return id
		}
	}
}

// serveUDP answers RequestPacketListResend packets (3.2.5.13).
func (s *Server) serveUDP(u *net.UDPConn) {
	buf := make([]byte, 2048)
	for {
		n, from, err := u.ReadFromUDPAddrPort(buf)
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var req mmsproto.RequestPacketListResend
		if err := req.Unmarshal(buf[:n]); err != nil {
			s.logger().Debug("bad UDP packet", "from", from.String(), "err", err)
			continue
		}
		s.mu.Lock()
		ss := s.sessions[req.ClientID]
		s.mu.Unlock()
		if ss == nil {
			continue
		}
		ss.resend(u, from, &req)
	}
}

// content is what a path resolves to.
type content struct {
	name    string
	files   []string   // a file or a playlist's entries
	live    *broadcast // a live broadcast
	isList  bool
	opened  *media // the current entry, opened
	current int    // index of the current entry
}

var errNotFound = errors.New("no such file")

// resolve maps an OpenFile fileName to content (3.2.5.6 "check with the
// higher layer"). Paths never leave Dir.
func (s *Server) resolve(fileName string) (*content, error) {
	name := cleanName(fileName)
	s.mu.Lock()
	live := s.lives[name]
	list := s.lists[name]
	s.mu.Unlock()
	switch {
	case live != nil:
		return &content{name: name, live: live}, nil
	case list != nil:
		return &content{name: name, files: list, isList: true}, nil
	}
	if s.Dir == "" || name == "" {
		return nil, errNotFound
	}
	ext := strings.ToLower(path.Ext(name))
	if ext != ".asf" && ext != ".wmv" && ext != ".wma" {
		return nil, errNotFound
	}
	p := filepath.Join(s.Dir, filepath.FromSlash(name))
	if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() {
		return nil, errNotFound
	}
	return &content{name: name, files: []string{p}}, nil
}

// cleanName turns a URL path into a clean relative name: no leading slash,
// no "..", no query.
func cleanName(n string) string {
	n = strings.ReplaceAll(n, `\`, "/")
	if i := strings.IndexAny(n, "?#"); i >= 0 {
		n = n[:i]
	}
	n = path.Clean("/" + n)
	return strings.TrimPrefix(n, "/")
}

func remoteAddrPort(c net.Conn) netip.AddrPort {
	if ta, ok := c.RemoteAddr().(*net.TCPAddr); ok {
		ap := ta.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return netip.AddrPort{}
}
