package mmsh

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

const mbrAudio, mbrLow, mbrHigh = 1, 2, 3

// mbrDir serves the multi-bit-rate fixture (audio 1, video 2 at 150
// kbit/s, video 3 at 400 kbit/s) from a temporary directory.
func mbrDir(t *testing.T) string {
	t.Helper()
	p, err := fixture.GenerateMultiBitrate(t.Context(), fixture.CacheDir(), fixture.MultiBitrate{Duration: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "mbr.wmv"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// streamsOf lists the streams of a packet's payloads in order, with
// whether each starts a key frame.
type plInfo struct {
	stream uint8
	key    bool
}

func payloadsOf(t *testing.T, b []byte) []plInfo {
	t.Helper()
	var p asf.Packet
	if err := p.Unmarshal(b); err != nil {
		t.Fatalf("packet from Next: %v", err)
	}
	var out []plInfo
	for _, pl := range p.Payloads {
		out = append(out, plInfo{pl.StreamNumber, pl.KeyFrame && (pl.Compressed || pl.OffsetIntoMediaObject == 0)})
	}
	return out
}

func (l *eventLog) find(kind, text string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.ev {
		if string(e.Kind) == kind && strings.Contains(e.Message, text) {
			return true
		}
	}
	return false
}

// TestSwitchStreams: while playing, the client switches from the low to
// the high video stream (3.1.4.4, 3.2.5.7), in both modes: the high
// stream starts at a key frame, the low one stops after it, Stats and
// events show the new selection; a stream the header lacks is refused
// and the session plays on.
func TestSwitchStreams(t *testing.T) {
	dir := mbrDir(t)
	addr := serve(t, &Handler{Dir: dir, Rate: 2})
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			var evs eventLog
			s, err := Dial(ctx, "mmsh://"+addr+"/mbr.wmv", Options{Streams: []uint16{mbrAudio, mbrLow}, Pipelined: pipelined, OnEvent: evs.add})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if want := map[bool]string{false: "non-pipelined", true: "pipelined"}[pipelined]; s.Stats().Mode != want {
				t.Fatalf("mode %q, want %q", s.Stats().Mode, want)
			}
			for range 5 {
				it, err := s.Next(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for _, pl := range payloadsOf(t, it.Packet) {
					if pl.stream == mbrHigh {
						t.Fatal("high stream before the switch")
					}
				}
			}
			err = s.SwitchStreams(ctx, []uint16{mbrAudio, 9})
			if err == nil || !strings.Contains(err.Error(), "9") {
				t.Fatalf("switch to a stream the header lacks: %v", err)
			}
			if err := s.SwitchStreams(ctx, []uint16{mbrAudio, mbrHigh}); err != nil {
				t.Fatal(err)
			}
			if st := s.Stats().Streams; !slices.Equal(st, []uint16{mbrAudio, mbrHigh}) {
				t.Fatalf("Stats().Streams = %v after the switch", st)
			}
			if !evs.find(string(event.Streams), "switched to streams [1 3]") {
				t.Error("no streams event for the switch")
			}
			highStarted, lowAfter, audio := false, 0, 0
			for {
				it, err := s.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				for _, pl := range payloadsOf(t, it.Packet) {
					switch pl.stream {
					case mbrHigh:
						if !highStarted && !pl.key {
							t.Fatal("high stream starts with a payload that is not a key frame's start")
						}
						highStarted = true
					case mbrLow:
						if highStarted {
							lowAfter++
						}
					case mbrAudio:
						audio++
					}
				}
			}
			if !highStarted {
				t.Fatal("high stream never started")
			}
			if lowAfter > 0 {
				t.Fatalf("%d low-stream payloads after the high stream started", lowAfter)
			}
			if audio == 0 {
				t.Fatal("audio stopped")
			}
		})
	}
}

// TestStopOtherConnection: a Stop request on a connection of its own
// (2.2.2.10, 3.2.5.10) ends the play of its client-id on the other
// connection with $E: the client sees the end of the stream long before
// the content's end (played as a quarter of real time).
func TestStopOtherConnection(t *testing.T) {
	dir := mbrDir(t)
	// A quarter of real time: the 4 s of content would last 16 s.
	addr := serve(t, &Handler{Dir: dir, Rate: 0.25, FastStart: 100 * time.Millisecond})
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
			defer cancel()
			s, err := Dial(ctx, "mmsh://"+addr+"/mbr.wmv", Options{Pipelined: pipelined})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for range 3 {
				if _, err := s.Next(ctx); err != nil {
					t.Fatal(err)
				}
			}
			code := post(t, addr, fmt.Sprintf("no-cache, client-id=%d, xStopStrm=1", s.ClientID()))
			if code != http.StatusOK {
				t.Fatalf("Stop: %d", code)
			}
			for {
				_, err := s.Next(ctx)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("after Stop: %v", err)
				}
			}
			if p := s.Stats().Played; p > 3*time.Second {
				t.Fatalf("%v of 4 s played: the play was not stopped", p)
			}
			if r := s.Stats().EndReason; r != "end of stream" {
				t.Fatalf("end reason %q", r)
			}
		})
	}
}

