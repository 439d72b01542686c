package mmsh

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// Server side of the pipelined mode (2.2.2.5, 3.2.5.5, 3.2.6.1, 4.2).
// net/http answers one request at a time and never lets a handler see the
// next request while its response is open, which is what the pipeline
// probe and PlayNextEntry need: the first Pipeline request hijacks its
// connection, and the Handler serves that connection itself from then on.

// PipelineTestTimeout is the Pipeline-Test timer (3.2.5.5 recommends 1 s).
const PipelineTestTimeout = time.Second

const maxPendingRequests = 16 // requests queued behind a streaming response

type pipeKey struct{}

// pipeConn is one hijacked connection in pipelined mode.
type pipeConn struct {
	h       *Handler
	conn    net.Conn
	br      *bufio.Reader
	bw      *bufio.Writer
	ctx     context.Context
	reqs    chan *http.Request // read ahead by readLoop
	pending []*http.Request    // arrived while a response was streaming
}

// pipeOf returns the pipelined connection a request came on, nil for
// requests served by net/http.
func pipeOf(ctx context.Context) *pipeConn {
	pc, _ := ctx.Value(pipeKey{}).(*pipeConn)
	return pc
}

// pipeline answers the first Pipeline request of a connection: a chunked
// response with $T, left open until the second Pipeline request arrives
// within PipelineTestTimeout (pipeline-result=1: the connection, and so
// any proxy on the way, passes pipelined requests) or the timer ends it
// (pipeline-result=0 in an HTTP/1.0 response, and the connection closes).
// Without a hijackable HTTP/1.1 connection it answers pipeline-result=0.
func (h *Handler) pipeline(w http.ResponseWriter, r *http.Request, resp Pragma) {
	if pipeOf(r.Context()) != nil || !r.ProtoAtLeast(1, 1) {
		resp.PipelineResult = 0
		h.emptyReply(w, resp)
		return
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		resp.PipelineResult = 0
		h.emptyReply(w, resp)
		return
	}
	defer conn.Close()
	pc := &pipeConn{h: h, conn: conn, br: brw.Reader, bw: brw.Writer}
	hdr := h.baseHeader()
	hdr.Set("Transfer-Encoding", "chunked")
	hdr.Set("Connection", "keep-alive")
	setPragma(hdr, resp)
	pc.writeHead("HTTP/1.1 200 OK", hdr)
	t, _ := AppendPacket(nil, &Packet{Type: TypeTest})
	fmt.Fprintf(pc.bw, "%x\r\n%s\r\n", len(t), t)
	if pc.flush() != nil {
		return
	}
	// Pipeline-Test timer: is the second request here within it?
	_ = conn.SetReadDeadline(time.Now().Add(PipelineTestTimeout))
	_, err = pc.br.Peek(1)
	inTime := err == nil
	if !inTime {
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			return
		}
		pc.bw.WriteString("0\r\n\r\n") // 3.2.6.1: the timer ends the first response
		if pc.flush() != nil {
			return
		}
	}
	_ = conn.SetReadDeadline(time.Now().Add(h.keepAlive()))
	r2, err := http.ReadRequest(pc.br)
	if err != nil {
		return
	}
	p2, _ := ParsePragma(r2.Header.Values("Pragma"))
	if !p2.PipelineRequest {
		return // not the probe's second request: give up the connection
	}
	resp.PipelineResult = 0
	status := "HTTP/1.0 204 No Content"
	if inTime {
		pc.bw.WriteString("0\r\n\r\n") // 3.2.5.5: the second request ends the first response
		resp.PipelineResult, status = 1, "HTTP/1.1 204 No Content"
	}
	hdr = h.baseHeader()
	hdr.Set("Content-Length", "0")
	setPragma(hdr, resp)
	pc.writeHead(status, hdr)
	if pc.flush() != nil || !inTime {
		return
	}
	h.log().Debug("mmsh pipelined mode", "remote", r.RemoteAddr, "client_id", resp.ClientID)
	pc.serve(r.Context())
}

func (h *Handler) keepAlive() time.Duration {
	if h.KeepAlive > 0 {
		return h.KeepAlive
	}
	return DefaultKeepAlive
}

func (h *Handler) baseHeader() http.Header {
	hdr := http.Header{}
	hdr.Set("Server", serverName)
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("Supported", supportedFeatures)
	return hdr
}

