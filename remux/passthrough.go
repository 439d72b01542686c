package remux

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/mmsh"
)

// viewerWriteTimeout bounds one write to a passthrough viewer: a client that
// stops reading is dropped, never waited for.
const viewerWriteTimeout = 15 * time.Second

// passthrough fans the channel's ASF header and packets out to progressive
// HTTP viewers. Packets are shared (one copy for all viewers); each viewer has
// a bounded queue, and a viewer whose queue is full is dropped so that it
// never slows the others or the upstream.
type passthrough struct {
	maxViewers int
	queueLen   int

	mu          sync.Mutex
	header      []byte        // current header for new viewers; nil before the first
	headerReady chan struct{} // closed when the first header arrived
	viewers     map[*viewer]struct{}
	closed      bool
	dropped     int64
}

type viewer struct {
	q       chan qitem
	started bool          // a key frame was queued: from here on every packet goes in
	wmsp    bool          // an MS-WMSP (MMSH) client: a new header goes in its stream
	end     chan struct{} // closed when the response must end
	why     string        // why it ended (under passthrough.mu)
}

// qitem is a packet, or (for MS-WMSP viewers) a new header.
type qitem struct {
	hdr, pkt []byte
}

func newPassthrough(maxViewers, queueLen int) *passthrough {
	return &passthrough{maxViewers: maxViewers, queueLen: queueLen,
		headerReady: make(chan struct{}), viewers: map[*viewer]struct{}{}}
}

// setHeader makes hdr the header of new viewers and ends the responses of
// current plain HTTP ones: a player reconnects to get the new header
// (playlist entry). MS-WMSP viewers get the header in their stream, as an
// MMSH server sends it at a playlist change (MS-WMSP 2.2.3).
func (p *passthrough) setHeader(hdr []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v := range p.viewers {
		if !v.wmsp {
			p.endLocked(v, "new header")
			continue
		}
		v.started = false
		select {
		case v.q <- qitem{hdr: hdr}:
		default:
			p.dropped++
			p.endLocked(v, "too slow")
		}
	}
	if p.header == nil {
		close(p.headerReady)
	}
	p.header = hdr
}

// waiting reports whether a viewer waits for its first key frame.
func (p *passthrough) waiting() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v := range p.viewers {
		if !v.started {
			return true
		}
	}
	return false
}

// write queues pkt for every viewer. start, when not nil, is the packet
// starting a key frame as a new viewer's first packet gets it (without the
// payloads before the key frame).
func (p *passthrough) write(pkt, start []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for v := range p.viewers {
		q := qitem{pkt: pkt}
		if !v.started {
			if start == nil {
				continue
			}
			v.started = true
			q.pkt = start
		}
		select {
		case v.q <- q:
		default:
			p.dropped++
			p.endLocked(v, "too slow")
		}
	}
}

func (p *passthrough) endLocked(v *viewer, why string) {
	delete(p.viewers, v)
	v.why = why
	close(v.end)
}

func (p *passthrough) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.viewers)
}

func (p *passthrough) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for v := range p.viewers {
		p.endLocked(v, "closed")
	}
}

// serve is one progressive viewer: the current header, then the packets from
// the next key frame on, until a new header, a drop, or the client leaves.
func (p *passthrough) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), hlsWaitReady)
	select {
	case <-p.headerReady:
	case <-ctx.Done():
		cancel()
		w.Header().Set("Retry-After", "2")
		http.Error(w, "stream not ready yet", http.StatusServiceUnavailable)
		return
	}
	cancel()

	wmsp := mmsh.IsRequest(r)
	if wmsp && !mmsh.IsPlayRequest(r) {
		// MS-WMSP Describe: the header only, no viewer yet
		p.mu.Lock()
		hdr := p.header
		p.mu.Unlock()
		mmsh.WriteDescribe(w, r, hdr, true)
		return
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		http.Error(w, "stream closed", http.StatusGone)
		return
	}
	if len(p.viewers) >= p.maxViewers {
		p.mu.Unlock()
		w.Header().Set("Retry-After", "10")
		http.Error(w, "too many viewers", http.StatusServiceUnavailable)
		return
	}
	v := &viewer{q: make(chan qitem, p.queueLen), end: make(chan struct{}), wmsp: wmsp}
	hdr := p.header
	if r.Method == http.MethodGet {
		p.viewers[v] = struct{}{}
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if _, ok := p.viewers[v]; ok {
			p.endLocked(v, "client left")
		}
		p.mu.Unlock()
	}()

	if wmsp {
		p.serveWMSP(w, r, v, hdr)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "video/x-ms-asf")
	h.Set("Cache-Control", "no-cache, no-store")
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return
	}
	rc := http.NewResponseController(w)
	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(viewerWriteTimeout))
		_, err := w.Write(b)
		return err == nil
	}
	if !write(hdr) || rc.Flush() != nil {
		return
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case it := <-v.q:
			if !write(it.pkt) {
				return
			}
			// drain what is queued before flushing: fewer syscalls when behind
			for n := len(v.q); n > 0; n-- {
				if !write((<-v.q).pkt) {
					return
				}
			}
			if rc.Flush() != nil {
				return
			}
		case <-v.end:
			p.mu.Lock()
			why := v.why
			p.mu.Unlock()
			if why == "new header" || why == "closed" {
				// the packets of the old entry that are queued still belong
				// to this response
				for n := len(v.q); n > 0; n-- {
					if !write((<-v.q).pkt) {
						return
					}
				}
				_ = rc.Flush()
			}
			return
		}
	}
}

// serveWMSP streams to an MS-WMSP (MMSH) client: the Play response framing
// of package mmsh, with headers in the stream at playlist changes and an
// End packet when the channel closes.
func (p *passthrough) serveWMSP(w http.ResponseWriter, r *http.Request, v *viewer, hdr []byte) {
	wr := mmsh.StartPlay(w, r, true)
	wr.WriteTimeout = viewerWriteTimeout
	if wr.WriteHeader(hdr) != nil {
		return
	}
	send := func(it qitem) error {
		if it.hdr != nil {
			return wr.WriteHeader(it.hdr)
		}
		return wr.WritePacket(it.pkt)
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case it := <-v.q:
			if send(it) != nil {
				return
			}
			for n := len(v.q); n > 0; n-- {
				if send(<-v.q) != nil {
					return
				}
			}
			if wr.Flush() != nil {
				return
			}
		case <-v.end:
			p.mu.Lock()
			why := v.why
			p.mu.Unlock()
			if why == "closed" {
				for n := len(v.q); n > 0; n-- {
					if send(<-v.q) != nil {
						return
					}
				}
				_ = wr.End(mmsh.EndOK)
			}
			return
		}
	}
}
