// Package gateway is the core service: channels, the supervisor that runs one
// upstream session per active channel, and session logs. It knows nothing of
// HTTP beyond handing pipelines to the handlers that serve viewers.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/mmsgate/mmsgate/store"
)

// Limits bound what the gateway takes on; 0 means no limit.
type Limits struct {
	MaxChannels    int // configured channels
	MaxUpstreams   int // concurrently active upstream sessions
	MaxTranscoders int // channels transcoding at once (transcode "always")
	MaxViewers     int // viewers per channel
}

// Config configures a Gateway. Store, Dial and NewPipeline are required.
type Config struct {
	Store       store.Store
	Dial        Dialer
	NewPipeline PipelineFactory
	Policy      Policy
	Redactor    *Redactor // nil: a new one
	Logger      *slog.Logger
	Registerer  prometheus.Registerer // nil: no metrics
	Limits      Limits

	Grace         time.Duration // on-demand channels stop this long after the last viewer (default 30 s)
	ViewerTimeout time.Duration // an HLS viewer counts this long after its last request (default 15 s)
	StartTimeout  time.Duration // how long Watch waits for a channel to go live (default 20 s)
	KeepSessions  int           // session logs kept per channel (default 50)
	MaxLogEntries int           // events kept per session (default 5000)
	// Backoff between reconnect attempts: from BackoffMin doubling to
	// BackoffActive while the channel is always-on or watched, to BackoffIdle
	// otherwise (defaults 0.5 s, 3 s, 60 s).
	BackoffMin, BackoffActive, BackoffIdle time.Duration
}

func (c *Config) defaults() {
	if c.Redactor == nil {
		c.Redactor = NewRedactor()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Grace, 30*time.Second)
	def(&c.ViewerTimeout, 15*time.Second)
	def(&c.StartTimeout, 20*time.Second)
	def(&c.BackoffMin, 500*time.Millisecond)
	def(&c.BackoffActive, 3*time.Second)
	def(&c.BackoffIdle, 60*time.Second)
	if c.KeepSessions <= 0 {
		c.KeepSessions = 50
	}
	if c.MaxLogEntries <= 0 {
		c.MaxLogEntries = 5000
	}
}

// Gateway owns the channels and their supervisors.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	metrics *metrics

	subMu sync.Mutex
	subs  map[chan StateEvent]struct{}

	mu          sync.Mutex
	channels    map[string]*runtime
	upstreams   int
	transcoders int
	sessions    map[int64]*sessionLog // running sessions
	closed      bool
}

