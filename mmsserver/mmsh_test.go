package mmsserver

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsh"
)

// serveHTTP serves srv's MMSH side on a loopback port until the end of the
// test (before srv's own cleanup, so call serve first).
func serveHTTP(t *testing.T, srv *Server) string {
	t.Helper()
	ts := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// filePackets reads every data packet of an ASF file, full size.
func filePackets(t *testing.T, path string) [][]byte {
	t.Helper()
	_, out := fixture.Packets(t, path)
	return out
}

func mmshDial(t *testing.T, url string, o mmsh.Options) *mmsh.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := mmsh.Dial(context.WithoutCancel(ctx), url, o) // the session outlives the dial timeout
	if err != nil {
		t.Fatalf("mmsh.Dial %s: %v", url, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// readToEnd reads a session to io.EOF: entry headers after the first, and
// packets.
func readToEnd(t *testing.T, s *mmsh.Session) (headers, packets [][]byte) {
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

func equalPackets(t *testing.T, want, got [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("packet %d differs", i)
		}
	}
}

func shortClip(t *testing.T, spec fixture.Spec, dir, name string) string {
	t.Helper()
	spec.Duration = 3 * time.Second
	p := filepath.Join(dir, name)
	copyFile(t, clip(t, spec), p)
	return p
}

// TestMMSHFFmpeg is the acceptance test of the MMSH side with FFmpeg:
// `ffmpeg -i mmsh://... -c copy -f asf` records every packet it records
// from the file itself, for a video and an audio-only file.
func TestMMSHFFmpeg(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	files := map[string]string{
		"clip.wmv":  shortClip(t, fixture.WMV2(), dir, "clip.wmv"),
		"audio.wma": shortClip(t, fixture.AudioOnly(), dir, "audio.wma"),
	}
	srv := &Server{Dir: dir, Rate: 8}
	serve(t, srv)
	addr := serveHTTP(t, srv)
	for name, src := range files {
		t.Run(name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.asf")
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			b, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
				"-i", "mmsh://"+addr+"/"+name, "-c", "copy", "-map", "0", "-f", "asf", out).CombinedOutput()
			if err != nil {
				t.Fatalf("ffmpeg: %v\n%s", err, b)
			}
			samePackets(t, packets(t, remux(t, src)), packets(t, out))
		})
	}
}

// TestMMSHVLC: VLC's mmsh access dumps every packet of the file.
func TestMMSHVLC(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	src := shortClip(t, fixture.WMV2(), dir, "clip.wmv")
	srv := &Server{Dir: dir, Rate: 4}
	serve(t, srv)
	addr := serveHTTP(t, srv)
	samePackets(t, packets(t, src), packets(t, vlcDump(t, "mmsh://"+addr+"/clip.wmv")))
}

// TestMMSHClient plays the server's file, playlist, seek, redirect and
// authentication with our MMSH client, every packet byte-equal.
func TestMMSHClient(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	video := shortClip(t, fixture.WMV2(), dir, "clip.wmv")
	audio := shortClip(t, fixture.AudioOnly(), dir, "audio.wma")
	wv, wa := filePackets(t, video), filePackets(t, audio)
	var mu sync.Mutex
	var events []event.Event
	srv := &Server{Dir: dir, Unpaced: true, OnEvent: func(e event.Event) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	}}
	if err := srv.AddPlaylist("list", video, audio); err != nil {
		t.Fatal(err)
	}
	mmsAddr := serve(t, srv)
	srv.Redirects = map[string]string{"old.wmv": "mms://" + mmsAddr + "/clip.wmv"}
	addr := serveHTTP(t, srv)
	base := "mmsh://" + addr + "/"

	t.Run("file", func(t *testing.T) {
		s := mmshDial(t, base+"clip.wmv", mmsh.Options{})
		if s.Live() {
			t.Error("file announced as live")
		}
		headers, got := readToEnd(t, s)
		if len(headers) != 0 {
			t.Errorf("%d entry changes in a file", len(headers))
		}
		equalPackets(t, wv, got)
		s.Close()
		// play and session_end events, as for MMS sessions
		deadline := time.Now().Add(10 * time.Second)
		for {
			mu.Lock()
			var kinds []string
			for _, e := range events {
				if e.Fields["transport"] == "http" && e.Fields["path"] == "clip.wmv" {
					kinds = append(kinds, string(e.Kind))
				}
			}
			mu.Unlock()
			if slices.Equal(kinds, []string{"play", "session_end"}) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("events %v, want play and session_end", kinds)
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("not found", func(t *testing.T) {
		for _, p := range []string{"nothing.wmv", "../etc/passwd", "notes.txt"} {
			if _, err := mmsh.Dial(context.Background(), base+p, mmsh.Options{}); !errors.Is(err, mmsh.ErrNotFound) {
				t.Errorf("%s: %v, want ErrNotFound", p, err)
			}
		}
	})
	t.Run("playlist", func(t *testing.T) {
		s := mmshDial(t, base+"list", mmsh.Options{})
		headers, got := readToEnd(t, s)
		if len(headers) != 1 {
			t.Fatalf("%d entry changes, want 1", len(headers))
		}
		if h, err := asf.ParseHeader(headers[0]); err != nil || len(h.Streams) != 1 {
			t.Errorf("second entry's header is not the audio file's: %v", err)
		}
		equalPackets(t, append(append([][]byte(nil), wv...), wa...), got)
		if st := s.Stats(); st.Entries != 2 {
			t.Errorf("Entries %d, want 2", st.Entries)
		}
	})
	t.Run("seek", func(t *testing.T) {
		s := mmshDial(t, base+"clip.wmv", mmsh.Options{Start: 1500 * time.Millisecond})
		_, got := readToEnd(t, s)
		if len(got) == 0 || len(got) >= len(wv) {
			t.Fatalf("start at 1.5 s: %d packets of %d", len(got), len(wv))
		}
		equalPackets(t, wv[len(wv)-len(got):], got)
		// Seek back to the start while playing.
		s2 := mmshDial(t, base+"clip.wmv", mmsh.Options{Start: 1500 * time.Millisecond})
		ctx := context.Background()
		if _, err := s2.Next(ctx); err != nil {
			t.Fatal(err)
		}
		if err := s2.Seek(ctx, 0); err != nil {
			t.Fatal(err)
		}
		_, got = readToEnd(t, s2)
		equalPackets(t, wv, got)
	})
	t.Run("redirect", func(t *testing.T) {
		// An mms:// redirect to this server's own MMS port becomes an HTTP
		// redirect to its MMSH side.
		s := mmshDial(t, base+"old.wmv", mmsh.Options{})
		_, got := readToEnd(t, s)
		equalPackets(t, wv, got)
		if r := s.Stats().Redirects; len(r) != 1 || r[0] != "http://"+addr+"/clip.wmv" {
			t.Errorf("redirects %v", r)
		}
	})
}

// TestMMSHAuth: the MMSH side asks for the MMS side's credentials, with
// Basic and NTLM.
func TestMMSHAuth(t *testing.T) {
	dir := t.TempDir()
	audio := shortClip(t, fixture.AudioOnly(), dir, "audio.wma")
	want := filePackets(t, audio)
	for _, scheme := range []string{"basic", "ntlm"} {
		t.Run(scheme, func(t *testing.T) {
			srv := &Server{Dir: dir, Unpaced: true, Auth: &Auth{Scheme: scheme, Username: "alice", Password: "s3cret"}}
			serve(t, srv)
			url := "mmsh://" + serveHTTP(t, srv) + "/audio.wma"
			ctx := context.Background()
			for _, o := range []mmsh.Options{{}, {Username: "alice", Password: "wrong"}} {
				if s, err := mmsh.Dial(ctx, url, o); !errors.Is(err, mmsh.ErrAuth) {
					if s != nil {
						s.Close()
					}
					t.Errorf("credentials %q/%q: %v, want ErrAuth", o.Username, o.Password, err)
				}
			}
			s := mmshDial(t, url, mmsh.Options{Username: "alice", Password: "s3cret"})
			_, got := readToEnd(t, s)
			equalPackets(t, want, got)
			if st := s.Stats(); st.AuthScheme == "" {
				t.Error("no auth scheme in stats")
			}
		})
	}
}

// TestMMSHLive: an MMSH viewer is one more subscriber of the broadcast MMS
// viewers get, joins it mid-stream and gets its packets byte for byte,
// across the loop point.
func TestMMSHLive(t *testing.T) {
	checkGoroutines(t)
	spec := fixture.WMV2()
	spec.Duration = 3 * time.Second
	spec.GOP = 25
	src := clip(t, spec)
	srv := &Server{Rate: 8}
	if err := srv.AddLive("live", src); err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	addr := serveHTTP(t, srv)
	b := srv.lives["live"]
	// A subscriber standing for an MMS viewer, before the MMSH one joins.
	other := b.subscribe()
	defer b.unsubscribe(other)
	time.Sleep(300 * time.Millisecond) // join mid-file
	s := mmshDial(t, "mmsh://"+addr+"/live", mmsh.Options{})
	if !s.Live() || !s.Header().FileProperties.Broadcast {
		t.Fatalf("live %v, broadcast flag %v", s.Live(), s.Header().FileProperties.Broadcast)
	}
	if subs := subscribers(b); subs != 2 {
		t.Errorf("%d subscribers of the broadcast, want 2 (the MMS stand-in and the MMSH viewer)", subs)
	}
	total := len(filePackets(t, src))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var got [][]byte
	for len(got) < total+20 { // past the loop point
		it, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d packets: %v", len(got), err)
		}
		if it.Packet != nil {
			got = append(got, it.Packet)
		}
	}
	// The MMS stand-in saw the same packets: find the viewer's first one.
	var p asf.Packet
	if err := p.Unmarshal(got[0]); err != nil || p.SendTime == 0 {
		t.Errorf("first packet: send time %d, %v; want a mid-file join", p.SendTime, err)
	}
	var seen [][]byte
	for i := 0; len(seen) < len(got); i++ {
		select {
		case lp, ok := <-other.ch:
			if !ok {
				t.Fatal("broadcast ended")
			}
			if len(seen) > 0 || bytes.Equal(lp.data, got[0]) {
				seen = append(seen, lp.data)
			}
		case <-ctx.Done():
			t.Fatal("timeout reading the broadcast")
		}
	}
	equalPackets(t, seen, got)
	s.Close()
	deadline := time.Now().Add(10 * time.Second)
	for subscribers(b) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers after the MMSH viewer left, want 1", subscribers(b))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func subscribers(b *broadcast) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

// TestMMSHShutdown: Shutdown ends MMSH plays too.
func TestMMSHShutdown(t *testing.T) {
	dir := t.TempDir()
	total := len(filePackets(t, shortClip(t, fixture.WMV2(), dir, "clip.wmv")))
	srv := &Server{Dir: dir} // real time, no fast start: 3 s to play
	serve(t, srv)
	s := mmshDial(t, "mmsh://"+serveHTTP(t, srv)+"/clip.wmv", mmsh.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for n := 1; ; n++ {
		_, err := s.Next(ctx)
		if errors.Is(err, context.DeadlineExceeded) {
			t.Fatal("play still running 30 s after Shutdown")
		}
		if err != nil {
			if n >= total {
				t.Errorf("the play ran to its end (%d items, %v) after Shutdown", n, err)
			}
			return
		}
	}
}

// TestMMSHPaced: at Rate 4 without fast start, a 3 s clip takes at least
// about 3/4 s; unpaced, the same play is not held back (no upper bound is
// asserted: the machine may be loaded).
func TestMMSHPaced(t *testing.T) {
	dir := t.TempDir()
	src := shortClip(t, fixture.WMV2(), dir, "clip.wmv")
	want := filePackets(t, src)
	srv := &Server{Dir: dir, Rate: 4}
	serve(t, srv)
	s := mmshDial(t, "mmsh://"+serveHTTP(t, srv)+"/clip.wmv", mmsh.Options{})
	start := time.Now()
	_, got := readToEnd(t, s)
	if el := time.Since(start); el < 600*time.Millisecond {
		t.Errorf("3 s clip at rate 4 played in %v: not paced", el)
	}
	equalPackets(t, want, got)
}

// TestMMSHPlaylistPlayers: FFmpeg and VLC record both entries of a server
// playlist over MMSH, every media packet intact. Timestamps restart at the
// entry change, so FFmpeg's muxer may interleave differently: packets are
// compared without their pts, in any order.
func TestMMSHPlaylistPlayers(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	a := shortClip(t, fixture.WMV2(), dir, "a.wmv")
	spec := fixture.WMV2()
	spec.Duration = 2 * time.Second
	b := filepath.Join(dir, "b.wmv")
	copyFile(t, clip(t, spec), b)
	srv := &Server{Rate: 8}
	if err := srv.AddPlaylist("show", a, b); err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	url := "mmsh://" + serveHTTP(t, srv) + "/show"
	want := unordered(append(packets(t, a), packets(t, b)...))
	t.Run("ffmpeg", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.asf")
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		if b, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
			"-i", url, "-c", "copy", "-map", "0", "-f", "asf", out).CombinedOutput(); err != nil {
			t.Fatalf("ffmpeg: %v\n%s", err, b)
		}
		samePackets(t, want, unordered(packets(t, out)))
	})
	t.Run("vlc", func(t *testing.T) {
		samePackets(t, want, unordered(packets(t, vlcDump(t, url))))
	})
}

// unordered drops the pts column of packets lines and sorts them.
func unordered(lines []string) []string {
	out := make([]string, len(lines))
	for i, l := range lines {
		f := strings.Split(l, ",") // packet,stream,pts,hash
		if len(f) == 4 {
			f = append(f[:2], f[3])
		}
		out[i] = strings.Join(f, ",")
	}
	slices.Sort(out)
	return out
}

// TestHTTPLocation: redirect targets become URLs an HTTP client follows.
func TestHTTPLocation(t *testing.T) {
	srv := &Server{}
	srv.init()
	r := httptest.NewRequest("GET", "http://127.0.0.1:8081/old.wmv", nil)
	for to, want := range map[string]string{
		"mms://example.net:1755/new.wmv":  "http://example.net/new.wmv", // MMSH on port 80 of an MMS host
		"mmst://example.net/a/b.wmv?x=1":  "http://example.net/a/b.wmv?x=1",
		"mmsh://example.net:8080/new.wmv": "http://example.net:8080/new.wmv",
		"mms://[::1]:1755/new.wmv":        "http://[::1]/new.wmv",
		"http://example.net/new.asx":      "http://example.net/new.asx",
		"new.wmv":                         "new.wmv", // relative: http.Redirect resolves it
	} {
		if got := srv.httpLocation(to, r); got != want {
			t.Errorf("%s: %s, want %s", to, got, want)
		}
	}
}

// TestMMSHFFmpegLive: FFmpeg records mmsd's live broadcast over MMSH,
// bounded with -t (FFmpeg does not end a broadcast by itself), from a key
// frame and without decoding errors across the loop point.
func TestMMSHFFmpegLive(t *testing.T) {
	checkGoroutines(t)
	spec := fixture.WMV2()
	spec.Duration = 3 * time.Second
	spec.GOP = 25
	srv := &Server{Rate: 4}
	if err := srv.AddLive("live", clip(t, spec)); err != nil {
		t.Fatal(err)
	}
	serve(t, srv)
	addr := serveHTTP(t, srv)
	time.Sleep(500 * time.Millisecond) // join mid-stream
	out := filepath.Join(t.TempDir(), "out.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	if b, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/live", "-t", "5", "-c", "copy", "-map", "0", "-f", "asf", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=flags",
		"-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 100 || !strings.HasPrefix(lines[0], "K") {
		t.Fatalf("recording has %d video packets, first flags %q", len(lines), lines[0])
	}
	dec, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(dec))) > 0 {
		t.Fatalf("decoding the recording: %v\n%s", err, dec)
	}
}
