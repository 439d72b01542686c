package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/store"
)

// State is a channel's health.
type State string

// Channel health states.
const (
	Idle         State = "idle"         // not wanted: on-demand without viewers, or stopped
	Starting     State = "starting"     // first connection of a run
	Live         State = "live"         // media flows
	Reconnecting State = "reconnecting" // upstream lost after being live; viewers keep the pipeline
	Failed       State = "failed"       // cannot start; Reason says why; retried with backoff
)

// runtime is the supervisor of one channel: one goroutine (loop) from the
// channel's creation (or a configuration change) to its deletion.
type runtime struct {
	g    *Gateway
	name string
	wake chan struct{} // wanted-ness may have changed

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu         sync.Mutex
	cfg        Channel
	state      State
	reason     string
	since      time.Time
	changed    chan struct{} // closed and replaced at every state change
	failures   uint64        // attempts that ended Failed, for waitReady
	manual     bool          // started by Start
	stopped    bool          // stopped by Stop
	hls        map[string]time.Time
	streaming  int // ASF viewers
	active     int // requests in flight, of every output: the channel is wanted while one waits
	lastViewer time.Time
	pipe       Pipeline
	transcoder bool // holds a transcoder slot
	up         Upstream
	described  [2]string // title and author from the upstream's Describer (a metafile)
	log        *sessionLog
	rate       rateMeter
	counters   map[string]prometheus.Counter // viewer requests by output
	skipPrefer bool                          // the last preferred transport just failed: let the client choose
}

// viewerCounter returns the viewer request counter of an output, looked up
// once per channel rather than once per request.
func (r *runtime) viewerCounter(output string) prometheus.Counter {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.counters[output]
	if !ok {
		c = r.g.metrics.viewerRequests.WithLabelValues(r.name, output)
		r.counters[output] = c
	}
	return c
}

func newRuntime(g *Gateway, c Channel, prev *runtime) *runtime {
	r := &runtime{g: g, name: c.Name, cfg: c, wake: make(chan struct{}, 1), done: make(chan struct{}),
		state: Idle, since: time.Now(), changed: make(chan struct{}), hls: map[string]time.Time{},
		counters: map[string]prometheus.Counter{}}
	r.ctx, r.cancel = context.WithCancel(g.ctx)
	r.manual, r.stopped = c.Run == store.RunStarted, c.Run == store.RunStopped
	if prev != nil {
		prev.mu.Lock()
		r.manual, r.stopped, r.lastViewer = prev.manual, prev.stopped, prev.lastViewer
		for k, v := range prev.hls {
			r.hls[k] = v
		}
		prev.mu.Unlock()
	}
	return r
}

func (r *runtime) config() Channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.cfg
	c.Outputs = append([]string(nil), c.Outputs...)
	return c
}

func (r *runtime) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// stop ends the supervisor and waits for it.
func (r *runtime) stop() {
	r.cancel()
	<-r.done
}

func (r *runtime) setRun(run string) {
	r.mu.Lock()
	r.manual, r.stopped = run == store.RunStarted, run == store.RunStopped
	r.cfg.Run = run
	r.mu.Unlock()
	r.poke()
}

// viewersLocked counts viewers: streaming ones plus HLS keys seen recently.
func (r *runtime) viewersLocked(now time.Time) int {
	n := r.streaming
	for k, t := range r.hls {
		if now.Sub(t) > r.g.cfg.ViewerTimeout {
			delete(r.hls, k)
			continue
		}
		n++
	}
	return n
}

// wanted reports whether the channel should run now; r.mu is held.
func (r *runtime) wantedLocked(now time.Time) bool {
	if r.stopped {
		return false
	}
	if !r.cfg.OnDemand || r.manual || r.active > 0 || r.viewersLocked(now) > 0 {
		return true
	}
	return now.Sub(r.lastViewer) < r.g.cfg.Grace
}

func (r *runtime) wanted() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.wantedLocked(time.Now())
}

// watched reports whether reconnects should be quick (always-on or viewers).
func (r *runtime) watched() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.cfg.OnDemand || r.manual || r.viewersLocked(time.Now()) > 0
}

