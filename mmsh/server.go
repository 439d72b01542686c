package mmsh

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/auth"
)

// supportedFeatures is the Supported header (2.2.1.7).
const supportedFeatures = "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch, com.microsoft.wm.predstrm"

// Server identification sent in the Server header (2.2.1.5): a version of
// 9 or more tells clients that the 5.0+ tokens are understood.
const serverName = "Cougar/9.01.01.3814"

// Defaults of Handler.
const (
	DefaultFastStart    = time.Second      // burst ahead of real time at play start
	DefaultWriteTimeout = 20 * time.Second // one write to a viewer
	DefaultKeepAlive    = 60 * time.Second // announced in the timeout token
	DefaultMaxSessions  = 1000
	maxRequestBody      = 64 << 10 // Log and SendEvent bodies are read up to this
	maxNTLMPending      = 1024
)

// Handler serves MS-WMSP (2.2.2) for ASF files, live broadcasts and
// server-side playlists: Describe (with a packet pair when asked), Play
// with stream selection, seek (stream-time), SelectStream, KeepAlive
// (POST and OPTIONS), Log, Stop, and the pipeline probe and pipelined mode with
// PlayNextEntry (pipeline.go; it needs an http.Hijacker, else it answers
// pipeline-result=0). The zero value serves nothing; set Dir, Add sources
// or set Lookup.
type Handler struct {
	// Dir serves the ASF files under it by path ("/clip.asf").
	Dir string
	// Lookup, when set, is asked first for the source of a request; it
	// returns an error wrapping fs.ErrNotExist for unknown paths.
	Lookup func(r *http.Request) (Source, error)
	// Rate multiplies the pace of on-demand content (default 1).
	Rate float64
	// Unpaced sends on-demand content as fast as the viewer reads.
	Unpaced bool
	// FastStart is how far ahead of real time on-demand content may be
	// sent (default 1 s), so that players fill their buffers at once.
	FastStart time.Duration
	// Auth, when set, requires Basic or NTLM authentication (its Scheme,
	// Realm, Lookup and TargetName are used; HTTP carries the tokens in
	// WWW-Authenticate and Authorization, RFC 2617 and MS-NLMP over HTTP).
	Auth *auth.Server
	// WriteTimeout bounds each write to a viewer (default 20 s).
	WriteTimeout time.Duration
	// KeepAlive is the timeout token announced to clients (default 60 s).
	KeepAlive time.Duration
	// MaxSessions caps concurrent Play responses (default 1000).
	MaxSessions int
	// OnLog, when set, receives the log of every Log request whose
	// log-line parses (2.2.2.4, 3.2.5.11). It is called on the request's
	// goroutine and must not block for long.
	OnLog  func(ClientLog)
	Logger *slog.Logger

	mu           sync.Mutex
	sources      map[string]Source
	ntlm         map[string]ntlmPending // by remote address: NTLM is per connection
	plays        map[int64]*playCtl     // Play responses by client-id (serverswitch.go)
	sessions     atomic.Int64
	logsReceived atomic.Int64
	logsUnparsed atomic.Int64
}

type ntlmPending struct {
	ch *auth.NTLMChallenge
	at time.Time
}

// Add serves src at name ("/live" or "live"), before Dir.
func (h *Handler) Add(name string, src Source) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.sources == nil {
		h.sources = map[string]Source{}
	}
	h.sources[cleanName(name)] = src
}

func cleanName(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }

func (h *Handler) log() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// IsRequest reports whether r comes from an MS-WMSP client: the user
// agent of its streaming stack (NSPlayer, NSServer; 2.2.1.8) or any of the
// protocol's Pragma tokens. Plain HTTP clients are not, and neither is
// Windows Media Player's "Windows-Media-Player/..." agent, which it uses
// for plain progressive downloads.
func IsRequest(r *http.Request) bool {
	ua := r.Header.Get("User-Agent")
	for _, p := range []string{"NSPlayer/", "NSServer/"} {
		if strings.HasPrefix(ua, p) {
			return true
		}
	}
	for _, v := range r.Header.Values("Pragma") {
		lv := strings.ToLower(v)
		if strings.Contains(lv, "xplaystrm") || strings.Contains(lv, "xclientguid") || strings.Contains(lv, "stream-switch") {
			return true
		}
	}
	return false
}

