package remux

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/mmsgate/mmsgate/event"
)

// Supervision constants.
const (
	restartBackoffMin = 500 * time.Millisecond
	restartBackoffMax = 10 * time.Second
	healthyRun        = 30 * time.Second // a run this long resets the backoff
	drainTimeout      = 10 * time.Second // how long ffmpeg may take to flush after its input closed
	stderrBurst       = 20               // stderr lines passed on as events per stderrWindow
	stderrWindow      = 10 * time.Second
	transcoderQueue   = 256             // packets between WritePacket and ffmpeg's stdin
	sendTimeout       = 5 * time.Second // longest WritePacket waits for room in that queue
)

// tcItem is one entry of the transcoder's input queue.
type tcItem struct {
	header []byte   // a new ASF header (Header Object + Data Object header) starts a new run
	in     runInput // what that header carries
	packet []byte   // one ASF data packet
	flush  bool     // upstream gone: let ffmpeg flush, end the run
	keyed  bool     // packet starts a key frame (or the entry is audio-only)
}

// transcoder supervises one ffmpeg process at a time for a channel: ASF on
// stdin, MPEG-TS on stdout read with tsDemuxer into the channel's
// HLS output. Each run (a new header, a restart after a crash or a stall,
// input after an idle pause) joins the same timeline.
type transcoder struct {
	opts    Options
	out     outParams
	hls     *hlsOutput
	log     *slog.Logger
	onEvent event.Func

	in     chan tcItem
	closed chan struct{} // closed by close()
	done   chan struct{} // closed when the worker returned

	mu   sync.Mutex
	cur  *ffmpegRun
	runs int

	childCPU atomic.Int64 // ns of user+system CPU of ffmpeg runs that ended
	dropped  atomic.Int64 // packets dropped because ffmpeg was stalled
}

func newTranscoder(opts Options, out outParams, hls *hlsOutput) *transcoder {
	t := &transcoder{
		opts:    opts,
		out:     out,
		hls:     hls,
		log:     opts.Logger.With("component", "transcoder"),
		onEvent: opts.OnEvent,
		in:      make(chan tcItem, transcoderQueue),
		closed:  make(chan struct{}),
		done:    make(chan struct{}),
	}
	if out.audio {
		// what ffmpeg is told to make; known now, so HLS can start at the
		// first key frame instead of waiting for the first audio
		hls.presetAudio(&mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC,
			SampleRate: out.sampleRate, ChannelConfig: uint8(out.channels)})
	}
	go t.work()
	return t
}

// send queues an item; it blocks while ffmpeg is behind (backpressure on the
// feeder) and returns false once the transcoder closed.
//
// A packet waits at most sendTimeout: a feeder is usually a protocol
// goroutine with deadlines of its own, and an ffmpeg that takes this long is
// stalled anyway (the watchdog restarts it); the packet is dropped then.
func (t *transcoder) send(it tcItem) bool {
	select {
	case t.in <- it:
		return true
	case <-t.closed:
		return false
	default:
	}
	var timeout <-chan time.Time
	if it.packet != nil {
		tm := time.NewTimer(sendTimeout)
		defer tm.Stop()
		timeout = tm.C
	}
	select {
	case t.in <- it:
		return true
	case <-t.closed:
		return false
	case <-timeout:
		if n := t.dropped.Add(1); n == 1 || n%1000 == 0 {
			t.log.Warn("transcoder queue full: packet dropped", "dropped", n)
			t.onEvent.Emit(event.Loss, "transcoder behind: packets dropped", map[string]any{"count": n})
		}
		return true
	}
}

// close stops the worker and kills ffmpeg; it returns when no process is left.
func (t *transcoder) close() {
	select {
	case <-t.closed:
	default:
		close(t.closed)
	}
	<-t.done
}

// current returns the running ffmpeg (for tests and stats), or nil.
func (t *transcoder) current() *ffmpegRun {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.cur
}

func (t *transcoder) setCurrent(r *ffmpegRun) {
	t.mu.Lock()
	t.cur = r
	t.mu.Unlock()
}