// failureCount returns how many attempts ended Failed so far.
func (r *runtime) failureCount() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures
}

func (r *runtime) addViewer(key string, streaming bool) (func(), error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped {
		return nil, fmt.Errorf("%w: channel %q is stopped", ErrUnavailable, r.name)
	}
	now := time.Now()
	_, known := r.hls[key]
	if max := r.g.cfg.Limits.MaxViewers; max > 0 && (streaming || !known) && r.viewersLocked(now) >= max {
		return nil, fmt.Errorf("%w: channel %q has %d viewers, the maximum", ErrLimit, r.name, max)
	}
	r.lastViewer = now
	r.active++
	if streaming {
		r.streaming++
	} else {
		r.hls[key] = now
	}
	r.poke()
	release := func() {
		r.mu.Lock()
		r.active--
		now := time.Now()
		if streaming {
			r.streaming--
		} else if _, ok := r.hls[key]; ok {
			r.hls[key] = now // watched until its request ended
		}
		r.lastViewer = now
		r.mu.Unlock()
		r.poke()
	}
	return release, nil
}

// waitReady waits until the channel is live (or reconnecting with a
// pipeline that still serves its viewers) or has failed.
//
// A viewer that finds the channel failed waits for the outcome of the next
// attempt, which its arrival brings forward (see sleep): a click on a
// channel whose upstream is back plays. failuresBefore is r.failures from
// before the viewer's arrival: an attempt that failed since (perhaps before
// this call, on a fast failure) is that outcome.
func (r *runtime) waitReady(ctx context.Context, failuresBefore uint64) (Pipeline, error) {
	var timeout <-chan time.Time
	for first := true; ; first = false {
		r.mu.Lock()
		state, reason, pipe, changed, failures := r.state, r.reason, r.pipe, r.changed, r.failures
		r.mu.Unlock()
		switch {
		case (state == Live || state == Reconnecting) && pipe != nil:
			return pipe, nil
		case state == Failed && (!first || failures != failuresBefore):
			return nil, fmt.Errorf("%w: %s", ErrUnavailable, reason)
		}
		if timeout == nil {
			// Only a request that has to wait pays for a timer.
			t := time.NewTimer(r.g.cfg.StartTimeout)
			defer t.Stop()
			timeout = t.C
		}
		select {
		case <-changed:
		case <-timeout:
			return nil, fmt.Errorf("%w: channel %q did not start within %v", ErrUnavailable, r.name, r.g.cfg.StartTimeout)
		case <-ctx.Done():
			if reason != "" {
				return nil, fmt.Errorf("%w: not live in time (%s)", ErrUnavailable, reason)
			}
			return nil, fmt.Errorf("%w: channel %q did not start in time", ErrUnavailable, r.name)
		case <-r.ctx.Done():
			return nil, fmt.Errorf("%w: channel %q stopped", ErrUnavailable, r.name)
		}
	}
}

func (r *runtime) setState(s State, reason string) {
	r.mu.Lock()
	if s == Failed {
		r.failures++
	}
	if r.state == s && r.reason == reason {
		if s == Failed {
			// Another attempt failed the same way: no new state to
			// announce, but viewers waiting for its outcome wake.
			close(r.changed)
			r.changed = make(chan struct{})
		}
		r.mu.Unlock()
		return
	}
	r.state, r.reason, r.since = s, reason, time.Now()
	close(r.changed)
	r.changed = make(chan struct{})
	log := r.log
	r.mu.Unlock()
	fields := map[string]any{"state": string(s)}
	if reason != "" {
		fields["reason"] = reason
	}
	if log != nil {
		log.emit(event.New(event.State, string(s), fields))
	}
	r.g.log.Info("channel state", "channel", r.name, "state", s, "reason", reason)
	r.g.publish(StateEvent{Channel: r.name, State: s, Reason: reason, Change: "state", Time: time.Now().UTC()})
}

