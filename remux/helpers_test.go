package remux

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gohlslib/v2/pkg/playlist"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// clip returns the path of a generated ASF fixture (cached across runs).
func clip(t testing.TB, spec fixture.Spec) string {
	t.Helper()
	return fixture.Clip(t, spec)
}

// hlsServer serves a pipeline's HLS under /hls/ and ASF under /asf.
func hlsServer(t testing.TB, serveHLS func(http.ResponseWriter, *http.Request, string), serveASF http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/hls/{file}", func(w http.ResponseWriter, r *http.Request) {
		serveHLS(w, r, r.PathValue("file"))
	})
	if serveASF != nil {
		mux.HandleFunc("/asf", serveASF)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// events collects pipeline events for assertions.
type events struct {
	mu  sync.Mutex
	all []event.Event
	ch  chan event.Event
}

func newEvents() *events { return &events{ch: make(chan event.Event, 4096)} }

func (e *events) fn() event.Func {
	return func(ev event.Event) {
		e.mu.Lock()
		e.all = append(e.all, ev)
		e.mu.Unlock()
		select {
		case e.ch <- ev:
		default:
		}
	}
}

func (e *events) count(kind event.Kind) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}

func (e *events) dump() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.all {
		fmt.Fprintf(&b, "%s %s %v\n", ev.Kind, ev.Message, ev.Fields)
	}
	return b.String()
}

// followedStream is one media playlist as a live client saw it.
type followedStream struct {
	uri      string
	init     []byte
	segs     map[int][]byte
	durs     map[int]time.Duration
	seqs     []int // EXT-X-MEDIA-SEQUENCE of each reload, in order
	lastMSN  int
	contents string
}

// hlsFollower follows a channel's HLS like a player: the multivariant
// playlist once, then every media playlist until stopped, downloading each
// segment once. Any 4xx/5xx is recorded.
type hlsFollower struct {
	base    string
	client  *http.Client
	streams []*followedStream
	errors  []string
}

func newFollower(base string) *hlsFollower {
	return &hlsFollower{base: base, client: &http.Client{Timeout: 60 * time.Second}}
}

func (f *hlsFollower) get(ctx context.Context, uri string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, f.base+uri, nil)
	if err != nil {
		return nil, err
	}
	res, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		f.errors = append(f.errors, fmt.Sprintf("GET %s: %d %s", uri, res.StatusCode, bytes.TrimSpace(b)))
		return nil, fmt.Errorf("GET %s: %d", uri, res.StatusCode)
	}
	return b, nil
}

func (f *hlsFollower) start(ctx context.Context) error {
	b, err := f.get(ctx, "index.m3u8")
	if err != nil {
		return err
	}
	pl, err := playlist.Unmarshal(b)
	if err != nil {
		return fmt.Errorf("multivariant playlist: %w\n%s", err, b)
	}
	mv, ok := pl.(*playlist.Multivariant)
	if !ok {
		return fmt.Errorf("index.m3u8 is not a multivariant playlist")
	}
	add := func(uri string) {
		uri = strings.SplitN(uri, "?", 2)[0]
		for _, s := range f.streams {
			if s.uri == uri {
				return
			}
		}
		f.streams = append(f.streams, &followedStream{uri: uri, segs: map[int][]byte{}, durs: map[int]time.Duration{}, lastMSN: -1})
	}
	for _, v := range mv.Variants {
		add(v.URI)
	}
	for _, r := range mv.Renditions {
		if r.URI != nil {
			add(*r.URI)
		}
	}
	return nil
}