// post sends a POST with the Pragma values on a new connection and
// returns the status.
func post(t *testing.T, addr string, pragma ...string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "http://"+addr+"/mbr.wmv", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("User-Agent", "NSPlayer/12.0.7601.17514")
	for _, p := range pragma {
		req.Header.Add("Pragma", p)
	}
	req.Close = true
	c := &http.Client{Timeout: 30 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSelectStreamHostile: SelectStream and Stop requests that name no
// session or no stream get 4xx, and the server goes on serving.
func TestSelectStreamHostile(t *testing.T) {
	dir := mbrDir(t)
	addr := serve(t, &Handler{Dir: dir})
	many := make([]string, 200)
	for i := range many {
		many[i] = fmt.Sprintf("ffff:%x:0", i%127+1)
	}
	for _, tc := range []struct {
		name   string
		pragma []string
		want   int
	}{
		{"unknown client-id", []string{"no-cache, client-id=12345, stream-switch-count=1", "stream-switch-entry=ffff:1:0"}, http.StatusNotFound},
		{"no client-id", []string{"no-cache, stream-switch-count=1", "stream-switch-entry=ffff:1:0"}, http.StatusNotFound},
		{"garbage entries", []string{"no-cache, client-id=12345, stream-switch-count=2", "stream-switch-entry=zz:yy:0 ffff::9 1:2"}, http.StatusBadRequest},
		{"count without entries", []string{"no-cache, client-id=12345, stream-switch-count=3"}, http.StatusBadRequest},
		{"stream 0", []string{"no-cache, client-id=12345, stream-switch-count=1", "stream-switch-entry=ffff:0:0"}, http.StatusBadRequest},
		{"stream 200", []string{"no-cache, client-id=12345, stream-switch-count=1", "stream-switch-entry=ffff:c8:0"}, http.StatusBadRequest},
		{"too many entries", []string{"no-cache, client-id=12345, stream-switch-count=200", "stream-switch-entry=" + strings.Join(many, " ")}, http.StatusBadRequest},
		{"Stop unknown client-id", []string{"no-cache, client-id=12345, xStopStrm=1"}, http.StatusNotFound},
		{"Stop without client-id", []string{"no-cache, xStopStrm=1"}, http.StatusNotFound},
	} {
		if got := post(t, addr, tc.pragma...); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	s, err := Dial(ctx, "mmsh://"+addr+"/mbr.wmv", Options{})
	if err != nil {
		t.Fatalf("the server after hostile requests: %v", err)
	}
	s.Close()
}

// TestSwitchStreamsAtEntryChange: a pipelined SelectStream that crosses
// a playlist entry change (the server, unpaced, already waits for
// PlayNextEntry) is answered at once; the play goes on through the next
// entry to the end.
func TestSwitchStreamsAtEntryChange(t *testing.T) {
	dir := mbrDir(t)
	open := func() *File {
		f, err := OpenFile(filepath.Join(dir, "mbr.wmv"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	h := &Handler{Unpaced: true}
	src := &entrySignal{Playlist: Playlist{open(), open()}, second: make(chan struct{})}
	h.Add("list", src)
	addr := serve(t, h)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	s, err := Dial(ctx, "mmsh://"+addr+"/list", Options{Streams: []uint16{mbrAudio, mbrLow}, Pipelined: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Pipelined() {
		t.Fatal("not pipelined")
	}
	if _, err := s.Next(ctx); err != nil {
		t.Fatal(err)
	}
	select { // the server is at the entry change: SelectStream crosses it
	case <-src.second:
	case <-ctx.Done():
		t.Fatal("the second entry never started")
	}
	if err := s.SwitchStreams(ctx, []uint16{mbrAudio, mbrHigh}); err != nil {
		t.Fatal(err)
	}
	headers, packets := 0, 0
	perStream := map[uint8]int{} // payloads of the second entry
	for {
		it, err := s.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d packets: %v", packets, err)
		}
		if it.Header != nil {
			headers++
			// Before PlayNextEntry: the selection it will carry (3.1.4.5).
			if err := s.SwitchStreams(ctx, []uint16{mbrAudio, mbrHigh}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		packets++
		if headers == 1 {
			for _, pl := range payloadsOf(t, it.Packet) {
				perStream[pl.stream]++
			}
		}
	}
	if headers != 1 || packets < 20 || s.Stats().Entries != 2 {
		t.Fatalf("%d headers, %d packets, %d entries", headers, packets, s.Stats().Entries)
	}
	if perStream[mbrLow] != 0 || perStream[mbrHigh] == 0 || perStream[mbrAudio] == 0 {
		t.Fatalf("second entry's payloads by stream: %v, want audio and high video only", perStream)
	}
	if st := s.Stats().Streams; !slices.Equal(st, []uint16{mbrAudio, mbrHigh}) {
		t.Fatalf("Stats().Streams = %v", st)
	}
}

// entrySignal is a playlist that closes second when its cursor gives the
// second entry's header to the Handler.
type entrySignal struct {
	Playlist
	second chan struct{}
	once   sync.Once
}

func (e *entrySignal) Play(ctx context.Context, start time.Duration) (Cursor, error) {
	c, err := e.Playlist.Play(ctx, start)
	return &entrySignalCursor{Cursor: c, e: e}, err
}

type entrySignalCursor struct {
	Cursor
	e       *entrySignal
	entries int
}

func (c *entrySignalCursor) Next(ctx context.Context) (SourceItem, error) {
	it, err := c.Cursor.Next(ctx)
	if it.Entry != nil {
		if c.entries++; c.entries == 2 {
			c.e.once.Do(func() { close(c.e.second) })
		}
	}
	return it, err
}