// New loads the channels from the store and starts their supervisors
// (always-on channels connect at once).
func New(ctx context.Context, cfg Config) (*Gateway, error) {
	if cfg.Store == nil || cfg.Dial == nil || cfg.NewPipeline == nil {
		return nil, errors.New("gateway: Store, Dial and NewPipeline are required")
	}
	cfg.defaults()
	g := &Gateway{cfg: cfg, log: cfg.Logger, channels: map[string]*runtime{},
		subs: map[chan StateEvent]struct{}{}, sessions: map[int64]*sessionLog{}}
	g.ctx, g.cancel = context.WithCancel(context.WithoutCancel(ctx))
	m, err := newMetrics(g, cfg.Registerer)
	if err != nil {
		return nil, err
	}
	g.metrics = m
	chans, err := cfg.Store.ListChannels(ctx)
	if err != nil {
		return nil, fmt.Errorf("gateway: load channels: %w", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range chans {
		g.startRuntime(c, nil)
	}
	return g, nil
}

// Redactor returns the redactor that knows every channel password.
func (g *Gateway) Redactor() *Redactor { return g.cfg.Redactor }

// Policy returns the upstream policy.
func (g *Gateway) Policy() Policy { return g.cfg.Policy }

// startRuntime starts the supervisor of c; prev carries viewer and start/stop
// state over a configuration change. g.mu is held.
func (g *Gateway) startRuntime(c Channel, prev *runtime) {
	g.cfg.Redactor.Set(c.Name, c.Username, c.Password)
	r := newRuntime(g, c, prev)
	g.channels[c.Name] = r
	go r.loop()
}

// List returns every channel, ordered by name.
func (g *Gateway) List() []Channel {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]Channel, 0, len(g.channels))
	for _, r := range g.channels {
		out = append(out, r.config())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (g *Gateway) runtime(name string) (*runtime, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	r, ok := g.channels[name]
	if !ok {
		return nil, fmt.Errorf("%w: no channel %q", ErrNotFound, name)
	}
	return r, nil
}

// Get returns a channel's configuration (with its password: callers that
// answer users must drop it).
func (g *Gateway) Get(name string) (Channel, error) {
	r, err := g.runtime(name)
	if err != nil {
		return Channel{}, err
	}
	return r.config(), nil
}

func (g *Gateway) check(c Channel) (Channel, error) {
	c, err := Normalize(c)
	if err != nil {
		return c, err
	}
	if err := g.cfg.Policy.CheckURL(c.URL); err != nil {
		return c, err
	}
	return c, nil
}

// Create validates, stores and starts a new channel.
func (g *Gateway) Create(ctx context.Context, c Channel) (Channel, error) {
	c, err := g.check(c)
	if err != nil {
		return c, err
	}
	now := time.Now().UTC()
	c.CreatedAt, c.UpdatedAt, c.LastTransport, c.Run = now, now, "", ""
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return c, ErrClosed
	}
	if _, ok := g.channels[c.Name]; ok {
		return c, fmt.Errorf("%w: channel %q exists", ErrConflict, c.Name)
	}
	if max := g.cfg.Limits.MaxChannels; max > 0 && len(g.channels) >= max {
		return c, fmt.Errorf("%w: at most %d channels (max-channels)", ErrLimit, max)
	}
	if err := g.cfg.Store.CreateChannel(ctx, c); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return c, fmt.Errorf("%w: channel %q exists", ErrConflict, c.Name)
		}
		return c, err
	}
	g.startRuntime(c, nil)
	g.publish(StateEvent{Channel: c.Name, State: Idle, Time: now, Change: "created"})
	return c, nil
}

// Update replaces a channel's configuration (Name and CreatedAt cannot
// change) and restarts its supervisor with it.
func (g *Gateway) Update(ctx context.Context, c Channel) (Channel, error) {
	old, err := g.runtime(c.Name)
	if err != nil {
		return c, err
	}
	c, err = g.check(c)
	if err != nil {
		return c, err
	}
	prev := old.config()
	c.CreatedAt, c.UpdatedAt = prev.CreatedAt, time.Now().UTC()
	c.LastTransport, c.Run = prev.LastTransport, prev.Run
	if c.URL != prev.URL {
		c.LastTransport = ""
	}
	if err := g.cfg.Store.UpdateChannel(ctx, c); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return c, fmt.Errorf("%w: no channel %q", ErrNotFound, c.Name)
		}
		return c, err
	}
	old.stop()
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return c, ErrClosed
	}
	if g.channels[c.Name] == old {
		g.startRuntime(c, old)
	}
	g.publish(StateEvent{Channel: c.Name, State: Idle, Time: c.UpdatedAt, Change: "updated"})
	return c, nil
}

// Delete stops a channel and removes it with its session logs.
func (g *Gateway) Delete(ctx context.Context, name string) error {
	r, err := g.runtime(name)
	if err != nil {
		return err
	}
	g.mu.Lock()
	if g.channels[name] != r {
		g.mu.Unlock()
		return fmt.Errorf("%w: no channel %q", ErrNotFound, name)
	}
	delete(g.channels, name)
	g.mu.Unlock()
	r.stop()
	if err := g.cfg.Store.DeleteChannel(ctx, name); err != nil && !errors.Is(err, store.ErrNotFound) {
		g.mu.Lock()
		if _, taken := g.channels[name]; !taken && !g.closed {
			g.startRuntime(r.config(), r)
		}
		g.mu.Unlock()
		return err
	}
	g.cfg.Redactor.Set(name, "", "")
	g.metrics.forget(name)
	g.publish(StateEvent{Channel: name, Time: time.Now().UTC(), Change: "deleted"})
	return nil
}

