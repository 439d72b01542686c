package mmsh

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/asf"
)

// Server side of SelectStream (2.2.2.8, 3.2.5.7) and of a Stop request
// that comes on another connection than the play's (2.2.2.10, 3.2.5.10).
// Every Play response registers under its client-id; SelectStream and
// Stop requests find it there.

// stopWait bounds how long a Stop request waits for the play it stops to
// end its response, so that the zero-length chunk precedes the Stop
// response (3.2.5.10).
const stopWait = 5 * time.Second

// errStopRequest is the cause of a play's context when a Stop request on
// another connection ends it.
var errStopRequest = errors.New("mmsh: stopped by a Stop request")

// playCtl is a Play response as other requests of its session see it.
type playCtl struct {
	mu   sync.Mutex
	sel  []SwitchEntry // selection changes not yet applied by the player
	stop context.CancelCauseFunc
	done chan struct{} // closed when the response has ended
}

// pushSelection queues entries for the player, which applies them before
// its next packet.
func (c *playCtl) pushSelection(e []SwitchEntry) {
	c.mu.Lock()
	c.sel = append(c.sel, e...)
	if len(c.sel) > maxSwitchEntries { // keep the latest entries only
		c.sel = c.sel[len(c.sel)-maxSwitchEntries:]
	}
	c.mu.Unlock()
}

func (c *playCtl) takeSelection() []SwitchEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sel
	c.sel = nil
	return s
}

// register records a Play response of client id; the returned function
// removes it.
func (h *Handler) register(id int64, c *playCtl) func() {
	h.mu.Lock()
	if h.plays == nil {
		h.plays = map[int64]*playCtl{}
	}
	h.plays[id] = c // a newer play of the session (after a Seek) replaces the old
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		if h.plays[id] == c {
			delete(h.plays, id)
		}
		h.mu.Unlock()
		close(c.done)
	}
}

func (h *Handler) playOf(id int64) *playCtl {
	if id < 0 {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.plays[id]
}

// isSelectStream reports a SelectStream request (2.2.2.8): a Pragma with
// stream-switch-entry (or its count) and none of the tokens of the other
// requests.
func isSelectStream(r *http.Request, p Pragma) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return false
	}
	if p.StreamSwitch == nil && p.StreamSwitchCount < 0 {
		return false
	}
	return !p.PipelineRequest && !p.XKeepAliveInPause && !p.XPlayNextEntry && p.XPlayStrm < 0 && !p.XStopStrm && p.LogLine == ""
}

// checkSwitchEntries refuses a SelectStream whose entries are no
// selection: none that parses, or stream numbers outside 1..127.
func checkSwitchEntries(p Pragma) error {
	if len(p.StreamSwitch) == 0 {
		return errors.New("no valid stream-switch-entry")
	}
	for _, e := range p.StreamSwitch {
		if e.To == 0 || e.To > 127 || (e.From != 0xffff && (e.From == 0 || e.From > 127)) {
			return fmt.Errorf("stream-switch-entry %x:%x:%d names no ASF stream", e.From, e.To, e.Thinning)
		}
	}
	return nil
}

// selectStream answers a SelectStream request that is not pipelined
// behind its play (3.2.5.7): the selection goes to the session's play,
// found by client-id, which applies it before its next packet. A request
// without a known playing session gets 404; in the pipelined mode a play
// that has just ended is no error (the request crossed its end).
func (h *Handler) selectStream(w http.ResponseWriter, r *http.Request, p, resp Pragma) {
	if err := checkSwitchEntries(p); err != nil {
		http.Error(w, "SelectStream: "+err.Error(), http.StatusBadRequest)
		return
	}
	c := h.playOf(p.ClientID)
	if c == nil && pipeOf(r.Context()) == nil {
		http.Error(w, "SelectStream: no playing session with this client-id", http.StatusNotFound)
		return
	}
	if c != nil {
		c.pushSelection(p.StreamSwitch)
	}
	h.emptyReply(w, resp)
}

// stopRequest answers a Stop request that came on a connection other
// than its play's (3.2.5.10): the play ends its response ($E, then the
// zero-length chunk) before the Stop response is sent. A pipelined Stop
// behind its own play has already ended it (pipeConn.poll); it and a Stop
// of an IDLE session get the empty response. A non-pipelined Stop of an
// unknown session gets 404.
func (h *Handler) stopRequest(w http.ResponseWriter, r *http.Request, p, resp Pragma) {
	c := h.playOf(p.ClientID)
	if c == nil {
		if pipeOf(r.Context()) == nil {
			http.Error(w, "Stop: no playing session with this client-id", http.StatusNotFound)
			return
		}
		h.emptyReply(w, resp)
		return
	}
	c.stop(errStopRequest)
	t := time.NewTimer(stopWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
	case <-r.Context().Done():
		return
	}
	h.emptyReply(w, resp)
}

