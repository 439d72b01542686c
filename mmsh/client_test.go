package mmsh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/auth"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

type eventLog struct {
	mu sync.Mutex
	ev []event.Event
}

func (l *eventLog) add(e event.Event) {
	l.mu.Lock()
	l.ev = append(l.ev, e)
	l.mu.Unlock()
}

func (l *eventLog) count(k event.Kind) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == k {
			n++
		}
	}
	return n
}

// sourcePackets reads every data packet of an ASF file.
func sourcePackets(t testing.TB, path string) (*asf.File, [][]byte) {
	t.Helper()
	return fixture.Packets(t, path)
}

// readAll reads a session to its end.
func readAll(t testing.TB, s *Session) (headers, packets [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		it, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("Next after %d packets: %v", len(packets), err)
		}
		if it.Header != nil {
			headers = append(headers, it.Header)
		}
		if it.Packet != nil {
			packets = append(packets, it.Packet)
		}
	}
}

func dial(t testing.TB, url string, opts Options) *Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Dial(context.WithoutCancel(ctx), url, opts)
	if err != nil {
		t.Fatalf("Dial %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestClientPlaysFile(t *testing.T) {
	src := clip(t, fixture.WMV2())
	af, want := sourcePackets(t, src)
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true})
	var log eventLog
	s := dial(t, "mmsh://"+addr+"/"+filepath.Base(src), Options{OnEvent: log.add})
	if s.Live() {
		t.Error("file announced as live")
	}
	if !bytes.Equal(s.HeaderBytes(), append(slices.Clone(af.HeaderBytes), af.DataHeader...)) {
		t.Error("header differs from the file's")
	}
	headers, got := readAll(t, s)
	if len(headers) != 0 {
		t.Errorf("%d entry headers for a plain file", len(headers))
	}
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
	st := s.Stats()
	if st.PacketsReceived != uint32(len(want)) || st.Transport != "http" || len(st.Streams) != 2 || st.Played <= 2*time.Second {
		t.Errorf("stats %+v", st)
	}
	s.Close()
	for _, k := range []event.Kind{event.Attempt, event.Connected, event.Header, event.Streams, event.Playing, event.End, event.Stats} {
		if log.count(k) == 0 {
			t.Errorf("no %s event", k)
		}
	}
}

func TestClientHTTPURLAndStreamSelection(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, want := sourcePackets(t, src)
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true})
	probe := dial(t, "http://"+addr+"/"+filepath.Base(src), Options{})
	var audio uint16
	for _, sp := range probe.Header().Streams {
		if sp.IsAudio() {
			audio = sp.StreamNumber
		}
	}
	probe.Close()
	s := dial(t, "http://"+addr+"/"+filepath.Base(src), Options{Streams: []uint16{audio}})
	_, got := readAll(t, s)
	if len(got) == 0 || len(got) >= len(want) {
		t.Fatalf("%d packets of audio only, file has %d", len(got), len(want))
	}
	var p asf.Packet
	for i, b := range got {
		if err := p.Unmarshal(b); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		for _, pl := range p.Payloads {
			if uint16(pl.StreamNumber) != audio {
				t.Fatalf("packet %d carries stream %d", i, pl.StreamNumber)
			}
		}
	}
}

func TestClientSeek(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, want := sourcePackets(t, src)
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true})
	url := "mmsh://" + addr + "/" + filepath.Base(src)
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, err := f.packetAt(2 * time.Second)
	if err != nil || n == 0 {
		t.Fatalf("packetAt: %d %v", n, err)
	}
	if key, _ := asf.HasKeyFrame(want[n], 0); !key {
		t.Errorf("seek target %d holds no key frame", n)
	}
	s := dial(t, url, Options{Start: 2 * time.Second})
	_, got := readAll(t, s)
	if len(got) != len(want)-int(n) || !bytes.Equal(got[0], want[n]) {
		t.Fatalf("start at 2 s: %d packets, want %d from packet %d", len(got), len(want)-int(n), n)
	}
	// Seek back during playback, in both modes: a pipelined session
	// probes its new connection and stays pipelined.
	for _, pipelined := range []bool{false, true} {
		seekBack(t, url, pipelined, want[n])
	}
}

