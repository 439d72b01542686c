package mmsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// Client side of the Log request (2.2.2.4). A log goes to the server when
// a STREAMING play ends: at $E (3.1.5.13: the end of the content or of a
// playlist entry) and when the client stops (3.1.4.6: Close, or Seek). In
// the pipelined mode it goes on the connection of the play (after a Stop
// request when the client stops), otherwise on a new connection closed
// after the response (3.1.5.15). The log is the "legacy" log-line
// (logline.go): the XML LogStats body that 3.1.5.13 recommends for
// Cougar 9 servers is defined by MS-WMLOG, which we do not have. Failing
// to log is an event, never a session error, and each exchange is bounded
// by logTimeout.

// clientVersion is the version of UserAgent in four 16-bit parts.
const clientVersion = 12<<48 | 0<<32 | 7601<<16 | 17514

// logTimeout bounds one Log exchange (and, in the pipelined mode, the
// Stop before it).
func (s *Session) logTimeout() time.Duration { return min(s.opts.StepTimeout, 5*time.Second) }

// entryStats are the figures of the play being logged: since the Play
// (or PlayNextEntry) response, or since the previous log.
type entryStats struct {
	begin       time.Time
	start       time.Duration // playback start of a Play (0 for later entries)
	packets     uint32
	bytes       uint64
	first, last uint32 // send times
	have        bool
}

func (e *entryStats) add(payload int, send uint32, timed bool) {
	e.packets++
	e.bytes += uint64(payload)
	if timed {
		if !e.have {
			e.have, e.first = true, send
		}
		e.last = send
	}
}

func (e *entryStats) played() time.Duration {
	if !e.have || e.last < e.first {
		return 0
	}
	return time.Duration(e.last-e.first) * time.Millisecond
}

// takeLog returns the CLIENT_LOG figures of the play that ends (MS-MMSP
// 2.2.1 gives their meaning), with hr its outcome (0: it played to its
// end or was stopped), and starts counting anew.
func (s *Session) takeLog(hr uint32) mmsproto.ClientLog {
	e := s.ent
	s.ent = entryStats{begin: time.Now()}
	var avg uint32
	if secs := time.Since(e.begin).Seconds(); secs > 0 && !e.begin.IsZero() {
		avg = uint32(min(float64(e.bytes*8)/secs, 1<<32-1))
	}
	in := mmsproto.ClientLogInfo{
		URL:                 s.url.String(),
		UserAgent:           UserAgent,
		ClientVersion:       clientVersion,
		Lang:                "en-US",
		UniquePID:           s.guid, // xClientGUID: one player, one session
		HostExe:             "mmsgate",
		HostExeVer:          clientVersion,
		AvgBandwidthBps:     avg,
		StartTime:           uint32(e.start.Milliseconds()),
		Played:              uint32(e.played().Milliseconds()),
		Rate:                1,
		BytesReceived:       e.bytes,
		PacketsReceived:     e.packets,
		MinReceptionQuality: 100, // TCP: nothing is lost
		HR:                  hr,
	}
	if s.opts.Language != "" {
		in.Lang = s.opts.Language
	}
	if h := s.hdr; h != nil {
		if !s.live && !h.FileProperties.Broadcast {
			in.FileDuration = uint32(min(h.FileProperties.Duration().Milliseconds(), 1<<32-1))
			in.FileSize = h.FileProperties.FileSize
		}
		in.AudioCodec, in.VideoCodec = h.SelectedCodecs(s.selected)
	}
	return mmsproto.ClientLog{
		Info:        in,
		IPAddress:   0xFFFFFFFF, // the server knows it better (MS-MMSP 2.2.1.1)
		ComputerDNS: "-",
		OS:          runtime.GOOS,
		CPU:         runtime.GOARCH,
		Proto:       "http",
		Transport:   "TCP",
	}
}

// logRequest builds the Log request of l (2.2.2.4): client-id, no-cache
// and xClientGUID on one Pragma header, log-line alone on another, an
// empty body and no Content-Type.
func (s *Session) logRequest(ctx context.Context, l *mmsproto.ClientLog, authz string) (*http.Request, error) {
	p := NewPragma()
	p.NoCache, p.ClientID, p.XClientGUID = true, s.clientID, s.guid
	p.LogLine = string(AppendLogLine(nil, l, time.Now()))
	return s.newRequest(ctx, http.MethodPost, p, authz)
}

