package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/store"
)

type sessionJSON struct {
	ID        int64          `json:"id"`
	Channel   string         `json:"channel"`
	StartedAt time.Time      `json:"started_at"`
	EndedAt   *time.Time     `json:"ended_at,omitempty"`
	Transport string         `json:"transport,omitempty"`
	Outcome   string         `json:"outcome"`
	Reason    string         `json:"reason,omitempty"`
	Stats     map[string]any `json:"stats,omitempty"`
}

func sessionView(s store.Session) sessionJSON {
	v := sessionJSON{ID: s.ID, Channel: s.Channel, StartedAt: s.StartedAt, Transport: s.Transport,
		Outcome: s.Outcome, Reason: s.Reason, Stats: s.Stats}
	if !s.EndedAt.IsZero() {
		t := s.EndedAt
		v.EndedAt = &t
	}
	return v
}

type logEntryJSON struct {
	Seq     int64          `json:"seq"`
	Time    time.Time      `json:"time"`
	Kind    string         `json:"kind"`
	Message string         `json:"message"`
	Fields  map[string]any `json:"fields,omitempty"`
}

func logView(e store.LogEntry) logEntryJSON {
	return logEntryJSON{Seq: e.Seq, Time: e.Time, Kind: string(e.Kind), Message: e.Message, Fields: e.Fields}
}

func (a *API) listSessions(w http.ResponseWriter, r *http.Request) {
	limit, offset, err := page(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	ss, total, err := a.g.Sessions(r.Context(), chi.URLParam(r, "name"), limit, offset)
	if err != nil {
		a.fail(w, err)
		return
	}
	items := make([]sessionJSON, 0, len(ss))
	for _, s := range ss {
		items = append(items, sessionView(s))
	}
	writeJSON(w, http.StatusOK, list{Items: items, Total: total})
}

func sessionID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf("%w: session ids are positive integers", gateway.ErrNotFound)
	}
	return id, nil
}

func (a *API) getSession(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	s, err := a.g.Session(r.Context(), id)
	if err != nil {
		a.fail(w, err)
		return
	}
	writeJSON(w, http.StatusOK, sessionView(s))
}

func wantsSSE(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}

// sessionLog answers the stored log as a list (?after=seq&limit=) or, with
// Accept: text/event-stream, streams it: stored entries first, then live
// ones until the session ends.
func (a *API) sessionLog(w http.ResponseWriter, r *http.Request) {
	id, err := sessionID(r)
	if err != nil {
		a.fail(w, err)
		return
	}
	var after int64
	if s := r.URL.Query().Get("after"); s != "" {
		after, err = strconv.ParseInt(s, 10, 64)
		if err != nil || after < 0 {
			a.fail(w, fmt.Errorf("%w: after must be a non-negative integer", gateway.ErrInvalid))
			return
		}
	}
	if !wantsSSE(r) {
		limit, _, err := page(r)
		if err != nil {
			a.fail(w, err)
			return
		}
		if r.URL.Query().Get("limit") == "" {
			limit = 1000
		}
		entries, err := a.g.SessionLog(r.Context(), id, after, limit)
		if err != nil {
			a.fail(w, err)
			return
		}
		items := make([]logEntryJSON, 0, len(entries))
		for _, e := range entries {
			items = append(items, logView(e))
		}
		writeJSON(w, http.StatusOK, list{Items: items, Total: len(items)})
		return
	}
	if _, err := a.g.Session(r.Context(), id); err != nil {
		a.fail(w, err)
		return
	}
	// Follow before reading the stored log so that nothing falls between.
	live, cancel, running := a.g.Follow(id)
	defer cancel()
	sse, ok := newSSE(w)
	if !ok {
		a.fail(w, fmt.Errorf("streaming unsupported"))
		return
	}
	for {
		entries, err := a.g.SessionLog(r.Context(), id, after, 500)
		if err != nil {
			return
		}
		for _, e := range entries {
			sse.send(strconv.FormatInt(e.Seq, 10), "", logView(e))
			after = e.Seq
		}
		if len(entries) < 500 {
			break
		}
	}
	if !running {
		sse.send("", "end", map[string]string{"reason": "session ended"})
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			sse.comment()
		case e, ok := <-live:
			if !ok {
				// Ended, or we fell behind: send what is stored beyond after.
				if entries, err := a.g.SessionLog(r.Context(), id, after, 5000); err == nil {
					for _, e := range entries {
						sse.send(strconv.FormatInt(e.Seq, 10), "", logView(e))
					}
				}
				sse.send("", "end", map[string]string{"reason": "session ended"})
				return
			}
			if e.Seq <= after {
				continue
			}
			after = e.Seq
			sse.send(strconv.FormatInt(e.Seq, 10), "", logView(e))
		}
	}
}