func seekBack(t *testing.T, url string, pipelined bool, want []byte) {
	s2 := dial(t, url, Options{Pipelined: pipelined})
	ctx := context.Background()
	for range 3 {
		if _, err := s2.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if err := s2.Seek(ctx, 2*time.Second); err != nil {
		t.Fatal(err)
	}
	it, err := s2.Next(ctx)
	if err != nil || !bytes.Equal(it.Packet, want) {
		t.Fatalf("pipelined=%v: after Seek: %v, packet equal %v", pipelined, err, bytes.Equal(it.Packet, want))
	}
	if s2.Pipelined() != pipelined {
		t.Errorf("pipelined=%v after Seek: %v", pipelined, s2.Pipelined())
	}
	if err := s2.KeepAlive(ctx); err != nil {
		t.Errorf("KeepAlive: %v", err)
	}
}

func TestClientKeepAlivePipelined(t *testing.T) {
	src := clip(t, fixture.WMV2())
	// net/http answers "OPTIONS *" itself, before any handler: the request
	// line is checked on the wire.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &recordListener{Listener: ln}
	srv := &http.Server{Handler: &Handler{Dir: filepath.Dir(src), Unpaced: true}}
	go srv.Serve(rec)
	defer srv.Close()
	s := dial(t, "mmsh://"+ln.Addr().String()+"/"+filepath.Base(src), Options{Pipelined: true})
	if err := s.KeepAlive(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec.String(), "OPTIONS * HTTP/1.1\r\n") {
		t.Errorf("no OPTIONS * on the wire:\n%s", rec.String())
	}
}

// recordListener keeps everything its connections read.
type recordListener struct {
	net.Listener
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *recordListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordConn{Conn: c, l: l}, nil
}

func (l *recordListener) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type recordConn struct {
	net.Conn
	l *recordListener
}

func (c *recordConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.l.mu.Lock()
	c.l.buf.Write(b[:n])
	c.l.mu.Unlock()
	return n, err
}

func TestClientPlaylist(t *testing.T) {
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.AudioOnly())
	_, wa := sourcePackets(t, a)
	_, wb := sourcePackets(t, b)
	fa, err := OpenFile(a)
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := OpenFile(b)
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	h := &Handler{Unpaced: true}
	h.Add("list", Playlist{fa, fb})
	addr := serve(t, h)
	var log eventLog
	s := dial(t, "mmsh://"+addr+"/list", Options{OnEvent: log.add})
	headers, got := readAll(t, s)
	if len(headers) != 1 || len(got) != len(wa)+len(wb) {
		t.Fatalf("%d headers and %d packets, want 1 and %d", len(headers), len(got), len(wa)+len(wb))
	}
	if !bytes.Equal(got[len(wa)], wb[0]) || !bytes.Equal(got[0], wa[0]) {
		t.Error("entries' packets differ")
	}
	if hb, _ := asf.ParseHeader(headers[0]); hb == nil || len(hb.Streams) != 1 {
		t.Error("second entry header is not the audio file's")
	}
	if s.Stats().Entries != 2 || log.count(event.EntryChange) != 1 {
		t.Errorf("entries %d, entry_change events %d", s.Stats().Entries, log.count(event.EntryChange))
	}
}

func TestClientLive(t *testing.T) {
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	live := NewLiveFile(f, 8)
	h := &Handler{}
	h.Add("live", live)
	addr := serve(t, h)
	time.Sleep(200 * time.Millisecond) // join a running broadcast mid-file
	s := dial(t, "mmsh://"+addr+"/live", Options{})
	if !s.Live() || !s.Header().FileProperties.Broadcast {
		t.Fatalf("live %v, broadcast flag %v", s.Live(), s.Header().FileProperties.Broadcast)
	}
	if err := s.Seek(context.Background(), time.Second); err == nil {
		t.Error("Seek in a broadcast succeeded")
	}
	// Read across two loop boundaries: times keep growing.
	total := int(f.ASF().PacketCount)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var p asf.Packet
	var first, last uint32
	for i := range 2*total + 5 {
		it, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next %d: %v", i, err)
		}
		if err := p.Unmarshal(it.Packet); err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		if i == 0 {
			first = p.SendTime
		} else if p.SendTime+100 < last { // payload interleaving allows small steps back
			t.Fatalf("packet %d: send time %d after %d", i, p.SendTime, last)
		}
		last = p.SendTime
	}
	if first == 0 {
		t.Error("joined at send time 0, want mid-file")
	}
	if last < 2000 {
		t.Errorf("after two loops the send time is %d ms", last)
	}
}

