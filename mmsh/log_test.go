package mmsh

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

func sampleLog() mmsproto.ClientLog {
	return mmsproto.ClientLog{
		Info: mmsproto.ClientLogInfo{
			URL: "http://example.com/dir/clip.wmv?a=b", UserAgent: "NSPlayer/12.0.7601.17514 mmsgate",
			ClientVersion: clientVersion, Lang: "en-US", UniquePID: "{3300AD50-2C39-46C0-AE0A-2A7D2B1E9B3F}",
			HostExe: "mmsgate", HostExeVer: clientVersion, FileDuration: 61_400, FileSize: 1_234_567,
			AvgBandwidthBps: 310_000, AudioCodec: "Windows Media Audio 2", VideoCodec: "WMV2",
			StartTime: 2000, Played: 12_600, Rate: 1, BufferingCount: 2, BufferingTime: 3000,
			BytesReceived: 987_654, PacketsReceived: 321, PacketsLostClient: 1, MinReceptionQuality: 97,
		},
		IPAddress: 0xC0A80102, ComputerDNS: "-", OS: "linux", CPU: "amd64", Proto: "http", Transport: "TCP",
		PacketsLostNet: 3, PacketsLostContNet: 2, ResendRequests: 4, PacketsRecoveredResent: 1,
	}
}

// A log-line has the 40 legacy fields, as w3c-tokens (VCHAR, no Pragma
// separators), and parses back to the same figures (times in whole
// seconds).
func TestLogLineRoundTrip(t *testing.T) {
	l := sampleLog()
	l.Info.ChannelURL = `http://x/a b,"c"` + "\x01é"
	at := time.Date(2026, 11, 26, 5, 30, 15, 0, time.UTC)
	line := string(AppendLogLine(nil, &l, at))
	f := strings.Split(line, " ")
	if len(f) != len(logFields) {
		t.Fatalf("%d fields, want %d: %q", len(f), len(logFields), line)
	}
	for i := 0; i < len(line); i++ {
		if c := line[i]; c != ' ' && (c < 0x21 || c > 0x7E || c == ',' || c == '"') {
			t.Fatalf("byte %#x at %d in %q", c, i, line)
		}
	}
	for i, want := range map[int]string{0: "192.168.1.2", 1: "2026-11-26", 2: "05:30:15", 5: "2", 6: "13", 8: "200",
		10: "12.0.7601.17514", 12: "NSPlayer/12.0.7601.17514_mmsgate", 19: "61", 22: "http", 23: "TCP",
		24: "Windows_Media_Audio_2", 26: "http://x/a_b%2C%22c%22%01%C3%A9", 27: "-", 29: "-", 30: "321", 39: "97"} {
		if f[i] != want {
			t.Errorf("%s = %q, want %q", logFields[i], f[i], want)
		}
	}
	got, err := ParseLogLine(line)
	if err != nil {
		t.Fatal(err)
	}
	want := l
	want.Info.StartTime, want.Info.Played, want.Info.FileDuration, want.Info.BufferingTime = 2000, 13000, 61000, 3000
	want.Info.UserAgent, want.Info.AudioCodec = "NSPlayer/12.0.7601.17514_mmsgate", "Windows_Media_Audio_2"
	want.Info.ChannelURL, want.ComputerDNS = f[26], ""
	want.PacketsResent = 0 // no legacy field
	if got != want {
		t.Errorf("round trip:\n got %+v\nwant %+v", got, want)
	}
	l.Info.HR = 0x80004005
	l.IPAddress = 0xFFFFFFFF
	line = string(AppendLogLine(nil, &l, at))
	if got, err := ParseLogLine(line); err != nil || got.Info.HR == 0 || got.IPAddress != 0xFFFFFFFF || !strings.HasPrefix(line, "- ") {
		t.Errorf("failed play: %v, %+v from %q", err, got, line)
	}
}