func setPragma(hdr http.Header, p Pragma) {
	for _, v := range p.Values() {
		hdr.Add("Pragma", v)
	}
}

func (pc *pipeConn) writeHead(status string, hdr http.Header) {
	hdr.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	pc.bw.WriteString(status + "\r\n")
	_ = hdr.Write(pc.bw)
	pc.bw.WriteString("\r\n")
}

func (pc *pipeConn) flush() error {
	to := pc.h.WriteTimeout
	if to <= 0 {
		to = DefaultWriteTimeout
	}
	_ = pc.conn.SetWriteDeadline(time.Now().Add(to))
	return pc.bw.Flush()
}

// serve answers the requests of the connection in order (4.2) until it
// closes. Requests are read ahead, so that a streaming response sees a
// PlayNextEntry request (3.2.5.9); the others wait in pending for the
// response before them to end.
func (pc *pipeConn) serve(parent context.Context) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	defer cancel()
	pc.ctx = context.WithValue(ctx, pipeKey{}, pc)
	pc.reqs = make(chan *http.Request, maxPendingRequests)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel() // the client is gone: stop any response
		pc.readLoop(ctx)
	}()
	defer func() { pc.conn.Close(); <-done }()
	for {
		var req *http.Request
		if len(pc.pending) > 0 {
			req, pc.pending = pc.pending[0], pc.pending[1:]
		} else {
			select {
			case req = <-pc.reqs:
			case <-ctx.Done():
				return
			}
			if req == nil {
				return
			}
		}
		if !pc.answer(req) {
			return
		}
	}
}