// switcher applies SelectStream entries to a Writer's stream filter
// (3.2.5.7): a stream switched on starts at its first key-frame payload;
// streams switched off while others wait for their key frame go on until
// every one of those has started ("replaced" streams), others stop at
// once.
type switcher struct {
	waiting map[uint8]bool // switched on, waiting for a key frame
	leaving map[uint8]bool // switched off, sent until the waiting streams start
}

// applySwitch takes the entries of a SelectStream request.
func (w *Writer) applySwitch(entries []SwitchEntry) {
	for _, e := range entries {
		if e.To == 0 || e.To > 127 {
			continue
		}
		to := uint8(e.To)
		if e.From != 0xffff && e.From > 0 && e.From < 128 && e.From != e.To {
			w.switchOff(uint8(e.From))
		}
		if e.Thinning == ThinOff {
			w.switchOff(to)
			continue
		}
		if w.off[to] {
			if w.sw.waiting == nil {
				w.sw.waiting = map[uint8]bool{}
			}
			w.sw.waiting[to] = true
			delete(w.sw.leaving, to)
		}
	}
	w.settle()
}

func (w *Writer) switchOff(n uint8) {
	if w.off[n] {
		delete(w.sw.waiting, n)
		return
	}
	if w.sw.leaving == nil {
		w.sw.leaving = map[uint8]bool{}
	}
	w.sw.leaving[n] = true
}

// settle turns the leaving streams off once no stream waits any more.
func (w *Writer) settle() {
	if len(w.sw.waiting) > 0 {
		return
	}
	for n := range w.sw.leaving {
		if w.off == nil {
			w.off = map[uint8]bool{}
		}
		w.off[n] = true
	}
	w.sw.leaving = nil
}

// keep decides, payload by payload, whether a payload is sent, starting
// waiting streams at their key frames.
func (w *Writer) keep(pl *asf.Payload) bool {
	n := pl.StreamNumber
	if w.sw.waiting[n] {
		if !pl.KeyFrame || (!pl.Compressed && pl.OffsetIntoMediaObject != 0) {
			return false
		}
		delete(w.sw.waiting, n)
		delete(w.off, n)
		w.settle()
		return true
	}
	return !w.off[n]
}

// switching reports whether payloads must be looked at.
func (w *Writer) switching() bool {
	return len(w.off) > 0 || len(w.sw.waiting) > 0 || len(w.sw.leaving) > 0
}

// stopped ends a play whose context ended: after a Stop request on
// another connection, with $E and then the zero-length chunk (3.2.5.10);
// otherwise err is the play's error.
func (p *player) stopped(ctx context.Context, err error) error {
	if context.Cause(ctx) != errStopRequest {
		return err
	}
	return p.End(EndOK)
}

// selectStreamPiped answers a SelectStream request pipelined behind the
// play (3.2.5.7): the selection applies from the next packet on, the
// play's response ends with its zero-length chunk, the pending responses
// follow, and the SelectStream response (chunked) carries the $D packets
// from there on.
func (p *player) selectStreamPiped(req *http.Request) error {
	prag, _ := ParsePragma(req.Header.Values("Pragma"))
	p.applySwitch(prag.StreamSwitch)
	if err := p.Flush(); err != nil {
		return err
	}
	rw, ok := p.w.(*pipeResponse)
	if !ok {
		return fmt.Errorf("mmsh: SelectStream outside a pipelined connection")
	}
	resp := p.resp
	resp.Features = p.feat
	hdr := p.h.baseHeader()
	setPragma(hdr, resp)
	hdr.Set("Content-Type", "application/x-mms-framed")
	return rw.restart(hdr)
}

// selectStreamWaiting answers a SelectStream request that arrives while
// a pipelined play waits for PlayNextEntry at an entry change (3.2.4.2):
// the play's response ends (zero-length chunk), the pending responses
// follow and then the empty SelectStream response; the new entry's
// streams are chosen by the PlayNextEntry request that follows.
func (p *player) selectStreamWaiting(*http.Request) error {
	rw, ok := p.w.(*pipeResponse)
	if !ok {
		return fmt.Errorf("mmsh: SelectStream outside a pipelined connection")
	}
	if err := rw.finish(); err != nil {
		return err
	}
	if err := p.pc.answerPending(); err != nil {
		return err
	}
	resp := p.resp
	resp.Features = p.feat
	sr := &pipeResponse{pc: p.pc, hdr: p.h.baseHeader()}
	sr.hdr.Set("Content-Length", "0")
	setPragma(sr.hdr, resp)
	sr.WriteHeader(http.StatusOK)
	return sr.finish()
}