func (r *runtime) status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	st := Status{Name: r.name, State: r.state, Reason: r.reason, Since: r.since, OnDemand: r.cfg.OnDemand,
		Stopped: r.stopped, Viewers: r.viewersLocked(now), Bitrate: r.rate.bitsPerSecond(now)}
	if r.up != nil && r.state == Live {
		st.Transport, st.Bandwidth = r.up.Transport(), r.up.Bandwidth()
	}
	if r.log != nil {
		st.Session = r.log.id
	}
	if r.pipe != nil {
		st.Metadata = r.pipe.Metadata()
		if l, ok := r.pipe.(interface{ Latency() time.Duration }); ok {
			st.Latency = l.Latency()
		}
	}
	if st.Metadata.Title == "" {
		st.Metadata.Title = r.described[0]
	}
	if st.Metadata.Author == "" {
		st.Metadata.Author = r.described[1]
	}
	return st
}

// loop is the supervisor.
func (r *runtime) loop() {
	defer close(r.done)
	defer r.closePipeline()
	backoff := r.g.cfg.BackoffMin
	live := false // this run has been live: failures are reconnects
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if !r.wanted() {
			r.closePipeline()
			r.setState(Idle, "")
			live, backoff = false, r.g.cfg.BackoffMin
			select {
			case <-r.ctx.Done():
				return
			case <-r.wake:
			case <-tick.C:
			}
			continue
		}
		wasLive, err := r.session(live)
		if r.ctx.Err() != nil {
			return
		}
		if errors.Is(err, ErrLimit) {
			// Do not keep a transcoder running for a channel that may not
			// transcode now; the next attempt starts a fresh pipeline.
			r.closePipeline()
		}
		if wasLive {
			live, backoff = true, r.g.cfg.BackoffMin
		}
		if err == nil || !r.wanted() {
			continue
		}
		if errors.Is(err, ErrPermanent) {
			r.setState(Failed, err.Error())
			live, backoff = false, r.g.cfg.BackoffMin
			if !r.waitWake() {
				return
			}
			continue
		}
		if live {
			r.setState(Reconnecting, err.Error())
		} else {
			r.setState(Failed, err.Error())
		}
		max := r.g.cfg.BackoffIdle
		if r.watched() {
			max = r.g.cfg.BackoffActive
		}
		backoff = min(backoff, max)
		if !r.sleep(backoff) {
			return
		}
		backoff = min(backoff*2, max)
	}
}

// waitWake waits for a viewer's request, Start or Stop (false: the
// channel's end). A viewer leaving does not count.
func (r *runtime) waitWake() bool {
	r.mu.Lock()
	manual, stopped := r.manual, r.stopped
	r.mu.Unlock()
	for {
		select {
		case <-r.ctx.Done():
			return false
		case <-r.wake:
		}
		r.mu.Lock()
		again := r.active > 0 || r.manual != manual || r.stopped != stopped
		r.mu.Unlock()
		if again {
			return true
		}
	}
}

// sleep waits d before the next attempt, less when a viewer arrives meanwhile
// (the wait shrinks to BackoffActive) or the channel is no longer wanted. It
// returns false when the supervisor ends.
func (r *runtime) sleep(d time.Duration) bool {
	deadline := time.Now().Add(d)
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-r.ctx.Done():
			return false
		case <-t.C:
			return true
		case <-r.wake:
			if !r.wanted() {
				return true
			}
			if active := r.g.cfg.BackoffActive; r.watched() && time.Until(deadline) > active {
				deadline = time.Now().Add(active)
				t.Reset(active)
			}
		}
	}
}

func (r *runtime) closePipeline() {
	r.mu.Lock()
	p, tc := r.pipe, r.transcoder
	r.pipe, r.transcoder = nil, false
	r.mu.Unlock()
	if p != nil {
		if err := p.Close(); err != nil {
			r.g.log.Warn("pipeline close", "channel", r.name, "error", err)
		}
	}
	if tc {
		r.g.release(&r.g.transcoders)
	}
}

