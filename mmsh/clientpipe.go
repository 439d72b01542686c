package mmsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// Client side of the pipelined mode (2.2.2.5, 3.1.5.9, 3.1.4.5).
// net/http's Transport never pipelines (it sends a request only after the
// previous response ended), so the probe, Play and PlayNextEntry go over a
// connection of the Session's own: requests are written with
// http.Request.Write and responses read in order with http.ReadResponse.

// pipeBody is a Play or PlayNextEntry body on the pipelined connection:
// closing it closes the connection (http's body Close would read a
// streaming response to its end).
type pipeBody struct {
	io.Reader
	conn net.Conn
}

func (b *pipeBody) Close() error { return b.conn.Close() }

// dialPipe opens the connection for pipelined requests.
func (s *Session) dialPipe(ctx context.Context) (net.Conn, *bufio.Reader, error) {
	host := s.url.Host
	if s.url.Port() == "" {
		host = net.JoinHostPort(s.url.Hostname(), "80")
	}
	c, err := s.opts.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, nil, s.netError(err)
	}
	ic := &idleConn{Conn: c, idle: s.opts.IdleTimeout}
	return ic, bufio.NewReaderSize(ic, 32<<10), nil
}

// pipeRequest is a request for the pipelined connection: HTTP/1.1,
// version11-enabled (3.1.4.3.1), no predictive stream selection (so that
// the server waits for PlayNextEntry at entry changes, 3.2.4.2).
func (s *Session) pipeRequest(ctx context.Context, p Pragma) (*http.Request, error) {
	p.Version11Enabled = true
	req, err := s.newRequest(ctx, http.MethodGet, p, s.basic)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Supported", "com.microsoft.wm.srvppair, com.microsoft.wm.sswitch")
	req.Header.Set("Connection", "keep-alive")
	return req, nil
}

// probePipeline sends the two Pipeline requests back to back (2.2.2.5)
// and reports whether the server answered pipeline-result=1 in an
// HTTP/1.1 response; then the connection is kept for Play.
func (s *Session) probePipeline(ctx context.Context) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*s.opts.StepTimeout)
	defer cancel()
	conn, br, err := s.dialPipe(ctx)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	keep := false
	defer func() {
		if !keep {
			conn.Close()
		}
	}()
	p := NewPragma()
	p.NoCache, p.PipelineRequest, p.ClientID = true, true, s.clientID
	req, err := s.newRequest(ctx, http.MethodGet, p, s.basic)
	if err != nil {
		return false, err
	}
	req.Header.Set("Connection", "keep-alive")
	bw := bufio.NewWriter(conn)
	for range 2 {
		if err := req.Write(bw); err != nil {
			return false, s.netError(err)
		}
	}
	if err := bw.Flush(); err != nil {
		return false, s.netError(err)
	}
	// First response: chunked, one $T (3.1.5.10), ended by the second
	// request or the server's Pipeline-Test timer.
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return false, s.readError(err, "Pipeline")
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("%w: Pipeline: %s", ErrServer, resp.Status)
	}
	rd := NewReader(io.LimitReader(resp.Body, 64<<10))
	var pkt Packet
	tests := 0
	for {
		err := rd.Next(&pkt)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return false, s.readError(err, "Pipeline")
		}
		if pkt.Type != TypeTest {
			return false, fmt.Errorf("%w: $%c in the Pipeline response, want $T", ErrProtocol, pkt.Type)
		}
		tests++
	}
	if tests != 1 {
		return false, fmt.Errorf("%w: %d $T packets in the Pipeline response, want 1", ErrProtocol, tests)
	}
	resp2, err := http.ReadResponse(br, req)
	if err != nil {
		return false, s.readError(err, "Pipeline")
	}
	drain(resp2)
	rp, _ := ParsePragma(resp2.Header.Values("Pragma"))
	if rp.ClientID >= 0 {
		s.clientID = rp.ClientID
	}
	ok := resp2.ProtoAtLeast(1, 1) && rp.PipelineResult == 1 && !resp2.Close // 3.1.5.9
	if ok {
		keep = true
		s.mu.Lock()
		s.pconn, s.pbr = conn, br
		s.mu.Unlock()
	}
	return ok, nil
}

func (s *Session) pipeConn() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pconn
}

// playPipelined sends the Play request on the pipelined connection and
// returns its response.
func (s *Session) playPipelined(p Pragma) (*http.Response, error) {
	s.mu.Lock()
	conn, br := s.pconn, s.pbr
	s.mu.Unlock()
	if conn == nil {
		return nil, ErrClosed
	}
	req, err := s.pipeRequest(s.ctx, p)
	if err != nil {
		return nil, err
	}
	return s.roundTripPipe(conn, br, req, "Play")
}

// roundTripPipe writes req and reads its response, the next one on the
// connection (the client sends nothing else on it, 3.1.5.3).
func (s *Session) roundTripPipe(conn net.Conn, br *bufio.Reader, req *http.Request, what string) (*http.Response, error) {
	stop := context.AfterFunc(s.ctx, func() { conn.Close() })
	defer stop()
	_ = conn.SetDeadline(time.Now().Add(s.opts.StepTimeout))
	if err := req.Write(conn); err != nil {
		return nil, s.netError(err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return nil, s.readError(err, what)
	}
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%w: %s on the pipelined connection: %s", ErrAuth, what, resp.Status)
	}
	if err := statusError(resp, what); err != nil {
		return nil, err
	}
	s.serverInfo(resp)
	resp.Body = &pipeBody{Reader: resp.Body, conn: conn}
	return resp, nil
}

// playNextEntry selects the streams of the new entry's header and sends
// PlayNextEntry on the connection (3.1.4.5): the Play (or previous
// PlayNextEntry) response ends there, and the entry's $D packets come in
// the new response.
func (s *Session) playNextEntry() error {
	if err := s.chooseStreams(); err != nil {
		return err
	}
	s.mu.Lock()
	conn, br := s.pconn, s.pbr
	s.mu.Unlock()
	if conn == nil {
		return ErrClosed
	}
	p := NewPragma()
	p.NoCache, p.Rate, p.XPlayNextEntry, p.ClientID = true, 1, true, s.clientID
	p.StreamSwitch = switchEntries(s.hdr, s.selected)
	req, err := s.pipeRequest(s.ctx, p)
	if err != nil {
		return err
	}
	_ = conn.SetDeadline(time.Now().Add(s.opts.StepTimeout))
	if err := req.Write(conn); err != nil {
		return s.netError(err)
	}
	// The server ends the current response before answering (3.2.5.9):
	// nothing but its end may come now.
	switch err := s.rd.Next(&s.pkt); {
	case err == nil:
		return fmt.Errorf("%w: $%c after the entry's header, before PlayNextEntry's response", ErrProtocol, s.pkt.Type)
	case !errors.Is(err, io.EOF):
		return s.readError(err, "PlayNextEntry")
	}
	// The responses of the Log requests sent at $E come first (3.2.5.9).
	if err := s.readPipeLogs(conn, br); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return s.readError(err, "PlayNextEntry")
	}
	if err := statusError(resp, "PlayNextEntry"); err != nil {
		drain(resp)
		return err
	}
	s.serverInfo(resp)
	body := &pipeBody{Reader: resp.Body, conn: conn}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.body = body
	s.mu.Unlock()
	s.streaming = true
	s.rd = NewReader(body)
	s.ev.Emit(event.Playing, "playing the next playlist entry (PlayNextEntry, pipelined)",
		map[string]any{"transport": "http", "pipelined": true})
	return nil
}