func TestParseLogLineRejects(t *testing.T) {
	good := string(AppendLogLine(nil, &mmsproto.ClientLog{}, time.Now()))
	f := strings.Fields(good)
	for name, line := range map[string]string{
		"empty":        "",
		"garbage":      "hello world",
		"few fields":   strings.Join(f[:30], " "),
		"many fields":  good + strings.Repeat(" x", maxLogFields),
		"too long":     good + " " + strings.Repeat("x", MaxLogLine),
		"packets":      strings.Join(append(append([]string{}, f[:30]...), append([]string{"many"}, f[31:]...)...), " "),
		"duration nan": strings.Join(append(append([]string{}, f[:6]...), append([]string{"NaN"}, f[7:]...)...), " "),
		"huge seconds": strings.Join(append(append([]string{}, f[:6]...), append([]string{"1e30"}, f[7:]...)...), " "),
		"version":      strings.Join(append(append([]string{}, f[:10]...), append([]string{"1.2.3.4.5"}, f[11:]...)...), " "),
	} {
		if _, err := ParseLogLine(line); err == nil {
			t.Errorf("%s: accepted %.80q", name, line)
		}
	}
	// The fields up to c-pkts-received suffice; more are allowed.
	if l, err := ParseLogLine(strings.Join(f[:31], " ")); err != nil || l.Info.MinReceptionQuality != 0 {
		t.Errorf("short line: %v", err)
	}
	if _, err := ParseLogLine(good + " 10.0.0.1 server 12 5"); err != nil {
		t.Errorf("line with server fields: %v", err)
	}
}

// logSink collects what Handler.OnLog receives.
type logSink struct {
	mu   sync.Mutex
	logs []ClientLog
}

func (l *logSink) add(c ClientLog) {
	l.mu.Lock()
	l.logs = append(l.logs, c)
	l.mu.Unlock()
}

func (l *logSink) get() []ClientLog {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]ClientLog(nil), l.logs...)
}

// okLogs counts the client_log events that report success.
func okLogs(l *eventLog) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.ev {
		if e.Kind == event.ClientLog && e.Fields["outcome"] == "ok" {
			n++
		}
	}
	return n
}

// logServer serves h on loopback, recording what each connection read.
func logServer(t *testing.T, h *Handler) (string, *connListener) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &connListener{Listener: ln}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(rec)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), rec
}

// checkLog checks the figures of one log against what the client delivered.
func checkLog(t *testing.T, l ClientLog, s *Session, path string, packets int) {
	t.Helper()
	in := l.Log.Info
	if int(in.PacketsReceived) != packets || l.Path != path || !strings.HasSuffix(in.URL, "/"+path) ||
		l.ClientID != s.ClientID() || l.Log.Proto != "http" || l.Log.Transport != "TCP" ||
		!isGUID(in.UniquePID) || in.MinReceptionQuality != 100 || (in.BytesReceived == 0) != (packets == 0) ||
		!strings.HasPrefix(in.UserAgent, "NSPlayer/12.0") {
		t.Errorf("log %+v\nwant %d packets of %s, client-id %d", l, packets, path, s.ClientID())
	}
}