func (t *transcoder) work() {
	defer close(t.done)
	var (
		header    []byte
		in        runInput
		run       *ffmpegRun
		waitKey   bool // after a restart, start at a key frame
		restartAt time.Time
		backoff   = restartBackoffMin
		lastInput time.Time
		// the last run crashed and its successor did not start yet: if
		// none comes before the input ends, the HLS tail is closed then
		crashedRun bool
	)
	idleFor := t.opts.IdleTimeout
	idle := time.NewTimer(idleFor)
	defer idle.Stop()

	// end finishes the current run: graceful (flush) or a kill. tail: no
	// run follows soon (upstream gone, input idle), so the HLS output
	// closes its open segment for viewers to get the run's last seconds
	// (at a new header the next entry's first key frame does that).
	end := func(graceful, tail bool, reason string) {
		if run == nil {
			return
		}
		if graceful {
			run.finish(drainTimeout) // returns when all output reached HLS
		} else {
			run.kill(reason)
			<-run.done
		}
		t.exited(run, reason)
		if graceful && tail {
			t.hls.endRun()
		}
		run = nil
		t.setCurrent(nil) // after endRun: no current run means all its media is out
	}
	// crashed handles a run that ended on its own or was killed by the watchdog.
	crashed := func() {
		reason := run.reason()
		if reason == "" {
			reason = "exited unexpectedly"
		}
		t.exited(run, reason)
		if time.Since(run.started) >= healthyRun {
			backoff = restartBackoffMin
		}
		restartAt = time.Now().Add(backoff)
		t.onEvent.Emit(event.TranscoderRestart, "ffmpeg restarts after "+backoff.String()+": "+reason,
			map[string]any{"reason": reason, "backoff": backoff.String()})
		t.log.Warn("ffmpeg will restart", "reason", reason, "backoff", backoff)
		backoff = min(2*backoff, restartBackoffMax)
		run = nil
		t.setCurrent(nil)
		waitKey, crashedRun = true, true
	}

	for {
		var runDone <-chan struct{}
		if run != nil {
			runDone = run.done
		}
		select {
		case <-t.closed:
			end(false, false, "pipeline closed")
			return

		case <-runDone:
			crashed()

		case <-idle.C:
			if len(t.in) == 0 && time.Since(lastInput) >= idleFor {
				if run != nil {
					// the source paused (or stopped mid-stream): let ffmpeg
					// flush what it holds so that viewers get it now.
					end(true, true, "input idle")
					waitKey = true
				} else if crashedRun {
					// the last run crashed and no input came to restart
					// it: what it wrote is all there is for now
					t.hls.endRun()
				}
				crashedRun = false
			}
			idle.Reset(idleFor)

		case it := <-t.in:
			switch {
			case it.header != nil:
				end(true, false, "new header")
				header, in, waitKey, crashedRun = it.header, it.in, false, false
				// a very low bit rate stream sends a packet every few
				// seconds: that is no pause
				idleFor = max(t.opts.IdleTimeout, 4*in.packetInterval)
			case it.flush:
				end(true, true, "upstream gone")
				if crashedRun { // no run was left to end
					t.hls.endRun()
				}
				crashedRun = false
				waitKey = true
			case it.packet != nil:
				lastInput = time.Now()
				if header == nil {
					continue
				}
				if run == nil {
					if time.Now().Before(restartAt) || (waitKey && !it.keyed) {
						continue // dropped: nothing can decode it now
					}
					r, err := t.start(header, in)
					if err != nil {
						t.log.Error("ffmpeg did not start", "error", err)
						t.onEvent.Emit(event.TranscoderExit, "ffmpeg did not start: "+err.Error(),
							map[string]any{"error": err.Error()})
						restartAt = time.Now().Add(backoff)
						backoff = min(2*backoff, restartBackoffMax)
						continue
					}
					run, waitKey, crashedRun = r, false, false
				}
				// batch writes while packets are queued: fewer syscalls on
				// both sides of the pipe; flush as soon as the queue is empty
				err := run.write(it.packet, len(t.in) == 0)
				lastInput = time.Now() // a write may block for long while ffmpeg is busy
				if err != nil {
					// ffmpeg is gone (killed, crashed, stalled)
					<-run.done
					crashed()
				}
			}
		}
	}
}