// events streams channel changes as server-sent events: first the state of
// every channel, then each change.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	if !a.publicRead(w, r) {
		return
	}
	full := a.authorized(r)
	ch, cancel := a.g.Subscribe()
	defer cancel()
	sse, ok := newSSE(w)
	if !ok {
		a.fail(w, fmt.Errorf("streaming unsupported"))
		return
	}
	st := newStatusTracker(full)
	for _, s := range a.g.Statuses() {
		e := gateway.StateEvent{Channel: s.Name, State: s.State, Reason: s.Reason, Change: "state", Time: s.Since.UTC()}
		if !full {
			e.Reason = ""
		}
		sse.send("", "state", e)
	}
	st.poll(a.g.Statuses(), time.Now(), sse)
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	poll := time.NewTicker(statusPoll)
	defer poll.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-heartbeat.C:
			sse.comment()
		case now := <-poll.C:
			st.poll(a.g.Statuses(), now, sse)
		case e, ok := <-ch:
			if !ok {
				return
			}
			if !full {
				e.Reason = ""
			}
			if e.Change == "deleted" {
				st.forget(e.Channel)
			}
			sse.send("", e.Change, e)
		}
	}
}

// Status events: the figures that change without a state change (viewers,
// bit rate, transport in use, bandwidth estimate, title, now playing,
// latency) reach UIs as "event: status" carrying the whole status object,
// at most once per statusInterval per channel and only when something
// changed. Each stream polls the statuses itself, so a slow client only
// delays its own events.
const (
	statusInterval = time.Second
	statusPoll     = statusInterval / 4
)

// statusEvent is the data of an "event: status": the status object plus
// "channel" (what the other events name the channel by) and the server's
// time of sending.
type statusEvent struct {
	Channel string    `json:"channel"`
	Time    time.Time `json:"time"`
	statusJSON
}

type statusTracker struct {
	full bool
	last map[string]sentStatus
}

type sentStatus struct {
	v  statusJSON
	at time.Time
}

func newStatusTracker(full bool) *statusTracker {
	return &statusTracker{full: full, last: map[string]sentStatus{}}
}

// poll sends the status of each channel whose status changed since it was
// last sent, if that was at least statusInterval ago.
func (t *statusTracker) poll(sts []gateway.Status, now time.Time, sse *sseWriter) {
	for _, s := range sts {
		v := statusView(s, t.full)
		prev, ok := t.last[s.Name]
		if ok && (prev.v == v || now.Sub(prev.at) < statusInterval) {
			continue
		}
		t.last[s.Name] = sentStatus{v: v, at: now}
		sse.send("", "status", statusEvent{Channel: s.Name, Time: now.UTC(), statusJSON: v})
	}
}

func (t *statusTracker) forget(name string) { delete(t.last, name) }

type sseWriter struct {
	w http.ResponseWriter
	f http.Flusher
}

func newSSE(w http.ResponseWriter) (*sseWriter, bool) {
	f, ok := w.(http.Flusher)
	if !ok {
		return nil, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return &sseWriter{w: w, f: f}, true
}

func (s *sseWriter) send(id, name string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		return
	}
	if id != "" {
		fmt.Fprintf(s.w, "id: %s\n", id)
	}
	if name != "" {
		fmt.Fprintf(s.w, "event: %s\n", name)
	}
	fmt.Fprintf(s.w, "data: %s\n\n", b)
	s.f.Flush()
}

func (s *sseWriter) comment() {
	fmt.Fprint(s.w, ": keep-alive\n\n")
	s.f.Flush()
}