func (r *runtime) ensurePipeline(cfg Channel) (Pipeline, error) {
	r.mu.Lock()
	p := r.pipe
	r.mu.Unlock()
	if p != nil {
		return p, nil
	}
	tc := cfg.Transcode == "always"
	if tc {
		if err := r.g.acquire(&r.g.transcoders, r.g.cfg.Limits.MaxTranscoders, "transcoders"); err != nil {
			return nil, err
		}
	}
	p, err := r.g.cfg.NewPipeline(cfg, r.pipelineEvent, r.g.log.With("channel", r.name))
	if err != nil {
		if tc {
			r.g.release(&r.g.transcoders)
		}
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	r.mu.Lock()
	r.pipe, r.transcoder = p, tc
	r.mu.Unlock()
	return p, nil
}

// holdTranscoder takes a transcoder slot when the pipeline decided to
// transcode (transcode "auto" with a source that is not H.264/AAC), or
// fails the session with the limit as its reason.
func (r *runtime) holdTranscoder(p Pipeline) error {
	r.mu.Lock()
	held := r.transcoder
	r.mu.Unlock()
	if held || p.Metadata().Mode != "transcode" {
		return nil
	}
	if err := r.g.acquire(&r.g.transcoders, r.g.cfg.Limits.MaxTranscoders, "transcoders"); err != nil {
		return err
	}
	r.mu.Lock()
	r.transcoder = true
	r.mu.Unlock()
	return nil
}

// pipelineEvent routes the pipeline's events (transcoder restarts, stderr)
// to the current session log.
func (r *runtime) pipelineEvent(e event.Event) {
	if e.Kind == event.TranscoderRestart {
		r.g.metrics.transcoderRestarts.WithLabelValues(r.name).Inc()
	}
	r.mu.Lock()
	log := r.log
	r.mu.Unlock()
	if log != nil {
		log.emit(e)
	}
}

// session runs one upstream session: dial, feed the pipeline until the
// upstream ends or the channel is no longer wanted. wasLive reports whether
// media flowed; err is nil when the session ended because it was not wanted.
func (r *runtime) session(reconnect bool) (wasLive bool, err error) {
	cfg := r.config()
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	sl, err := r.g.openSessionLog(ctx, cfg.Name)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	r.log = sl
	r.mu.Unlock()
	outcome, reason, stats := "failed", "", map[string]any(nil)
	transport := ""
	defer func() {
		r.mu.Lock()
		r.log, r.up = nil, nil
		r.mu.Unlock()
		if err != nil {
			reason = err.Error()
		}
		sl.finish(transport, outcome, reason, stats)
	}()
	if reconnect {
		reason := r.currentReason()
		r.setState(Reconnecting, reason)
		r.g.metrics.reconnects.WithLabelValues(r.name).Inc()
		// Every session of a reconnect says so in its own log, even when
		// the channel's state did not change since the previous attempt.
		sl.emit(event.New(event.State, "reconnecting", map[string]any{"state": string(Reconnecting), "reason": reason}))
	} else {
		r.setState(Starting, "")
	}
	if err := r.g.acquire(&r.g.upstreams, r.g.cfg.Limits.MaxUpstreams, "upstream sessions"); err != nil {
		return false, err
	}
	defer r.g.release(&r.g.upstreams)
	pipe, err := r.ensurePipeline(cfg)
	if err != nil {
		return false, err
	}

	// Stop the session when the channel is no longer wanted.
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-r.wake:
			case <-t.C:
			}
			if !r.wanted() {
				cancel()
				return
			}
		}
	}()

	prefer := ""
	r.mu.Lock()
	if cfg.Transport == "auto" && !r.skipPrefer {
		prefer = cfg.LastTransport
	}
	r.skipPrefer = false
	r.mu.Unlock()
	// The session's own life (mmsclient ties it to the Dial context) must
	// outlast ctx: when the channel stops, Next returns at once and Close
	// then still has a live session to say StopPlaying, CLIENT_LOG and
	// CloseFile with. ctx cancels the dial itself.
	life, endLife := context.WithCancel(context.WithoutCancel(ctx))
	defer endLife()
	stopFollowing := context.AfterFunc(ctx, endLife)
	up, err := r.g.cfg.Dial(life, DialRequest{Channel: cfg, PreferTransport: prefer, OnEvent: sl.emit,
		Logger: r.g.log.With("channel", cfg.Name, "session", sl.id), DialContext: r.g.cfg.Policy.DialContext,
		AllowHost: r.g.cfg.Policy.AllowHost})
	if err != nil {
		if ctx.Err() != nil && r.ctx.Err() == nil && !r.wanted() {
			outcome = "ended"
			return false, nil
		}
		if prefer != "" {
			r.mu.Lock()
			r.skipPrefer = true // the next attempt runs the client's whole policy
			r.mu.Unlock()
		}
		return false, fmt.Errorf("dial: %w", err)
	}
	if !stopFollowing() {
		// ctx ended while the dial completed: close at once.
		up.Close()
		outcome = "ended"
		return false, nil
	}
	transport = up.Transport()
	var described [2]string
	if d, ok := up.(Describer); ok {
		described[0], described[1] = d.Describe()
	}
	r.mu.Lock()
	r.up, r.described = up, described
	r.mu.Unlock()
	defer func() {
		if cerr := up.Close(); cerr != nil {
			r.g.log.Debug("upstream close", "channel", r.name, "error", cerr)
		}
		// The client puts its own final statistics event into the log at
		// Close; the session row keeps them too.
		if s := up.Stats(); len(s) > 0 {
			stats = s
		}
		pipe.Discontinuity()
	}()
	if cfg.Transport == "auto" && transport != "" && transport != cfg.LastTransport {
		if err := r.g.cfg.Store.SetLastTransport(r.ctx, cfg.Name, transport); err == nil {
			r.mu.Lock()
			r.cfg.LastTransport = transport
			r.mu.Unlock()
		}
	}
	if err := pipe.WriteHeader(up.HeaderBytes()); err != nil {
		return false, fmt.Errorf("pipeline header: %w", err)
	}
	if err := r.holdTranscoder(pipe); err != nil {
		return false, err
	}
	r.setState(Live, "")
	for {
		it, err := up.Next(ctx)
		if err != nil {
			switch {
			case ctx.Err() != nil && r.ctx.Err() == nil && !r.wanted():
				outcome = "ended"
				return true, nil
			case r.ctx.Err() != nil:
				outcome = "ended"
				return true, nil
			case errors.Is(err, io.EOF):
				outcome = "ended"
				return true, fmt.Errorf("upstream ended the stream")
			default:
				return true, fmt.Errorf("upstream: %w", err)
			}
		}
		if it.Header != nil {
			err = pipe.WriteHeader(it.Header)
			if err == nil {
				err = r.holdTranscoder(pipe)
			}
		} else {
			r.g.metrics.upstreamBytes.WithLabelValues(r.name).Add(float64(len(it.Packet)))
			r.mu.Lock()
			r.rate.add(time.Now(), len(it.Packet))
			r.mu.Unlock()
			err = pipe.WritePacket(it.Packet)
		}
		if err != nil {
			return true, fmt.Errorf("pipeline: %w", err)
		}
	}
}

func (r *runtime) currentReason() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reason
}

// rateMeter measures bits per second over the last few seconds.
type rateMeter struct {
	buckets [8]int64 // bytes per second, ring indexed by unix second
	stamp   [8]int64
}

func (m *rateMeter) add(now time.Time, n int) {
	s := now.Unix()
	i := s % int64(len(m.buckets))
	if m.stamp[i] != s {
		m.stamp[i], m.buckets[i] = s, 0
	}
	m.buckets[i] += int64(n)
}

// bitsPerSecond averages the last 5 complete seconds.
func (m *rateMeter) bitsPerSecond(now time.Time) int64 {
	s := now.Unix()
	var sum int64
	for k := int64(1); k <= 5; k++ {
		i := (s - k) % int64(len(m.buckets))
		if m.stamp[i] == s-k {
			sum += m.buckets[i]
		}
	}
	return sum * 8 / 5
}