// Start makes a channel run until Stop, whatever its viewers. It is
// stored: the channel is started again after a restart.
func (g *Gateway) Start(name string) error { return g.setRun(name, store.RunStarted) }

// Stop stops a channel until Start; viewers get ErrUnavailable meanwhile.
// It is stored: an always-on channel stays stopped across a restart.
func (g *Gateway) Stop(name string) error { return g.setRun(name, store.RunStopped) }

func (g *Gateway) setRun(name, run string) error {
	r, err := g.runtime(name)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(g.ctx, 10*time.Second)
	defer cancel()
	if err := g.cfg.Store.SetRun(ctx, name, run); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("%w: no channel %q", ErrNotFound, name)
		}
		return err
	}
	r.setRun(run)
	return nil
}

// Status describes a channel now.
type Status struct {
	Name      string
	State     State
	Reason    string
	Since     time.Time
	OnDemand  bool
	Stopped   bool
	Viewers   int
	Transport string // in use
	Bandwidth int64  // the client's estimate, bits/s
	Bitrate   int64  // measured upstream bits/s over the last seconds
	Session   int64  // the current session's id, 0 when none
	Metadata  Metadata
	// Latency is the wall-clock age of the newest media at the HLS edge
	// (remux.Pipeline.Latency: time since the newest complete segment was
	// cut, growing while the upstream stalls); 0 when unknown.
	Latency time.Duration
}

// Status returns a channel's status.
func (g *Gateway) Status(name string) (Status, error) {
	r, err := g.runtime(name)
	if err != nil {
		return Status{}, err
	}
	return r.status(), nil
}

// Statuses returns the status of every channel, ordered by name.
func (g *Gateway) Statuses() []Status {
	g.mu.Lock()
	rs := make([]*runtime, 0, len(g.channels))
	for _, r := range g.channels {
		rs = append(rs, r)
	}
	g.mu.Unlock()
	out := make([]Status, 0, len(rs))
	for _, r := range rs {
		out = append(out, r.status())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Viewer is one viewer's hold on a channel's pipeline.
type Viewer struct {
	Pipeline Pipeline
	release  func()
	once     sync.Once
}

// Release ends the viewer's hold (once; later calls do nothing).
func (v *Viewer) Release() { v.once.Do(v.release) }

// Watch registers a viewer of output ("hls", "llhls", "asf") of a channel,
// starting an on-demand channel, and waits until the channel has a pipeline
// with media or cannot start (ErrUnavailable with the reason). key
// identifies an HLS viewer across its requests; streaming viewers (ASF) hold
// the channel until Release.
func (g *Gateway) Watch(ctx context.Context, name, output, key string, streaming bool) (*Viewer, error) {
	r, err := g.runtime(name)
	if err != nil {
		return nil, err
	}
	cfg := r.config()
	if !HasOutput(cfg, output) {
		return nil, fmt.Errorf("%w: channel %q has no %s output", ErrNotFound, name, output)
	}
	failures := r.failureCount()
	release, err := r.addViewer(key, streaming)
	if err != nil {
		return nil, err
	}
	r.viewerCounter(output).Inc()
	p, err := r.waitReady(ctx, failures)
	if err != nil {
		release()
		return nil, err
	}
	return &Viewer{Pipeline: p, release: release}, nil
}

// Ready reports whether the gateway can serve: the store answers.
func (g *Gateway) Ready(ctx context.Context) error {
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return g.cfg.Store.Ping(ctx)
}

// Close stops every channel: upstream sessions are closed (CloseFile) and
// pipelines with their transcoders stopped; session logs are flushed.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil
	}
	g.closed = true
	rs := make([]*runtime, 0, len(g.channels))
	for _, r := range g.channels {
		rs = append(rs, r)
	}
	g.mu.Unlock()
	g.subMu.Lock()
	for ch := range g.subs {
		close(ch)
		delete(g.subs, ch)
	}
	g.subMu.Unlock()
	done := make(chan struct{})
	go func() {
		var wg sync.WaitGroup
		for _, r := range rs {
			wg.Add(1)
			go func() { defer wg.Done(); r.stop() }()
		}
		wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		g.cancel()
		return fmt.Errorf("gateway: close: %w", ctx.Err())
	}
	g.cancel()
	return nil
}