// Our client logs each play to our server (3.1.5.13, 3.2.5.11): one log
// per file, one per playlist entry, with the packets it delivered; in the
// pipelined mode on the play's connection, otherwise on a connection of
// its own that carries nothing else.
func TestClientLogsFileAndPlaylist(t *testing.T) {
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.AudioOnly())
	_, wa := sourcePackets(t, a)
	_, wb := sourcePackets(t, b)
	open := func(p string) *File {
		f, err := OpenFile(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			var sink logSink
			h := &Handler{Dir: filepath.Dir(a), Unpaced: true, OnLog: sink.add}
			h.Add("list", Playlist{open(a), open(b)})
			addr, rec := logServer(t, h)

			var ev eventLog
			s := dial(t, "mmsh://"+addr+"/"+filepath.Base(a), Options{Pipelined: pipelined, OnEvent: ev.add})
			_, got := readAll(t, s)
			logs := sink.get()
			if len(got) != len(wa) || len(logs) != 1 {
				t.Fatalf("file: %d packets (want %d), %d logs after the end", len(got), len(wa), len(logs))
			}
			checkLog(t, logs[0], s, filepath.Base(a), len(wa))
			if played := logs[0].Log.Info.Played; played < 2000 {
				t.Errorf("played %d ms", played)
			}
			s.Close() // IDLE after $E: no second log
			if n := len(sink.get()); n != 1 || s.Stats().LogsSent != 1 || okLogs(&ev) != 1 {
				t.Errorf("after Close: %d logs, %d sent, %d events", n, s.Stats().LogsSent, okLogs(&ev))
			}

			s = dial(t, "mmsh://"+addr+"/list", Options{Pipelined: pipelined})
			headers, got := readAll(t, s)
			logs = sink.get()[1:]
			if len(headers) != 1 || len(got) != len(wa)+len(wb) || len(logs) != 2 {
				t.Fatalf("playlist: %d headers, %d packets, %d logs", len(headers), len(got), len(logs))
			}
			checkLog(t, logs[0], s, "list", len(wa))
			checkLog(t, logs[1], s, "list", len(wb))
			if logs[1].Log.Info.StartTime != 0 || logs[1].Log.Info.FileDuration == 0 {
				t.Errorf("second entry: %+v", logs[1].Log.Info)
			}
			s.Close()
			if st := s.Stats(); st.LogsSent != 2 {
				t.Errorf("%d logs sent", st.LogsSent)
			}
			if r, bad := h.LogCounts(); r != 3 || bad != 0 {
				t.Errorf("LogCounts %d, %d", r, bad)
			}
			// Where the Log requests went.
			var onPipe, alone int
			for _, r := range rec.reads() {
				n := strings.Count(r, "Pragma: log-line=")
				switch {
				case n == 0:
				case strings.Contains(r, "pipeline-request=1"):
					onPipe += n
				case n == 1 && strings.Count(r, "HTTP/1.1\r\n") == 1:
					alone++
				default:
					t.Errorf("a connection with %d Log requests:\n%.2000s", n, r)
				}
			}
			if pipelined && (onPipe != 3 || alone != 0) || !pipelined && (onPipe != 0 || alone != 3) {
				t.Errorf("Log requests: %d on pipelined connections, %d alone", onPipe, alone)
			}
		})
	}
}

// A live play stopped by Close is logged once with the packets Next
// returned: pipelined after a Stop request on the play's connection
// (3.1.4.6, 3.2.5.10), otherwise on a new connection after the play's
// closed.
func TestClientLogsLiveStop(t *testing.T) {
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			var sink logSink
			h := &Handler{OnLog: sink.add}
			h.Add("live", NewLiveFile(f, 4))
			addr, rec := logServer(t, h)
			var ev eventLog
			s := dial(t, "mmsh://"+addr+"/live", Options{Pipelined: pipelined, OnEvent: ev.add})
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			const n = 40
			for i := range n {
				if _, err := s.Next(ctx); err != nil {
					t.Fatalf("Next %d: %v", i, err)
				}
			}
			s.Close()
			logs := sink.get()
			if len(logs) != 1 || okLogs(&ev) != 1 {
				t.Fatalf("%d logs, %d client_log events ok", len(logs), okLogs(&ev))
			}
			checkLog(t, logs[0], s, "live", n)
			if in := logs[0].Log.Info; in.FileDuration != 0 || in.FileSize != 0 {
				t.Errorf("live log with a file length: %+v", in)
			}
			stops := 0
			for _, r := range rec.reads() {
				if strings.Contains(r, "xStopStrm=1") {
					stops++
					if !strings.Contains(r, "pipeline-request=1") || !strings.Contains(r, "log-line=") {
						t.Errorf("Stop not on the pipelined connection with the Log:\n%.2000s", r)
					}
				}
			}
			if stops != map[bool]int{true: 1, false: 0}[pipelined] {
				t.Errorf("%d Stop requests", stops)
			}
		})
	}
}

// A client's log failing (the server gone) is an event, not an error:
// the session ends normally.
func TestClientLogFailureIsEvent(t *testing.T) {
	src := clip(t, fixture.WMV2())
	var stopped sync.Once
	h := &Handler{Dir: filepath.Dir(src), Unpaced: true}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && strings.Contains(strings.Join(r.Header.Values("Pragma"), " "), "log-line=") {
			stopped.Do(func() { ln.Close() }) // no more connections after this one
			http.Error(w, "no logs here", http.StatusInternalServerError)
			return
		}
		h.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	var ev eventLog
	s := dial(t, "mmsh://"+ln.Addr().String()+"/"+filepath.Base(src), Options{OnEvent: ev.add})
	readAll(t, s) // fails the test on a session error
	s.Close()
	if s.Stats().LogsSent != 0 || ev.count(event.ClientLog) != 1 || okLogs(&ev) != 0 {
		t.Errorf("%d sent, %d client_log events", s.Stats().LogsSent, ev.count(event.ClientLog))
	}
}