// endOfPlay runs at $E (3.1.5.13) with its Reason: when STREAMING, the
// Log request goes out and the client is IDLE. final is the end of the
// response (the content's, or an error's): in the pipelined mode the Log
// response follows it, and is read here; at a playlist entry change it
// is read before the PlayNextEntry response (playNextEntry).
func (s *Session) endOfPlay(final bool, reason uint32) {
	if !s.streaming {
		return
	}
	s.streaming = false
	hr := uint32(0)
	if reason&0x80000000 != 0 { // an error HRESULT
		hr = reason
	}
	l := s.takeLog(hr)
	s.mu.Lock()
	conn, br := s.pconn, s.pbr
	s.mu.Unlock()
	if !s.pipelined || conn == nil {
		s.logDone(&l, s.postLog(&l), "new connection")
		return
	}
	err := withIdle(conn, s.logTimeout(), func() error {
		if err := s.writePipeLog(conn, &l); err != nil {
			return err
		}
		if !final {
			s.pendLogs = append(s.pendLogs, l)
			return nil
		}
		s.mu.Lock()
		body := s.body
		s.mu.Unlock()
		if body == nil {
			return ErrClosed
		}
		if _, err := io.Copy(io.Discard, body); err != nil { // the Play response ends after $E
			return s.readError(err, "Play")
		}
		return s.readPipeResponse(br, http.MethodPost, "Log")
	})
	if err != nil || final {
		s.logDone(&l, err, "pipelined")
	}
}

// postLog sends a Log request on a new connection, which closes after
// the response (3.1.5.13, 3.1.5.15). Credentials are those of the
// session: Basic at once, NTLM by a new handshake (NTLM authenticates the
// connection).
func (s *Session) postLog(l *mmsproto.ClientLog) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), s.logTimeout())
	defer cancel()
	c := s.newClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	defer c.CloseIdleConnections()
	build := func(authz string) (*http.Request, error) { return s.logRequest(ctx, l, authz) }
	req, err := build(s.basic)
	if err != nil {
		return err
	}
	resp, err := c.Do(req)
	if err != nil {
		return s.netError(err)
	}
	s.mu.Lock()
	scheme := s.stats.AuthScheme
	s.mu.Unlock()
	if resp.StatusCode == http.StatusUnauthorized && scheme == "NTLM" {
		drain(resp)
		if resp, err = s.ntlm(c, build); err != nil {
			return err
		}
	}
	drain(resp)
	return statusError(resp, "Log")
}

// writePipeLog writes a Log request on the pipelined connection.
func (s *Session) writePipeLog(conn net.Conn, l *mmsproto.ClientLog) error {
	req, err := s.logRequest(s.ctx, l, s.basic)
	if err != nil {
		return err
	}
	req.Header.Set("Connection", "keep-alive")
	if err := req.Write(conn); err != nil {
		return s.netError(err)
	}
	return nil
}

// readPipeResponse reads the response to a request without a body
// (Log, Stop) from the pipelined connection. A status other than 200 is
// an errStatus: the connection is still in step.
func (s *Session) readPipeResponse(br *bufio.Reader, method, what string) error {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return s.readError(err, what)
	}
	drain(resp)
	if err := statusError(resp, what); err != nil {
		return errStatus{err}
	}
	return nil
}

// errStatus is a complete response with an error status.
type errStatus struct{ error }

func (e errStatus) Unwrap() error { return e.error }

// readPipeLogs reads the responses of the Log requests sent at $E of a
// playlist entry, which the server sends after ending the Play response
// (Pending-Responses, 3.2.5.11) and before the PlayNextEntry response.
func (s *Session) readPipeLogs(conn net.Conn, br *bufio.Reader) error {
	for len(s.pendLogs) > 0 {
		l := s.pendLogs[0]
		s.pendLogs = s.pendLogs[1:]
		err := withIdle(conn, s.logTimeout(), func() error { return s.readPipeResponse(br, http.MethodPost, "Log") })
		s.logDone(&l, err, "pipelined")
		if err != nil && !errors.As(err, new(errStatus)) {
			return err // the connection is out of step: PlayNextEntry's response cannot be read
		}
	}
	return nil
}