// readLoop reads requests (bodies up to maxRequestBody) into reqs.
func (pc *pipeConn) readLoop(ctx context.Context) {
	defer close(pc.reqs)
	idle := 2 * pc.h.keepAlive()
	for {
		_ = pc.conn.SetReadDeadline(time.Now().Add(idle))
		req, err := http.ReadRequest(pc.br)
		if err != nil {
			return
		}
		body, err := io.ReadAll(io.LimitReader(req.Body, maxRequestBody+1))
		if err != nil || len(body) > maxRequestBody {
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.RemoteAddr = pc.conn.RemoteAddr().String()
		select {
		case pc.reqs <- req.WithContext(pc.ctx):
		case <-ctx.Done():
			return
		}
	}
}

// answer serves one request through the Handler; false when the
// connection is to close.
func (pc *pipeConn) answer(req *http.Request) bool {
	rw := &pipeResponse{pc: pc, hdr: http.Header{}, head: req.Method == http.MethodHead}
	pc.h.ServeHTTP(rw, req)
	return rw.finish() == nil && !req.Close && rw.hdr.Get("Connection") != "close"
}

// nextEntry waits, at a playlist entry change of a pipelined Play
// response, for the client's PlayNextEntry (3.2.4.2: WAITING), keeping
// other requests for later. It returns the request.
//
// A SelectStream request that crossed the new entry's header (the client
// had not read it yet) is answered at once by onSelect, so that the
// client, which waits for the end of the response, is not left waiting.
func (pc *pipeConn) nextEntry(ctx context.Context, onSelect func(*http.Request) error) (*http.Request, error) {
	timer := time.NewTimer(pc.h.keepAlive())
	defer timer.Stop()
	for {
		select {
		case req := <-pc.reqs:
			if req == nil {
				return nil, io.ErrUnexpectedEOF
			}
			p, _ := ParsePragma(req.Header.Values("Pragma"))
			if p.XPlayNextEntry {
				return req, nil
			}
			if isSelectStream(req, p) && checkSwitchEntries(p) == nil {
				if err := onSelect(req); err != nil {
					return nil, err
				}
				continue
			}
			if err := pc.queue(req); err != nil {
				return nil, err
			}
			if isStop(req) {
				return nil, errStopped
			}
		case <-timer.C:
			return nil, fmt.Errorf("mmsh: no PlayNextEntry within %v", pc.h.keepAlive())
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// poll moves requests that arrived during a streaming response to
// pending, so that the reader never blocks on a full queue. A Stop
// request ends the response (errStopped); a SelectStream request is
// returned for the player to answer (3.2.5.7).
func (pc *pipeConn) poll() (*http.Request, error) {
	for {
		select {
		case req := <-pc.reqs:
			if req == nil {
				return nil, nil
			}
			if p, err := ParsePragma(req.Header.Values("Pragma")); err == nil && isSelectStream(req, p) && checkSwitchEntries(p) == nil {
				return req, nil
			}
			if err := pc.queue(req); err != nil {
				return nil, err
			}
			if isStop(req) {
				return nil, errStopped
			}
		default:
			return nil, nil
		}
	}
}

// errStopped ends a pipelined Play response at a Stop request: the
// response ends with its zero-length chunk, without $E, and the Stop
// response follows (3.2.5.10).
var errStopped = errors.New("mmsh: stopped by the client")

// isStop reports a Stop request (2.2.2.10).
func isStop(req *http.Request) bool {
	if req.Method != http.MethodPost {
		return false
	}
	p, _ := ParsePragma(req.Header.Values("Pragma"))
	return p.XStopStrm
}

func (pc *pipeConn) queue(req *http.Request) error {
	if len(pc.pending) >= maxPendingRequests {
		return fmt.Errorf("mmsh: more than %d requests pipelined behind a response", maxPendingRequests)
	}
	pc.pending = append(pc.pending, req)
	return nil
}

// answerPending answers the queued requests (Pending-Responses, 3.2.5.9)
// before a PlayNextEntry or SelectStream response. They are KeepAlive,
// Log and SelectStream requests (the last applies from the next packet):
// a queued Play or Describe would stream here, so it gets an error.
func (pc *pipeConn) answerPending() error {
	for len(pc.pending) > 0 {
		req := pc.pending[0]
		pc.pending = pc.pending[1:]
		rw := &pipeResponse{pc: pc, hdr: http.Header{}}
		if p, _ := ParsePragma(req.Header.Values("Pragma")); req.Method == http.MethodGet && !isSelectStream(req, p) {
			http.Error(rw, "request pipelined behind a playlist entry change", http.StatusConflict)
		} else {
			pc.h.ServeHTTP(rw, req)
		}
		if err := rw.finish(); err != nil {
			return err
		}
	}
	return nil
}

// pipeResponse is an http.ResponseWriter on a pipelined connection:
// HTTP/1.1, chunked unless Content-Length is set.
type pipeResponse struct {
	pc      *pipeConn
	hdr     http.Header
	head    bool
	wrote   bool
	chunked bool
	nobody  bool
}

func (w *pipeResponse) Header() http.Header { return w.hdr }

func (w *pipeResponse) WriteHeader(code int) {
	if w.wrote {
		return
	}
	w.wrote = true
	w.nobody = w.head || code == http.StatusNoContent || code == http.StatusNotModified
	if w.hdr.Get("Content-Length") == "" && !w.nobody {
		w.chunked = true
		w.hdr.Set("Transfer-Encoding", "chunked")
	}
	w.pc.writeHead("HTTP/1.1 "+strconv.Itoa(code)+" "+http.StatusText(code), w.hdr)
}

func (w *pipeResponse) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.nobody || len(b) == 0 {
		return len(b), nil
	}
	if w.chunked {
		fmt.Fprintf(w.pc.bw, "%x\r\n", len(b))
		w.pc.bw.Write(b)
		_, err := w.pc.bw.WriteString("\r\n")
		return len(b), err
	}
	return w.pc.bw.Write(b)
}

// FlushError and SetWriteDeadline serve http.ResponseController.
func (w *pipeResponse) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.pc.bw.Flush()
}

func (w *pipeResponse) Flush() { _ = w.FlushError() }

func (w *pipeResponse) SetWriteDeadline(t time.Time) error { return w.pc.conn.SetWriteDeadline(t) }

// finish ends the response: the zero-length chunk of a chunked body.
func (w *pipeResponse) finish() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked {
		w.pc.bw.WriteString("0\r\n\r\n")
		w.chunked = false
	}
	return w.pc.flush()
}

// restart ends the current (chunked) response and, after the pending
// responses, starts the PlayNextEntry response in its place (3.2.5.9).
func (w *pipeResponse) restart(hdr http.Header) error {
	if err := w.finish(); err != nil {
		return err
	}
	if err := w.pc.answerPending(); err != nil {
		return err
	}
	w.hdr, w.wrote, w.chunked, w.nobody, w.head = hdr, false, false, false, false
	w.WriteHeader(http.StatusOK)
	return w.pc.flush()
}