// Hostile Log requests: answered (200 for anything that parses as HTTP
// and Pragma, 400 beyond the Pragma limits), never passed on unparsed,
// counted.
func TestHandlerHostileLogs(t *testing.T) {
	var sink logSink
	h := &Handler{OnLog: sink.add}
	addr := serve(t, h)
	post := func(pragmas []string, ctype string, body io.Reader) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/x", body)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("User-Agent", UserAgent)
		for _, p := range pragmas {
			req.Header.Add("Pragma", p)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0 // the server may close on a body it does not read: tolerated
		}
		defer resp.Body.Close()
		if b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20)); resp.StatusCode == http.StatusOK && len(b) != 0 {
			t.Errorf("Log response with a %d-byte body", len(b))
		}
		return resp.StatusCode
	}
	good := "log-line=" + string(AppendLogLine(nil, &mmsproto.ClientLog{Info: mmsproto.ClientLogInfo{PacketsReceived: 7}}, time.Now()))
	for name, c := range map[string]struct {
		pragmas []string
		ctype   string
		body    io.Reader
		code    int
	}{
		"garbage":        {[]string{"client-id=5", "log-line=%%% garbage é ~~~"}, "", nil, 200},
		"oversized line": {[]string{"log-line=" + strings.Repeat("1 ", 40_000)}, "", nil, 200},
		"commas":         {[]string{"log-line=" + strings.Repeat("a,", 2000)}, "", nil, 200},
		"xml":            {[]string{"client-id=5"}, "application/x-wms-LogStats;charset=UTF-8", strings.NewReader("<xml><c-pkts-received>3</c-pkts-received>"), 200},
		"huge body":      {[]string{good}, "", io.LimitReader(zeroReader{}, 50<<20), 200},
		"many tokens":    {[]string{strings.Repeat("a=1,", maxPragmaTokens+1) + good}, "", nil, 400},
	} {
		if code := post(c.pragmas, c.ctype, c.body); code != c.code && !(name == "huge body" && code == 0) {
			t.Errorf("%s: status %d, want %d", name, code, c.code)
		}
	}
	if n := len(sink.get()); n != 1 { // the huge body's log-line is fine
		t.Errorf("%d logs passed on, want 1", n)
	}
	if r, bad := h.LogCounts(); r != 5 || bad != 4 {
		t.Errorf("LogCounts %d received, %d unparsed; want 5, 4", r, bad)
	}
	if code := post([]string{good}, "", nil); code != 200 || len(sink.get()) != 2 || sink.get()[1].Log.Info.PacketsReceived != 7 {
		t.Errorf("a good log after the hostile ones: %d, %+v", code, sink.get())
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// On a pipelined connection a Log request behind a streaming Play
// response is answered after that response ends (Pending-Responses,
// 3.2.5.11), and passed on once.
func TestServerPipelinedLogPending(t *testing.T) {
	src := clip(t, fixture.WMV2())
	var sink logSink
	h := &Handler{Dir: filepath.Dir(src), Unpaced: true, OnLog: sink.add}
	addr := serve(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	br := bufio.NewReader(c)
	path := "/" + filepath.Base(src)
	probe := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUser-Agent: " + UserAgent + "\r\nPragma: pipeline-request=1\r\n\r\n"
	fmt.Fprint(c, probe+probe)
	for range 2 {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
	}
	line := string(AppendLogLine(nil, &mmsproto.ClientLog{Info: mmsproto.ClientLogInfo{PacketsReceived: 9}}, time.Now()))
	fmt.Fprint(c, "GET "+path+" HTTP/1.1\r\nHost: x\r\nUser-Agent: "+UserAgent+"\r\nPragma: xPlayStrm=1, version11-enabled=1\r\n\r\n"+
		"POST "+path+" HTTP/1.1\r\nHost: x\r\nUser-Agent: "+UserAgent+"\r\nContent-Length: 0\r\nPragma: client-id=1, no-cache\r\nPragma: log-line="+line+"\r\n\r\n")
	play, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := io.Copy(io.Discard, play.Body)
	if err != nil || n < 10000 {
		t.Fatalf("Play response: %d bytes, %v", n, err)
	}
	logResp, err := http.ReadResponse(br, &http.Request{Method: http.MethodPost})
	if err != nil || logResp.StatusCode != 200 || logResp.ContentLength != 0 {
		t.Fatalf("Log response %+v, %v", logResp, err)
	}
	if logs := sink.get(); len(logs) != 1 || logs[0].Log.Info.PacketsReceived != 9 || logs[0].ClientID != 1 {
		t.Errorf("logs %+v", logs)
	}
}

func BenchmarkLogLine(b *testing.B) {
	l := sampleLog()
	at := time.Now()
	line := string(AppendLogLine(nil, &l, at))
	buf := make([]byte, 0, 1024)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendLogLine(buf[:0], &l, at)
		if _, err := ParseLogLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// A server that never answers the Log request holds the client for
// min(StepTimeout, 5 s) at most, in both modes; the play still ends
// normally.
func TestClientLogStalledServer(t *testing.T) {
	src := clip(t, fixture.WMV2())
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			release := make(chan struct{})
			h := &Handler{Dir: filepath.Dir(src), Unpaced: true, OnLog: func(ClientLog) { <-release }}
			addr := serve(t, h)
			defer close(release) // before the server's cleanup waits for the handler
			var ev eventLog
			s := dial(t, "mmsh://"+addr+"/"+filepath.Base(src), Options{Pipelined: pipelined, StepTimeout: time.Second, OnEvent: ev.add})
			t0 := time.Now()
			readAll(t, s)
			if d := time.Since(t0); d > 20*time.Second {
				t.Errorf("the end took %v", d)
			}
			if ev.count(event.ClientLog) != 1 || okLogs(&ev) != 0 || s.Stats().LogsSent != 0 {
				t.Errorf("%d client_log events, %d ok", ev.count(event.ClientLog), okLogs(&ev))
			}
		})
	}
}