// start launches one ffmpeg run and writes the ASF header into it.
func (t *transcoder) start(header []byte, in runInput) (*ffmpegRun, error) {
	t.mu.Lock()
	t.runs++
	id := t.runs
	t.mu.Unlock()
	args := ffmpegArgs(t.out, in)
	r, err := startFFmpeg(t, id, args)
	if err != nil {
		return nil, err
	}
	t.setCurrent(r)
	t.onEvent.Emit(event.TranscoderStart, fmt.Sprintf("ffmpeg run %d started (pid %d)", id, r.cmd.Process.Pid),
		map[string]any{"run": id, "pid": r.cmd.Process.Pid, "args": strings.Join(args, " ")})
	t.log.Info("ffmpeg started", "run", id, "pid", r.cmd.Process.Pid)
	if err := r.write(header, true); err != nil {
		r.kill("header write failed")
		<-r.done
		t.exited(r, "header write failed")
		t.setCurrent(nil)
		return nil, fmt.Errorf("writing ASF header to ffmpeg: %w", err)
	}
	return r, nil
}

func (t *transcoder) exited(r *ffmpegRun, reason string) {
	fields := map[string]any{"run": r.id, "reason": reason, "output_bytes": r.outBytes.Load()}
	msg := fmt.Sprintf("ffmpeg run %d ended: %s", r.id, reason)
	if r.exitErr != nil {
		fields["error"] = r.exitErr.Error()
		msg += " (" + r.exitErr.Error() + ")"
	}
	if r.readErr != nil {
		fields["output_error"] = r.readErr.Error()
	}
	t.onEvent.Emit(event.TranscoderExit, msg, fields)
	t.log.Info("ffmpeg ended", "run", r.id, "reason", reason, "error", r.exitErr)
}

// ffmpegRun is one ffmpeg process.
type ffmpegRun struct {
	id      int
	t       *transcoder
	cmd     *exec.Cmd
	stdin   io.WriteCloser
	bw      *bufio.Writer // on stdin
	started time.Time
	done    chan struct{} // closed once output and stderr were read to the end and the process reaped

	exitErr error // valid after done
	readErr error // valid after done

	outBytes   atomic.Int64
	lastOut    atomic.Int64 // unix ns of the last output bytes
	lastIn     atomic.Int64 // unix ns of the last input written
	writeStart atomic.Int64 // unix ns when the write in progress began; 0 = none
	killReason atomic.Pointer[string]
	stop       chan struct{} // closed when done, stops the watchdog
}

func startFFmpeg(t *transcoder, id int, args []string) (*ffmpegRun, error) {
	cmd := exec.Command(t.opts.FFmpegPath, args...)
	setProcGroup(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &ffmpegRun{id: id, t: t, cmd: cmd, stdin: stdin, bw: bufio.NewWriterSize(newPipeWriter(stdin), 64<<10), started: time.Now(),
		done: make(chan struct{}), stop: make(chan struct{})}
	r.lastOut.Store(time.Now().UnixNano())
	t.hls.beginRun()

	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		// the demuxer reads up to 64 KiB at a time: no buffer in between
		r.readErr = r.readOutput(&countingReader{r: newPipeReader(stdout), run: r})
		if r.readErr != nil && !errors.Is(r.readErr, errHLSClosed) {
			r.kill("unreadable output: " + r.readErr.Error())
		}
		_, _ = io.Copy(io.Discard, stdout) // never leave ffmpeg blocked on a full pipe
	}()
	go func() {
		defer wg.Done()
		r.readStderr(stderr)
	}()
	go func() {
		wg.Wait()
		r.exitErr = cmd.Wait()
		if ps := cmd.ProcessState; ps != nil {
			t.childCPU.Add(int64(ps.UserTime() + ps.SystemTime()))
		}
		close(r.stop)
		close(r.done)
	}()
	go r.watchdog(t.opts.StallTimeout)
	return r, nil
}

// write writes input to ffmpeg's stdin, through a buffer flushed when flush
// is set.
func (r *ffmpegRun) write(b []byte, flush bool) error {
	r.writeStart.Store(time.Now().UnixNano())
	_, err := r.bw.Write(b)
	if err == nil && flush {
		err = r.bw.Flush()
	}
	r.lastIn.Store(time.Now().UnixNano())
	r.writeStart.Store(0)
	return err
}