// clientInfo is what the request says about the client.
type clientInfo struct {
	major    int  // NSPlayer major version, 0 when unknown
	nsServer bool // an NSServer before 5.0 wants padding (2.2.3.3)
}

func parseUserAgent(ua string) clientInfo {
	var ci clientInfo
	for _, p := range []string{"NSPlayer/", "NSServer/"} {
		if v, ok := strings.CutPrefix(ua, p); ok {
			maj, _, _ := strings.Cut(v, ".")
			ci.major, _ = strconv.Atoi(maj)
			ci.nsServer = p == "NSServer/" && ci.major < 5
		}
	}
	return ci
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	prag, err := ParsePragma(r.Header.Values("Pragma"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	hdr := w.Header()
	hdr.Set("Server", serverName)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Supported", supportedFeatures)
	if h.Auth != nil && !h.authenticate(w, r) {
		return
	}
	clientID := prag.ClientID
	if clientID < 0 {
		clientID = int64(randUint32() & 0x7fffffff) // a new session (2.2.1.4.5)
	}
	keep := h.KeepAlive
	if keep <= 0 {
		keep = DefaultKeepAlive
	}
	resp := NewPragma()
	resp.NoCache = true
	resp.ClientID = clientID
	resp.Timeout = keep.Milliseconds()

	switch {
	case r.Method == http.MethodOptions: // KeepAlive, pipelined mode (2.2.2.3.2)
		hdr.Set("Allow", "OPTIONS")
		h.emptyReply(w, resp)
	case isSelectStream(r, prag): // 2.2.2.8: POST, or GET on a pipelined connection
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
		h.selectStream(w, r, prag, resp)
	case r.Method == http.MethodPost && prag.XStopStrm: // 2.2.2.10
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
		h.stopRequest(w, r, prag, resp)
	case r.Method == http.MethodPost: // KeepAlive, Log, SendEvent (2.2.2.3, 2.2.2.4, 2.2.2.9)
		if isLog(r, prag) {
			h.receiveLog(r, prag)
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, maxRequestBody))
		h.emptyReply(w, resp)
	case r.Method != http.MethodGet && r.Method != http.MethodHead:
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	case prag.PipelineRequest: // 2.2.2.5: the pipeline probe
		h.pipeline(w, r, resp)
	default:
		src, done, err := h.source(r)
		if err != nil {
			code := http.StatusInternalServerError
			if errors.Is(err, fs.ErrNotExist) {
				code = http.StatusNotFound
			}
			h.log().Debug("mmsh source", "path", r.URL.Path, "err", err)
			http.Error(w, http.StatusText(code), code)
			return
		}
		defer done()
		ci := parseUserAgent(r.Header.Get("User-Agent"))
		if prag.XPlayStrm == 1 || prag.XPlayNextEntry {
			h.play(w, r, src, prag, resp, ci)
		} else {
			// 2.2.1.4.15: pipeline requests are accepted from HTTP/1.1
			// clients that say they can send them.
			resp.PipelineExperiment = prag.PipelineExperiment && r.ProtoAtLeast(1, 1)
			h.describe(w, r, src, resp, ci, prag.PacketPairExperiment && ci.major >= 5)
		}
	}
}

func (h *Handler) emptyReply(w http.ResponseWriter, resp Pragma) {
	for _, v := range resp.Values() {
		w.Header().Add("Pragma", v)
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// source finds the content of r; done releases it.
func (h *Handler) source(r *http.Request) (Source, func(), error) {
	nop := func() {}
	if h.Lookup != nil {
		src, err := h.Lookup(r)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return src, nop, err
		}
	}
	name := cleanName(r.URL.Path)
	h.mu.Lock()
	src := h.sources[name]
	h.mu.Unlock()
	if src != nil {
		return src, nop, nil
	}
	if h.Dir == "" || name == "" {
		return nil, nop, fmt.Errorf("mmsh: %q: %w", name, fs.ErrNotExist)
	}
	f, err := OpenFile(filepath.Join(h.Dir, filepath.FromSlash(name)))
	if err != nil {
		return nil, nop, err
	}
	return f, func() { f.Close() }, nil
}

// features lists the features token of an entry (2.2.1.4.8); clients
// before 9.0 need "broadcast" with "playlist" and no "seekable".
func features(e Entry, ci clientInfo) []string {
	var f []string
	old := ci.major < 9
	switch {
	case e.Live:
		f = append(f, "broadcast", "live")
	case e.Playlist && old:
		f = append(f, "broadcast")
	case e.Seekable:
		f = append(f, "seekable", "stridable")
	}
	if e.Playlist {
		f = append(f, "playlist")
		if e.Last {
			f = append(f, "last")
		}
	}
	if len(f) == 0 {
		f = append(f, "seekable")
	}
	return f
}

// sendMetadata: $M is understood by Windows Media Player 9 and later;
// FFmpeg and VLC (NSPlayer/4 and /7) stop at an unknown packet type.
func sendMetadata(ci clientInfo) bool { return ci.major >= 9 }

// appendMetadata appends the $M packets of an entry (2.2.3.6), with the
// title, author and copyright of its ASF header as the content description
// list (2.2.4).
func appendMetadata(dst []byte, genID uint32, e Entry, ci clientInfo) []byte {
	m := Metadata{PlaylistGenID: genID, Features: features(e, ci)}
	if h, err := asf.ParseHeader(e.Header); err == nil && h.ContentDescription != nil {
		cd := h.ContentDescription
		d := ContentDescription{}
		for _, nv := range []NameValue{{"title", VTLPWSTR, cd.Title}, {"author", VTLPWSTR, cd.Author}, {"copyright", VTLPWSTR, cd.Copyright}} {
			if nv.Value != "" {
				d.Values = append(d.Values, nv)
			}
		}
		if len(d.Values) > 0 {
			m.Descriptions = []ContentDescription{d}
		}
	}
	return AppendHeaderPackets(dst, TypeMetadata, AppendMetadata(nil, &m), 0)
}

// describe answers a Describe request (2.2.2.1): $M (9.0+ clients) and
// $H, preceded by the three $P of a packet-pair experiment when the
// client asked for one (2.2.1.4.14, 4.3; defined for clients of 5.0 and
// later).
func (h *Handler) describe(w http.ResponseWriter, r *http.Request, src Source, resp Pragma, ci clientInfo, pair bool) {
	e, err := src.Describe(r.Context())
	if err != nil {
		h.log().Debug("mmsh describe", "path", r.URL.Path, "err", err)
		http.Error(w, "content unavailable", http.StatusServiceUnavailable)
		return
	}
	resp.Features = features(e, ci)
	if e.Playlist && ci.major < 9 && !e.Live {
		// As in Writer.startEntry: clients before 9.0 get playlists as a
		// broadcast. VLC takes the packet count of the Describe header and
		// stops there, before the next entry's $C.
		if b, err := BroadcastHeader(e.Header); err == nil {
			e.Header = b
		}
	}
	resp.PacketPairExperiment = pair
	var body []byte
	if sendMetadata(ci) {
		body = appendMetadata(body, 1, e, ci)
	}
	body = AppendHeaderPackets(body, TypeHeader, e.Header, 0)
	for _, v := range resp.Values() {
		w.Header().Add("Pragma", v)
	}
	hdr := w.Header()
	hdr.Set("Content-Type", "application/vnd.ms.wms-hdr.asfv1")
	if pair {
		// Reason of the first $P counts the response header (2.2.3.7):
		// fix every field net/http would add, then measure it.
		hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
		if r.Close && r.ProtoAtLeast(1, 1) {
			hdr.Set("Connection", "close")
		}
		const pairBytes = 3*8 + 504 + 504 + 1048 // the Reason adds as much to the third as it takes from the first
		hdr.Set("Content-Length", strconv.Itoa(pairBytes+len(body)))
		pp := AppendPacketPair(make([]byte, 0, pairBytes+len(body)), responseHeaderSize(r, hdr))
		body = append(pp, body...)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// selection turns stream-switch entries into the set of streams that are
// off (thinning level 2); nil when every stream plays.
func selection(entries []SwitchEntry) map[uint8]bool {
	var off map[uint8]bool
	for _, e := range entries {
		if e.Thinning == ThinOff && e.To < 128 {
			if off == nil {
				off = map[uint8]bool{}
			}
			off[uint8(e.To)] = true
		}
	}
	return off
}

// player is one Play response: a Writer plus the pacing of on-demand
// content.
type player struct {
	*Writer
	h        *Handler
	pkt      asf.Packet
	t0       time.Time
	first    uint32
	haveTime bool
	timer    *time.Timer
	rate     float64
	fast     time.Duration
	// pc is the connection of a pipelined Play whose client waits for
	// PlayNextEntry at entry changes (it did not ask for predictive
	// stream selection, 2.2.1.7.2): nil otherwise.
	pc   *pipeConn
	resp Pragma
	ci   clientInfo
	ctl  *playCtl // what SelectStream and Stop requests on other connections change
	feat []string // features of the current entry
}

func (h *Handler) play(w http.ResponseWriter, r *http.Request, src Source, prag, resp Pragma, ci clientInfo) {
	max := int64(h.MaxSessions)
	if max <= 0 {
		max = DefaultMaxSessions
	}
	if h.sessions.Add(1) > max {
		h.sessions.Add(-1)
		http.Error(w, "too many sessions", http.StatusServiceUnavailable)
		return
	}
	defer h.sessions.Add(-1)
	ctx, stop := context.WithCancelCause(r.Context())
	defer stop(nil)
	var start time.Duration
	if prag.StreamTime > 0 {
		start = time.Duration(prag.StreamTime) * time.Millisecond
	}
	cur, err := src.Play(ctx, start)
	if err != nil {
		h.log().Debug("mmsh play", "path", r.URL.Path, "err", err)
		http.Error(w, "content unavailable", http.StatusServiceUnavailable)
		return
	}
	defer cur.Close()
	first, err := cur.Next(ctx)
	if err != nil || first.Entry == nil {
		h.log().Debug("mmsh play: no header first", "path", r.URL.Path, "err", err)
		http.Error(w, "content unavailable", http.StatusServiceUnavailable)
		return
	}
	resp.Features = features(*first.Entry, ci)
	for _, v := range resp.Values() {
		w.Header().Add("Pragma", v)
	}
	w.Header().Set("Content-Type", "application/x-mms-framed")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	wr := &Writer{w: w, rc: http.NewResponseController(w), ci: ci, off: selection(prag.StreamSwitch), WriteTimeout: h.WriteTimeout}
	p := &player{Writer: wr, h: h, rate: h.Rate, fast: h.FastStart, resp: resp, ci: ci}
	p.ctl = &playCtl{stop: stop, done: make(chan struct{})}
	defer h.register(resp.ClientID, p.ctl)()
	if pc := pipeOf(ctx); pc != nil && !strings.Contains(r.Header.Get("Supported"), "com.microsoft.wm.predstrm") {
		p.pc = pc
	}
	if p.rate <= 0 {
		p.rate = 1
	}
	if p.fast <= 0 {
		p.fast = DefaultFastStart
	}
	if prag.Rate > 0 {
		p.rate *= prag.Rate
	}
	defer func() {
		if p.timer != nil {
			p.timer.Stop()
		}
	}()
	err = p.run(ctx, cur, first)
	h.log().Debug("mmsh play ended", "path", r.URL.Path, "err", err)
}

func (p *player) run(ctx context.Context, cur Cursor, it SourceItem) error {
	live := false
	for {
		switch {
		case it.Entry != nil:
			live = it.Entry.Live
			p.haveTime = false
			p.feat = features(*it.Entry, p.ci)
			if err := p.startEntry(*it.Entry); err != nil {
				return err
			}
			if p.pc != nil && p.entries > 1 {
				if err := p.playNextEntry(ctx, *it.Entry); err != nil {
					return p.stopped(ctx, err)
				}
			}
		case it.Packet != nil:
			if p.pc != nil {
				sel, err := p.pc.poll()
				if err != nil {
					return err
				}
				if sel != nil {
					if err := p.selectStreamPiped(sel); err != nil {
						return err
					}
				}
			}
			if e := p.ctl.takeSelection(); e != nil {
				p.applySwitch(e)
			}
			if !live && !p.h.Unpaced {
				if err := p.pace(ctx, it.Packet); err != nil {
					return p.stopped(ctx, err)
				}
			}
			if err := p.data(it.Packet, it.Location); err != nil {
				return err
			}
			if len(p.buf) >= 32<<10 || live {
				if err := p.Flush(); err != nil {
					return err
				}
			}
		}
		var err error
		it, err = cur.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if context.Cause(ctx) == errStopRequest {
			return p.stopped(ctx, err)
		}
		if err != nil {
			p.End(0x80004005) // E_FAIL
			return err
		}
	}
	return p.End(EndOK)
}

// playNextEntry waits in pipelined mode, after the new entry's $C, $M
// and $H, for the client's PlayNextEntry request (3.2.4.2, 3.2.5.9): the
// Play response ends, queued requests are answered, and the entry's $D
// packets follow in the PlayNextEntry response, with its stream selection.
func (p *player) playNextEntry(ctx context.Context, e Entry) error {
	req, err := p.pc.nextEntry(ctx, p.selectStreamWaiting)
	if err != nil {
		return err
	}
	prag, _ := ParsePragma(req.Header.Values("Pragma"))
	p.off, p.sw = selection(prag.StreamSwitch), switcher{}
	resp := p.resp
	resp.Features = features(e, p.ci)
	hdr := p.h.baseHeader()
	setPragma(hdr, resp)
	hdr.Set("Content-Type", "application/x-mms-framed")
	rw, ok := p.w.(*pipeResponse)
	if !ok {
		return fmt.Errorf("mmsh: PlayNextEntry outside a pipelined connection")
	}
	return rw.restart(hdr)
}

// pace waits until the packet's send time, FastStart ahead of real time.
func (p *player) pace(ctx context.Context, pkt []byte) error {
	if err := p.pkt.Unmarshal(pkt); err != nil {
		return nil
	}
	if !p.haveTime {
		p.haveTime, p.first, p.t0 = true, p.pkt.SendTime, time.Now()
		return nil
	}
	rel := time.Duration(int64(p.pkt.SendTime)-int64(p.first)) * time.Millisecond
	due := p.t0.Add(time.Duration(float64(rel)/p.rate) - p.fast)
	if time.Until(due) > 0 {
		if err := p.Flush(); err != nil {
			return err
		}
		return sleepUntil(ctx, &p.timer, due)
	}
	return nil
}

// authenticate checks the Authorization header; on failure it has
// answered 401 (with a challenge) and returns false.
func (h *Handler) authenticate(w http.ResponseWriter, r *http.Request) bool {
	a := h.Auth
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	deny := func(challenge string) bool {
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusUnauthorized)
		return false
	}
	if strings.EqualFold(a.Scheme, auth.SchemeNTLM) {
		if !strings.EqualFold(scheme, "NTLM") && !strings.EqualFold(scheme, "Negotiate") {
			return deny("NTLM")
		}
		raw, err := base64.StdEncoding.DecodeString(token)
		if err != nil {
			return deny("NTLM")
		}
		srv := &auth.NTLMServer{Lookup: a.Lookup, TargetName: a.TargetName, Rand: a.Rand}
		switch auth.MessageType(raw) {
		case 1: // NEGOTIATE: challenge on this connection
			ch, msg, err := srv.Challenge(raw)
			if err != nil {
				return deny("NTLM")
			}
			h.putNTLM(r.RemoteAddr, ch)
			return deny("NTLM " + base64.StdEncoding.EncodeToString(msg))
		case 3: // AUTHENTICATE
			ch := h.takeNTLM(r.RemoteAddr)
			if ch == nil {
				return deny("NTLM")
			}
			if _, err := ch.Authenticate(raw); err != nil {
				h.log().Debug("mmsh NTLM refused", "remote", r.RemoteAddr, "err", err)
				return deny("NTLM")
			}
			return true
		}
		return deny("NTLM")
	}
	realm := a.Realm
	if realm == "" {
		realm = "mmsgate"
	}
	if strings.EqualFold(scheme, "Basic") {
		user, pass, err := auth.ParseBasicCredentials([]byte(token))
		if err == nil && a.Lookup != nil {
			want, ok := a.Lookup(user, "")
			if subtle.ConstantTimeCompare([]byte(want), []byte(pass)) == 1 && ok {
				return true
			}
		}
	}
	return deny(`Basic realm="` + realm + `"`)
}

func (h *Handler) putNTLM(remote string, ch *auth.NTLMChallenge) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ntlm == nil {
		h.ntlm = map[string]ntlmPending{}
	}
	now := time.Now()
	for k, v := range h.ntlm {
		if now.Sub(v.at) > 30*time.Second || len(h.ntlm) >= maxNTLMPending {
			delete(h.ntlm, k)
		}
	}
	h.ntlm[remote] = ntlmPending{ch: ch, at: now}
}

func (h *Handler) takeNTLM(remote string) *auth.NTLMChallenge {
	h.mu.Lock()
	defer h.mu.Unlock()
	p, ok := h.ntlm[remote]
	delete(h.ntlm, remote)
	if !ok || time.Since(p.at) > 30*time.Second {
		return nil
	}
	return p.ch
}

func randUint32() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint32(b[:])
}
