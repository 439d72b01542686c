package mmsh

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/mmsgate/mmsgate/event"
)

// maxSwitchRest bounds what the client keeps of a pipelined play's
// response between its SelectStream request and the end of that
// response: the packets the server sent before it saw the request.
const maxSwitchRest = 16 << 20

// SwitchStreams asks the server to stream another selection of the
// current header's streams (3.1.4.4): a SelectStream request (2.2.2.8)
// whose stream-switch-entry tokens name the streams turned on (n:0) and
// off (n:2). Streams that the header lacks give an error and the session
// goes on unchanged. In the pipelined mode the request goes on the play's
// connection: the packets of the play's response that precede its end
// are kept for Next, and the SelectStream response carries the rest
// (3.2.5.7). Otherwise it goes on a new connection, closed after the
// response (3.1.5.17), and the play's response goes on. The server starts
// new streams at a key frame, so the old and new streams may overlap for
// a while.
func (s *Session) SwitchStreams(ctx context.Context, streams []uint16) error {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case s.err != nil:
		return s.err
	case s.eof || s.hdr == nil:
		return errors.New("mmsh: SwitchStreams needs a playing session")
	}
	sel, err := s.hdr.CheckStreams(streams)
	if err != nil {
		return fmt.Errorf("mmsh: %w", err)
	}
	if s.needPNE {
		// A new entry's header was returned and PlayNextEntry is due: it
		// carries the selection (3.1.4.5).
		s.nextSel = sel
		s.ev.Emit(event.Streams, fmt.Sprintf("streams %v chosen for the next entry", sel), map[string]any{"streams": sel})
		return nil
	}
	var entries []SwitchEntry // only the streams that change (3.1.4.4)
	for _, st := range s.hdr.Streams {
		was, now := slices.Contains(s.selected, st.StreamNumber), slices.Contains(sel, st.StreamNumber)
		switch {
		case now && !was:
			entries = append(entries, SwitchEntry{From: 0xffff, To: st.StreamNumber, Thinning: ThinNone})
		case was && !now:
			entries = append(entries, SwitchEntry{From: 0xffff, To: st.StreamNumber, Thinning: ThinOff})
		}
	}
	if len(entries) > 0 {
		if s.pipelined && s.pipeConn() != nil {
			err = s.selectStreamPiped(ctx, entries)
			if err != nil {
				s.err = err // the play's connection is out of step
				s.ev.Emit(event.Error, err.Error(), map[string]any{"error": err.Error()})
			}
		} else {
			err = s.selectStreamPost(ctx, entries)
		}
		if err != nil {
			return err
		}
	}
	s.selected = sel
	br := s.hdr.StreamsBitrate(sel)
	s.mu.Lock()
	s.stats.Streams, s.stats.StreamsBitrate = sel, br
	s.mu.Unlock()
	s.ev.Emit(event.Streams, fmt.Sprintf("switched to streams %v (%d bit/s)", sel, br), map[string]any{"streams": sel, "bitrate": br})
	return nil
}

func (s *Session) selectPragma(entries []SwitchEntry) Pragma {
	p := NewPragma()
	p.NoCache, p.ClientID, p.XClientGUID = true, s.clientID, s.guid
	p.StreamSwitch = entries
	return p
}

// selectStreamPost sends SelectStream as a POST on a new connection
// (non-pipelined mode, 2.2.2.8), which is closed after the response
// (3.1.5.17).
func (s *Session) selectStreamPost(ctx context.Context, entries []SwitchEntry) error {
	ctx, cancel := context.WithTimeout(ctx, s.opts.StepTimeout)
	defer cancel()
	s.client.CloseIdleConnections() // a new connection, as 3.1.4.4 says
	resp, err := s.request(ctx, http.MethodPost, s.selectPragma(entries))
	if err != nil {
		return err
	}
	drain(resp)
	s.client.CloseIdleConnections()
	return statusError(resp, "SelectStream")
}

// selectStreamPiped sends SelectStream as a GET on the play's connection
// (pipelined mode, 3.1.4.4). The server ends the play's response with a
// zero-length chunk, sends the pending responses (the Logs of entries
// that ended, 3.2.5.7) and then the SelectStream response, whose body
// goes on with $D packets. What came before the end of the old response
// is kept, so that Next returns every packet in order.
func (s *Session) selectStreamPiped(ctx context.Context, entries []SwitchEntry) error {
	s.mu.Lock()
	conn := s.pconn
	s.mu.Unlock()
	if conn == nil {
		return ErrClosed
	}
	// The whole exchange, to the SelectStream response's header, is
	// bounded by StepTimeout: then the connection closes.
	timer := time.AfterFunc(s.opts.StepTimeout, func() { conn.Close() })
	err := s.selectStreamOnPipe(ctx, entries)
	if !timer.Stop() {
		err = fmt.Errorf("%w: SelectStream beyond %v (%v)", ErrTimeout, s.opts.StepTimeout, err)
	}
	return err
}

func (s *Session) selectStreamOnPipe(ctx context.Context, entries []SwitchEntry) error {
	s.mu.Lock()
	conn, br, body := s.pconn, s.pbr, s.body
	s.mu.Unlock()
	if conn == nil || body == nil {
		return ErrClosed
	}
	req, err := s.pipeRequest(ctx, s.selectPragma(entries))
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := req.Write(conn); err != nil {
		return s.netError(err)
	}
	rest, err := io.ReadAll(io.LimitReader(body, maxSwitchRest+1))
	if err != nil {
		return s.readError(err, "SelectStream")
	}
	if len(rest) > maxSwitchRest {
		return fmt.Errorf("%w: more than %d bytes before the SelectStream response", ErrProtocol, maxSwitchRest)
	}
	if err := s.readPipeLogs(conn, br); err != nil {
		return err
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		return s.readError(err, "SelectStream")
	}
	if err := statusError(resp, "SelectStream"); err != nil {
		drain(resp)
		return err
	}
	s.serverInfo(resp)
	nb := &pipeBody{Reader: io.MultiReader(bytes.NewReader(rest), resp.Body), conn: conn}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.body = nb
	s.mu.Unlock()
	s.rd = NewReader(nb)
	return nil
}