// finish closes ffmpeg's input and waits for it to flush and exit; after
// timeout it is killed.
func (r *ffmpegRun) finish(timeout time.Duration) {
	_ = r.write(nil, true) // the watchdog covers a flush that blocks
	_ = r.stdin.Close()
	tm := time.NewTimer(timeout)
	defer tm.Stop()
	select {
	case <-r.done:
	case <-tm.C:
		r.kill("did not exit after its input closed")
		<-r.done
	}
}

func (r *ffmpegRun) kill(reason string) {
	r.killReason.CompareAndSwap(nil, &reason)
	killProc(r.cmd)
	_ = r.stdin.Close()
}

func (r *ffmpegRun) reason() string {
	if p := r.killReason.Load(); p != nil {
		return *p
	}
	return ""
}

// watchdog kills ffmpeg when it stops reading its input for timeout, or
// wrote nothing for timeout while input kept coming: a stalled process never
// recovers by itself. Input that stopped is not a stall; the idle timeout
// handles that.
func (r *ffmpegRun) watchdog(timeout time.Duration) {
	tick := time.NewTicker(max(timeout/8, 10*time.Millisecond))
	defer tick.Stop()
	to := int64(timeout)
	for {
		select {
		case <-r.stop:
			return
		case now := <-tick.C:
			ns := now.UnixNano()
			ws, in, out := r.writeStart.Load(), r.lastIn.Load(), r.lastOut.Load()
			notReading := ws != 0 && ns-ws > to
			notWriting := in > out && ns-out > to && ns-in < to
			if notReading || notWriting {
				r.kill(fmt.Sprintf("stalled: no output for %v while given input", timeout))
				return
			}
		}
	}
}

// readOutput reads ffmpeg's MPEG-TS into the HLS output.
func (r *ffmpegRun) readOutput(rd io.Reader) error {
	hls := r.t.hls
	log := r.t.log
	var td mpegts.TimeDecoder // one for all tracks: they share the 90 kHz clock
	d := newTSDemuxer(rd)
	d.onH264 = func(pts int64, au [][]byte) error {
		return softError(log, hls.writeH264(td.Decode(pts), au))
	}
	d.onAAC = func(conf *mpeg4audio.AudioSpecificConfig, pts int64, aus [][]byte) error {
		return softError(log, hls.writeAAC(conf, td.Decode(pts), aus))
	}
	d.onDecodeError = func(err error) { log.Debug("MPEG-TS decode", "error", err) }
	if err := d.run(); err != nil {
		return fmt.Errorf("MPEG-TS: %w", err)
	}
	return nil
}

// softError logs a write error that concerns one sample and keeps going;
// only a closed output stops the reader.
func softError(log *slog.Logger, err error) error {
	if err == nil || errors.Is(err, errHLSClosed) {
		return err
	}
	log.Warn("HLS write", "error", err)
	return nil
}

// readStderr passes ffmpeg's stderr lines on as events, at most stderrBurst
// per stderrWindow (a broken stream can make ffmpeg print thousands).
func (r *ffmpegRun) readStderr(rd io.Reader) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 4096), 64*1024)
	var windowStart time.Time
	n, suppressed := 0, 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		r.t.log.Debug("ffmpeg", "run", r.id, "line", line)
		now := time.Now()
		if now.Sub(windowStart) > stderrWindow {
			if suppressed > 0 {
				r.t.onEvent.Emit(event.TranscoderStderr, fmt.Sprintf("(%d more ffmpeg lines suppressed)", suppressed),
					map[string]any{"run": r.id, "suppressed": suppressed})
			}
			windowStart, n, suppressed = now, 0, 0
		}
		if n >= stderrBurst {
			suppressed++
			continue
		}
		n++
		r.t.onEvent.Emit(event.TranscoderStderr, line, map[string]any{"run": r.id})
	}
	_, _ = io.Copy(io.Discard, rd)
}

// countingReader notes ffmpeg's output progress for the watchdog.
type countingReader struct {
	r   io.Reader
	run *ffmpegRun
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 {
		c.run.outBytes.Add(int64(n))
		c.run.lastOut.Store(time.Now().UnixNano())
	}
	return n, err
}