// failingSource plays a file and fails after n packets: the server ends
// the play with an error $E.
type failingSource struct {
	*File
	n int
}

func (s failingSource) Play(ctx context.Context, start time.Duration) (Cursor, error) {
	c, err := s.File.Play(ctx, start)
	return &failingCursor{Cursor: c, n: s.n}, err
}

type failingCursor struct {
	Cursor
	n int
}

func (c *failingCursor) Next(ctx context.Context) (SourceItem, error) {
	it, err := c.Cursor.Next(ctx)
	if it.Packet != nil {
		if c.n--; c.n < 0 {
			return SourceItem{}, fmt.Errorf("disk on fire")
		}
	}
	return it, err
}

// A play that ends with an error $E is still logged (3.1.5.13 asks for a
// Log at any $E while STREAMING), with a failed c-status.
func TestClientLogsErrorEnd(t *testing.T) {
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			var sink logSink
			h := &Handler{Unpaced: true, OnLog: sink.add}
			h.Add("bad", failingSource{File: f, n: 10})
			addr := serve(t, h)
			s := dial(t, "mmsh://"+addr+"/bad", Options{Pipelined: pipelined})
			n := 0
			for {
				it, err := s.Next(context.Background())
				if err != nil {
					if !errors.Is(err, ErrServer) {
						t.Errorf("Next: %v, want ErrServer", err)
					}
					break
				}
				if it.Packet != nil {
					n++
				}
			}
			logs := sink.get() // sent at $E, before Next returned
			s.Close()          // IDLE: nothing more to log
			if n != 10 || len(logs) != 1 || logs[0].Log.Info.HR == 0 || logs[0].Log.Info.PacketsReceived != 10 ||
				len(sink.get()) != 1 {
				t.Errorf("%d packets, logs %+v", n, sink.get())
			}
		})
	}
}