// stop ends the current play (3.1.4.6) for Close and Seek, the caller
// holding opMu. When the session is STREAMING, the play's Log follows: in
// the pipelined mode a Stop request and the Log request go on the play's
// connection (pipeOK: no Next was interrupted on it), else the play's
// connection is closed and the Log goes on a new one.
func (s *Session) stop(pipeOK bool) {
	s.mu.Lock()
	body, conn, br := s.body, s.pconn, s.pbr
	s.body, s.pconn, s.pbr = nil, nil, nil
	s.mu.Unlock()
	streaming := s.streaming
	s.streaming, s.pendLogs = false, nil
	// After a failed Next the play's connection is no use, and the play
	// did not end well.
	hr := uint32(0)
	if s.err != nil {
		pipeOK = false
		if !errors.Is(s.err, ErrClosed) { // not the caller's own stop
			hr = hrFailed
		}
	}
	if streaming && s.pipelined && pipeOK && conn != nil && body != nil {
		l := s.takeLog(hr)
		err := withIdle(conn, s.logTimeout(), func() error { return s.stopPipelined(conn, br, body, &l) })
		conn.Close()
		s.logDone(&l, err, "pipelined")
		return
	}
	if body != nil {
		body.Close()
	}
	if conn != nil {
		conn.Close()
	}
	if streaming {
		l := s.takeLog(hr)
		s.logDone(&l, s.postLog(&l), "new connection")
	}
}

// stopPipelined sends Stop and Log back to back on the pipelined
// connection, reads what is left of the streaming response (the server
// ends it with a zero-length chunk, 3.2.5.10), then both responses.
func (s *Session) stopPipelined(conn net.Conn, br *bufio.Reader, body io.Reader, l *mmsproto.ClientLog) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.logTimeout())
	defer cancel()
	p := NewPragma()
	p.NoCache, p.ClientID, p.XStopStrm = true, s.clientID, true
	stop, err := s.newRequest(ctx, http.MethodPost, p, s.basic)
	if err != nil {
		return err
	}
	stop.Header.Set("Connection", "keep-alive")
	if err := stop.Write(conn); err != nil {
		return s.netError(err)
	}
	if err := s.writePipeLog(conn, l); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, body); err != nil {
		return s.readError(err, "Stop")
	}
	stopErr := s.readPipeResponse(br, http.MethodPost, "Stop")
	if stopErr != nil && !errors.As(stopErr, new(errStatus)) {
		return stopErr
	}
	return errors.Join(stopErr, s.readPipeResponse(br, http.MethodPost, "Log"))
}

// logDone reports the outcome of a Log exchange as an event.
func (s *Session) logDone(l *mmsproto.ClientLog, err error, mode string) {
	f := map[string]any{"mode": mode, "url": l.Info.URL, "packets_received": l.Info.PacketsReceived,
		"bytes_received": l.Info.BytesReceived, "played_ms": l.Info.Played}
	if err != nil {
		s.log.Debug("mmsh: Log request failed", "err", err)
		f["outcome"], f["reason"] = "failed", err.Error()
		s.ev.Emit(event.ClientLog, "client log failed: "+err.Error(), f)
		return
	}
	s.mu.Lock()
	s.stats.LogsSent++
	s.mu.Unlock()
	f["outcome"] = "ok"
	s.ev.Emit(event.ClientLog, fmt.Sprintf("client log sent (%s): %d packets, %d ms played",
		mode, l.Info.PacketsReceived, l.Info.Played), f)
}

// withIdle runs fn with the idle timeout of the session's connection
// conn set to d, and closes conn if fn has not returned after d: a Log
// exchange is bounded by d rather than by IdleTimeout. Only the goroutine
// holding opMu reads conn.
func withIdle(conn net.Conn, d time.Duration, fn func() error) error {
	if ic, ok := conn.(*idleConn); ok {
		old := ic.idle
		ic.idle = d
		defer func() { ic.idle = old }()
	}
	_ = conn.SetDeadline(time.Now().Add(d))
	timer := time.AfterFunc(d, func() { conn.Close() })
	err := fn()
	if !timer.Stop() && err == nil {
		err = fmt.Errorf("%w: Log exchange beyond %v", ErrTimeout, d)
	}
	return err
}