// poll reloads every media playlist once and downloads new segments.
// pollUntil polls until the first stream carries want of media or deadline
// passes (the caller checks what it got).
func (f *hlsFollower) pollUntil(t testing.TB, ctx context.Context, want time.Duration, deadline time.Time) {
	t.Helper()
	for {
		if err := f.poll(ctx); err != nil {
			t.Fatal(err)
		}
		if f.streams[0].mediaTime() >= want || time.Now().After(deadline) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (f *hlsFollower) poll(ctx context.Context) error {
	for _, s := range f.streams {
		b, err := f.get(ctx, s.uri)
		if err != nil {
			return err
		}
		pl, err := playlist.Unmarshal(b)
		if err != nil {
			return fmt.Errorf("media playlist: %w\n%s", err, b)
		}
		m, ok := pl.(*playlist.Media)
		if !ok {
			return fmt.Errorf("%s is not a media playlist", s.uri)
		}
		s.contents = string(b)
		s.seqs = append(s.seqs, m.MediaSequence)
		if m.Map != nil && s.init == nil {
			if s.init, err = f.get(ctx, m.Map.URI); err != nil {
				return err
			}
		}
		for i, seg := range m.Segments {
			msn := m.MediaSequence + i
			if seg.Gap || msn <= s.lastMSN {
				continue
			}
			data, err := f.get(ctx, seg.URI)
			if err != nil {
				return err
			}
			s.segs[msn], s.durs[msn], s.lastMSN = data, seg.Duration, msn
		}
	}
	return nil
}

// follow polls until ctx ends or stop is closed, then polls once more.
func (f *hlsFollower) follow(ctx context.Context, stop <-chan struct{}, every time.Duration) error {
	if err := f.start(ctx); err != nil {
		return err
	}
	for {
		if err := f.poll(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-stop:
			return f.poll(ctx)
		case <-time.After(every):
		}
	}
}

// mediaTime is the sum of EXTINF of every segment the follower got.
func (s *followedStream) mediaTime() time.Duration {
	var d time.Duration
	for _, v := range s.durs {
		d += v
	}
	return d
}

// checkContiguous reports segments missed between the first and the last.
func (s *followedStream) checkContiguous() error {
	var msns []int
	for k := range s.segs {
		msns = append(msns, k)
	}
	sort.Ints(msns)
	for i := 1; i < len(msns); i++ {
		if msns[i] != msns[i-1]+1 {
			return fmt.Errorf("%s: segment %d missing (have %v)", s.uri, msns[i-1]+1, msns)
		}
	}
	for i := 1; i < len(s.seqs); i++ {
		if s.seqs[i] < s.seqs[i-1] {
			return fmt.Errorf("%s: media sequence went back from %d to %d", s.uri, s.seqs[i-1], s.seqs[i])
		}
	}
	return nil
}

// file writes init + segments in order to a file and returns its path.
func (s *followedStream) file(t testing.TB) string {
	t.Helper()
	var msns []int
	for k := range s.segs {
		msns = append(msns, k)
	}
	sort.Ints(msns)
	var buf bytes.Buffer
	buf.Write(s.init)
	for _, k := range msns {
		buf.Write(s.segs[k])
	}
	ext := ".mp4"
	if s.init == nil {
		ext = ".ts"
	}
	p := filepath.Join(t.TempDir(), strings.TrimSuffix(s.uri, ".m3u8")+ext)
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// probe is what ffprobe says about a file.
type probe struct {
	Streams []struct {
		CodecName string `json:"codec_name"`
		CodecType string `json:"codec_type"`
		Profile   string `json:"profile"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
		Rate      string `json:"sample_rate"`
		Duration  string `json:"duration"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
	Frames []struct {
		KeyFrame int    `json:"key_frame"`
		PTSTime  string `json:"pts_time"`
		Type     string `json:"media_type"`
	} `json:"frames"`
}

func (p *probe) codecs() string {
	var c []string
	for _, s := range p.Streams {
		c = append(c, s.CodecType+":"+s.CodecName)
	}
	sort.Strings(c)
	return strings.Join(c, ",")
}

func (p *probe) duration() time.Duration {
	f, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return time.Duration(f * float64(time.Second))
}

// ffprobe reads a file (or URL) with ffprobe; extra arguments are appended.
func ffprobe(t testing.TB, path string, extra ...string) *probe {
	t.Helper()
	args := append([]string{"-v", "error", "-show_entries",
		"stream=codec_name,codec_type,profile,width,height,sample_rate,duration:format=duration", "-of", "json"}, extra...)
	args = append(args, path)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffprobe", args...).Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("ffprobe %s: %v %s", path, err, stderr)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v\n%s", err, out)
	}
	return &p
}

// decodeCheck decodes a file fully with ffmpeg and fails on decode errors.
// Frames are passed on at their own times (-vsync vfr): the copy of an IDR
// that closed a run lasts one 90 kHz tick, which a constant frame rate
// output would map onto the next frame's slot and report.
func decodeCheck(t testing.TB, path string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-i", path, "-vsync", "vfr", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding %s: %v\n%s", path, err, out)
	}
}