// An XML log (2.2.1.2.5) is read for the W3C line MS-WMLOG embeds in its
// Summary element; one without it is counted as unparsed. Both get the
// empty Log response.
func TestHandlerXMLLog(t *testing.T) {
	var sink logSink
	h := &Handler{OnLog: sink.add}
	addr := serve(t, h)
	l := sampleLog()
	l.Info.URL = "http://h/a?x=1&y=2"
	line := string(AppendLogLine(nil, &l, time.Now()))
	escaped := strings.ReplaceAll(line, "&", "&amp;")
	for _, body := range []string{
		`<?xml version="1.0"?><XML><SUMMARY>` + escaped + `</SUMMARY><c-ip>-</c-ip><cs(User-Agent)>NSPlayer</cs(User-Agent)></XML>`,
		`<XML><c-pkts-received>3</c-pkts-received></XML>`,
		`<XML><Summary><![CDATA[` + line + `]]></Summary>`,
	} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/dir/a", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-wms-LogStats;charset=UTF-8")
		req.Header.Set("Pragma", "client-id=77, no-cache")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != 0 {
			t.Errorf("status %d, length %d", resp.StatusCode, resp.ContentLength)
		}
	}
	logs := sink.get()
	if len(logs) != 2 || logs[0].Log.Info.URL != "http://h/a?x=1&y=2" || logs[0].Path != "dir/a" || logs[0].ClientID != 77 ||
		logs[1].Log.Info.PacketsReceived != l.Info.PacketsReceived {
		t.Errorf("logs %+v", logs)
	}
	if r, bad := h.LogCounts(); r != 3 || bad != 1 {
		t.Errorf("LogCounts %d, %d", r, bad)
	}
}

// The Streaming Log example of MS-WMLOG 3.3 (its Summary, the W3C line,
// with the line break inside "- 0" of sc-bytes and c-bytes restored)
// parses field by field as 2.2.1.4.10's legacy line does: the first 40
// fields are the same, then s-ip ... cs-url follow.
func TestParseLogLineWMLOGExample(t *testing.T) {
	const summary = "0.0.0.0 2006-05-01 21:34:01 - http://server.example.com/content.wmv 4 0 1 200 " +
		"{3300AD50-2C39-46c0-AE0A-3E0B6EFB86DC} 10.0.0.3802 en-US " +
		"Mozilla/4.0_(compatible;_MSIE_6.0;_Windows_NT_5.1)_(WMFSDK/10.0.0.3802)_WMPlayer/10.0.0.4019 " +
		"http://bar.microsoft.com iexplore.exe 6.0.2900.2180 Windows_XP 5.1.0.2600 Pentium 130 638066 - http TCP - - - " +
		"- 0 - 0 0 0 0 0 0 0 0 0 100 - - - - http://server.example.com/content.wmv - -"
	l, err := ParseLogLine(summary)
	if err != nil {
		t.Fatal(err)
	}
	in := l.Info
	if in.URL != "http://server.example.com/content.wmv" || in.StartTime != 4000 || in.Played != 0 || in.Rate != 1 || in.HR != 0 ||
		in.UniquePID != "{3300AD50-2C39-46c0-AE0A-3E0B6EFB86DC}" || in.ClientVersion != 10<<48|3802 ||
		in.HostingWebPage != "http://bar.microsoft.com" || in.HostExe != "iexplore.exe" || in.HostExeVer != 6<<48|2900<<16|2180 ||
		l.OS != "Windows_XP" || l.OSVersion != 5<<48|1<<32|2600 || l.CPU != "Pentium" || in.FileDuration != 130_000 ||
		in.FileSize != 638066 || l.Proto != "http" || l.Transport != "TCP" || in.MinReceptionQuality != 100 || l.IPAddress != 0 {
		t.Errorf("%+v", l)
	}
}

// Seek while STREAMING stops the play first (3.1.4.7, 3.1.4.6): its log
// has the packets before the Seek, the next play's log the rest.
func TestClientLogsSeek(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, want := sourcePackets(t, src)
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			var sink logSink
			addr := serve(t, &Handler{Dir: filepath.Dir(src), Unpaced: true, OnLog: sink.add})
			s := dial(t, "mmsh://"+addr+"/"+filepath.Base(src), Options{Pipelined: pipelined})
			ctx := context.Background()
			for i := range 10 {
				if _, err := s.Next(ctx); err != nil {
					t.Fatalf("Next %d: %v", i, err)
				}
			}
			if err := s.Seek(ctx, 0); err != nil {
				t.Fatal(err)
			}
			if n := len(sink.get()); n != 1 {
				t.Fatalf("%d logs after Seek, want 1", n)
			}
			_, got := readAll(t, s)
			logs := sink.get()
			if len(got) != len(want) || len(logs) != 2 || logs[0].Log.Info.PacketsReceived != 10 ||
				int(logs[1].Log.Info.PacketsReceived) != len(want) {
				t.Errorf("%d packets; logs %+v", len(got), logs)
			}
		})
	}
}