func TestClientContextCancel(t *testing.T) {
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := &Handler{Rate: 0.05} // very slow: Next blocks
	h.Add("slow", f)
	addr := serve(t, h)
	s := dial(t, "mmsh://"+addr+"/slow", Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := s.Next(ctx); err != nil {
				done <- err
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Next after cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Next did not return after cancel")
	}
}

func TestClientAuth(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	for _, scheme := range []string{auth.SchemeBasic, auth.SchemeNTLM} {
		t.Run(scheme, func(t *testing.T) {
			h := &Handler{Dir: filepath.Dir(src), Unpaced: true,
				Auth: &auth.Server{Scheme: scheme, Lookup: auth.SingleUser("alice", "s3cret")}}
			addr := serve(t, h)
			url := "mmsh://" + addr + "/" + filepath.Base(src)
			ctx := context.Background()
			if _, err := Dial(ctx, url, Options{}); !errors.Is(err, ErrAuth) {
				t.Errorf("without credentials: %v", err)
			}
			if _, err := Dial(ctx, url, Options{Username: "alice", Password: "wrong"}); !errors.Is(err, ErrAuth) {
				t.Errorf("wrong password: %v", err)
			}
			for _, pipelined := range []bool{false, true} {
				var log eventLog
				s := dial(t, "mmsh://alice:s3cret@"+addr+"/"+filepath.Base(src), Options{OnEvent: log.add, Pipelined: pipelined})
				_, got := readAll(t, s)
				if len(got) == 0 || s.Stats().AuthScheme == "" || log.count(event.Auth) == 0 {
					t.Errorf("%d packets, scheme %q", len(got), s.Stats().AuthScheme)
				}
				if err := s.KeepAlive(ctx); err != nil {
					t.Errorf("KeepAlive (pipelined %v) with %s: %v", pipelined, scheme, err)
				}
			}
		})
	}
}

func TestClientRedirect(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	target := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true})
	redir := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://"+target+"/"+filepath.Base(src), http.StatusFound)
	}))
	var log eventLog
	var dialed []string
	var mu sync.Mutex
	s := dial(t, "mmsh://"+redir+"/moved", Options{OnEvent: log.add,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			dialed = append(dialed, addr)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}})
	if _, got := readAll(t, s); len(got) == 0 {
		t.Error("no packets after redirect")
	}
	mu.Lock()
	if !slices.Contains(dialed, redir) || !slices.Contains(dialed, target) {
		t.Errorf("DialContext saw %v, want both %s and %s", dialed, redir, target)
	}
	mu.Unlock()
	if st := s.Stats(); len(st.Redirects) != 1 || log.count(event.Redirect) != 1 {
		t.Errorf("redirects %v", st.Redirects)
	}
	veto := errors.New("not on the allow-list")
	_, err := Dial(context.Background(), "mmsh://"+redir+"/moved", Options{MaxRedirects: -1})
	if !errors.Is(err, ErrRedirects) {
		t.Errorf("MaxRedirects -1: %v", err)
	}
	calls := 0
	_, err = Dial(context.Background(), "mmsh://"+redir+"/moved", Options{AllowHost: func(string) error {
		if calls++; calls > 1 {
			return veto
		}
		return nil
	}})
	if !errors.Is(err, veto) || !errors.Is(err, ErrRedirects) {
		t.Errorf("vetoed hop: %v", err)
	}
}