// acquire takes one unit of a limited resource; g.mu must not be held.
func (g *Gateway) acquire(counter *int, max int, what string) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if max > 0 && *counter >= max {
		return fmt.Errorf("%w: %d %s active, the maximum", ErrLimit, *counter, what)
	}
	*counter++
	return nil
}

func (g *Gateway) release(counter *int) {
	g.mu.Lock()
	*counter--
	g.mu.Unlock()
}

// StateEvent is a change of a channel's state, configuration or existence,
// for UIs that update live.
type StateEvent struct {
	Channel string    `json:"channel"`
	State   State     `json:"state,omitempty"`
	Reason  string    `json:"reason,omitempty"`
	Change  string    `json:"change"` // "state", "created", "updated", "deleted"
	Time    time.Time `json:"time"`
}

// Subscribe returns state events until cancel is called or the gateway
// closes (the channel is then closed). A subscriber that does not keep up
// loses events rather than slowing the gateway.
func (g *Gateway) Subscribe() (<-chan StateEvent, func()) {
	ch := make(chan StateEvent, 64)
	g.mu.Lock()
	closed := g.closed
	g.mu.Unlock()
	g.subMu.Lock()
	defer g.subMu.Unlock()
	if closed {
		close(ch)
		return ch, func() {}
	}
	g.subs[ch] = struct{}{}
	return ch, func() {
		g.subMu.Lock()
		defer g.subMu.Unlock()
		if _, ok := g.subs[ch]; ok {
			delete(g.subs, ch)
			close(ch)
		}
	}
}

// publish sends e to every subscriber without blocking.
func (g *Gateway) publish(e StateEvent) {
	g.subMu.Lock()
	defer g.subMu.Unlock()
	for ch := range g.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

// Sessions lists a channel's sessions, newest first.
func (g *Gateway) Sessions(ctx context.Context, name string, limit, offset int) ([]store.Session, int, error) {
	if _, err := g.runtime(name); err != nil {
		return nil, 0, err
	}
	return g.cfg.Store.ListSessions(ctx, name, limit, offset)
}

// Session returns one session.
func (g *Gateway) Session(ctx context.Context, id int64) (store.Session, error) {
	s, err := g.cfg.Store.GetSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return s, fmt.Errorf("%w: no session %d", ErrNotFound, id)
	}
	return s, err
}

// SessionLog returns stored entries of a session log after seq.
func (g *Gateway) SessionLog(ctx context.Context, id, after int64, limit int) ([]store.LogEntry, error) {
	if _, err := g.Session(ctx, id); err != nil {
		return nil, err
	}
	if sl := g.runningSession(id); sl != nil {
		sl.flush()
	}
	return g.cfg.Store.SessionLog(ctx, id, after, limit)
}

// Follow subscribes to the live entries of a running session. ok is false
// when the session is not running; the channel closes when it ends.
func (g *Gateway) Follow(id int64) (entries <-chan store.LogEntry, cancel func(), ok bool) {
	sl := g.runningSession(id)
	if sl == nil {
		return nil, func() {}, false
	}
	return sl.subscribe()
}

func (g *Gateway) runningSession(id int64) *sessionLog {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions[id]
}

// ValidOutput reports whether o names an output ("hls", "llhls", "asf").
func ValidOutput(o string) bool { return slices.Contains(outputs, o) }
