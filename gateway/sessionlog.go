package gateway

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/store"
)

// sessionLog records one session's timeline. emit never blocks the
// protocol goroutine that calls it: events queue (bounded) for a writer
// goroutine that redacts, numbers, stores them in batches and hands them to
// live followers.
type sessionLog struct {
	g       *Gateway
	id      int64
	channel string
	started time.Time
	queue   chan event.Event
	flushc  chan chan struct{}
	done    chan struct{}

	mu      sync.Mutex
	closed  bool
	seq     int64
	dropped int
	subs    map[chan store.LogEntry]struct{}
	seen    map[event.Kind]float64 // the client's running loss totals, for the counters
}

const sessionQueue = 1024

func (g *Gateway) openSessionLog(ctx context.Context, channel string) (*sessionLog, error) {
	now := time.Now().UTC()
	id, err := g.cfg.Store.CreateSession(ctx, store.Session{Channel: channel, StartedAt: now, Outcome: "running"})
	if err != nil {
		return nil, fmt.Errorf("session log: %w", err)
	}
	if err := g.cfg.Store.Prune(ctx, channel, g.cfg.KeepSessions); err != nil {
		g.log.Warn("session log retention", "channel", channel, "error", err)
	}
	sl := &sessionLog{g: g, id: id, channel: channel, started: now, queue: make(chan event.Event, sessionQueue),
		flushc: make(chan chan struct{}), done: make(chan struct{}), subs: map[chan store.LogEntry]struct{}{}, seen: map[event.Kind]float64{}}
	g.mu.Lock()
	g.sessions[id] = sl
	g.mu.Unlock()
	go sl.write()
	return sl, nil
}

// emit queues e; when the queue is full the event is counted as dropped.
func (sl *sessionLog) emit(e event.Event) {
	sl.mu.Lock()
	defer sl.mu.Unlock()
	sl.g.metrics.observe(sl.channel, e, sl.seen)
	if sl.closed {
		return
	}
	select {
	case sl.queue <- e:
	default:
		sl.dropped++
	}
}

// flush waits until everything queued so far is stored.
func (sl *sessionLog) flush() {
	ack := make(chan struct{})
	select {
	case sl.flushc <- ack:
		<-ack
	case <-sl.done:
	}
}

func (sl *sessionLog) write() {
	defer close(sl.done)
	var batch []store.LogEntry
	stored := 0
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	save := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := sl.g.cfg.Store.AppendLog(ctx, sl.id, batch); err != nil {
			sl.g.log.Warn("session log", "session", sl.id, "error", err)
		}
		batch = batch[:0]
	}
	add := func(e event.Event) {
		e = sl.g.cfg.Redactor.Event(e)
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		e.Time = e.Time.UTC()
		if stored >= sl.g.cfg.MaxLogEntries {
			if stored == sl.g.cfg.MaxLogEntries {
				e = event.Event{Time: e.Time, Kind: "truncated",
					Message: fmt.Sprintf("log limit of %d events reached; later events are not kept", stored)}
			} else {
				return
			}
		}
		stored++
		sl.mu.Lock()
		sl.seq++
		le := store.LogEntry{Seq: sl.seq, Event: e}
		for ch := range sl.subs {
			select {
			case ch <- le:
			default: // a follower that does not keep up is dropped; it can re-read the stored log
				delete(sl.subs, ch)
				close(ch)
			}
		}
		sl.mu.Unlock()
		batch = append(batch, le)
		if len(batch) >= 128 {
			save()
		}
	}
	for {
		select {
		case e, ok := <-sl.queue:
			if !ok {
				save()
				return
			}
			add(e)
		case ack := <-sl.flushc:
			for drained := false; !drained; {
				select {
				case e, ok := <-sl.queue:
					if !ok {
						drained = true
						break
					}
					add(e)
				default:
					drained = true
				}
			}
			save()
			close(ack)
		case <-t.C:
			save()
		}
	}
}

// finish ends the session: the log is flushed, the session row gets its
// outcome and statistics, followers are released.
func (sl *sessionLog) finish(transport, outcome, reason string, stats map[string]any) {
	sl.mu.Lock()
	dropped := sl.dropped
	sl.mu.Unlock()
	if dropped > 0 {
		sl.emit(event.New("dropped", fmt.Sprintf("%d events dropped (queue full)", dropped), nil))
	}
	sl.mu.Lock()
	sl.closed = true
	close(sl.queue)
	sl.mu.Unlock()
	<-sl.done
	r := sl.g.cfg.Redactor
	if stats != nil {
		stats = r.value(stats).(map[string]any)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := sl.g.cfg.Store.UpdateSession(ctx, store.Session{ID: sl.id, Channel: sl.channel, StartedAt: sl.started,
		EndedAt: time.Now().UTC(), Transport: transport, Outcome: outcome, Reason: r.String(reason), Stats: stats})
	if err != nil {
		sl.g.log.Warn("session end", "session", sl.id, "error", err)
	}
	sl.g.mu.Lock()
	delete(sl.g.sessions, sl.id)
	sl.g.mu.Unlock()
	sl.mu.Lock()
	for ch := range sl.subs {
		close(ch)
	}
	sl.subs = nil
	sl.mu.Unlock()
}

// subscribe follows entries from now on; the channel closes at the end of
// the session or when the follower falls behind.
func (sl *sessionLog) subscribe() (<-chan store.LogEntry, func(), bool) {
	ch := make(chan store.LogEntry, 256)
	sl.mu.Lock()
	defer sl.mu.Unlock()
	if sl.subs == nil {
		return nil, func() {}, false
	}
	sl.subs[ch] = struct{}{}
	return ch, func() {
		sl.mu.Lock()
		defer sl.mu.Unlock()
		if _, ok := sl.subs[ch]; ok {
			delete(sl.subs, ch)
			close(ch)
		}
	}, true
}
