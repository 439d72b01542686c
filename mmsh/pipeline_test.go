package mmsh

import (
	"bufio"
	"bytes"
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
)

// connListener keeps what each accepted connection read, separately.
type connListener struct {
	net.Listener
	mu    sync.Mutex
	conns []*bytes.Buffer
}

func (l *connListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	b := &bytes.Buffer{}
	l.conns = append(l.conns, b)
	l.mu.Unlock()
	return &connLogConn{Conn: c, l: l, b: b}, nil
}

// reads returns what each connection read so far.
func (l *connListener) reads() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.conns))
	for i, b := range l.conns {
		out[i] = b.String()
	}
	return out
}

type connLogConn struct {
	net.Conn
	l *connListener
	b *bytes.Buffer
}

func (c *connLogConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.l.mu.Lock()
	c.b.Write(p[:n])
	c.l.mu.Unlock()
	return n, err
}

// Our client against our server, pipelined and not, on a three-entry
// playlist: every packet of every entry arrives, and in pipelined mode
// the probe, Play and both PlayNextEntry requests go on one connection.
func TestClientPipelinedPlaylist(t *testing.T) {
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
	want := append(append(append([][]byte{}, wa...), wb...), wa...)
	for _, pipelined := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelined=%v", pipelined), func(t *testing.T) {
			h := &Handler{Unpaced: true}
			h.Add("list", Playlist{open(a), open(b), open(a)})
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			rec := &connListener{Listener: ln}
			srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
			go srv.Serve(rec)
			defer srv.Close()
			var log eventLog
			s := dial(t, "mmsh://"+ln.Addr().String()+"/list", Options{Pipelined: pipelined, OnEvent: log.add})
			if s.Pipelined() != pipelined || s.Stats().Mode != map[bool]string{true: "pipelined", false: "non-pipelined"}[pipelined] {
				t.Fatalf("Pipelined() %v, mode %q", s.Pipelined(), s.Stats().Mode)
			}
			headers, got := readAll(t, s)
			if len(headers) != 2 || len(got) != len(want) {
				t.Fatalf("%d headers and %d packets, want 2 and %d", len(headers), len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("packet %d differs", i)
				}
			}
			if st := s.Stats(); st.Entries != 3 || log.count(event.EntryChange) != 2 {
				t.Errorf("entries %d, entry_change events %d", st.Entries, log.count(event.EntryChange))
			}
			s.Close()
			var probe, play, next int
			for _, r := range rec.reads() {
				n := strings.Count(r, "pipeline-request=1")
				if n > 0 {
					probe++
					if n != 2 || !strings.Contains(r, "xPlayStrm=1") || strings.Count(r, "xPlayNextEntry=1") != 2 ||
						strings.Count(r, "version11-enabled=1") != 3 {
						t.Errorf("pipelined connection read:\n%s", r)
					}
				}
				play += strings.Count(r, "xPlayStrm=1")
				next += strings.Count(r, "xPlayNextEntry=1")
			}
			if pipelined && (probe != 1 || play != 1 || next != 2) {
				t.Errorf("%d probe connections, %d Play, %d PlayNextEntry; want 1, 1, 2", probe, play, next)
			}
			if !pipelined && (probe != 0 || next != 0) {
				t.Errorf("non-pipelined: %d probe connections, %d PlayNextEntry", probe, next)
			}
		})
	}
}

// The pipeline probe on the wire (2.2.2.5, 3.2.5.5, 3.2.6.1): two
// back-to-back requests get a chunked $T and an HTTP/1.1 204 with
// pipeline-result=1; a second request after the Pipeline-Test timer gets
// an HTTP/1.0 204 with pipeline-result=0, after the timer ended the first
// response.
func TestServerPipelineProbe(t *testing.T) {
	src := clip(t, fixture.WMV2())
	addr := serve(t, &Handler{Dir: filepath.Dir(src)})
	req := "GET /" + filepath.Base(src) + " HTTP/1.1\r\nHost: h\r\nUser-Agent: NSPlayer/12.0.7680.0\r\nPragma: no-cache\r\nPragma: pipeline-request=1\r\n" +
		"Pragma: client-id=297067864\r\nConnection: keep-alive\r\n\r\n"
	for _, late := range []bool{false, true} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		br := bufio.NewReader(c)
		if late {
			io.WriteString(c, req)
		} else {
			io.WriteString(c, req+req)
		}
		r1, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r1.StatusCode != 200 || len(r1.TransferEncoding) != 1 || r1.TransferEncoding[0] != "chunked" || !r1.ProtoAtLeast(1, 1) {
			t.Fatalf("late=%v: first response %s %s, encoding %v", late, r1.Proto, r1.Status, r1.TransferEncoding)
		}
		t0 := time.Now()
		body, err := io.ReadAll(r1.Body)
		if err != nil || string(body) != "$T\x00\x00" {
			t.Fatalf("late=%v: first body %q, %v", late, body, err)
		}
		if late {
			if d := time.Since(t0); d < PipelineTestTimeout/2 {
				t.Errorf("first response ended after %v, before the Pipeline-Test timer", d)
			}
			io.WriteString(c, req)
		}
		r2, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := ParsePragma(r2.Header.Values("Pragma"))
		wantProto, wantResult := "HTTP/1.1", int64(1)
		if late {
			wantProto, wantResult = "HTTP/1.0", 0
		}
		if r2.StatusCode != 204 || r2.Proto != wantProto || p.PipelineResult != wantResult || p.ClientID != 297067864 {
			t.Fatalf("late=%v: second response %s %s, pipeline-result %d, client-id %d", late, r2.Proto, r2.Status, p.PipelineResult, p.ClientID)
		}
	}
}

// flushOnly hides every interface of the ResponseWriter but Flusher, as
// a middleware may: the probe cannot hijack, the server answers
// pipeline-result=0, and the client plays non-pipelined.
type flushOnly struct{ h http.Handler }

type flushWriter struct{ http.ResponseWriter }

func (w flushWriter) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

func (f flushOnly) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.h.ServeHTTP(flushWriter{w}, r)
}

func TestClientPipelineFallback(t *testing.T) {
	src := clip(t, fixture.WMV2())
	_, want := sourcePackets(t, src)
	addr := serve(t, flushOnly{&Handler{Dir: filepath.Dir(src), Unpaced: true}})
	s := dial(t, "mmsh://"+addr+"/"+filepath.Base(src), Options{Pipelined: true})
	if s.Pipelined() {
		t.Fatal("pipelined through a server that cannot hijack")
	}
	if _, got := readAll(t, s); len(got) != len(want) {
		t.Fatalf("%d packets, want %d", len(got), len(want))
	}
}

// A KeepAlive sent on the pipelined connection while Play streams is
// answered after the Play response, before the PlayNextEntry response
// (Pending-Responses, 3.2.5.9), which starts with the new entry's $D.
func TestServerPipelinedPendingResponses(t *testing.T) {
	a := clip(t, fixture.WMV2())
	b := clip(t, fixture.AudioOnly())
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
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	const head = "Host: h\r\nUser-Agent: NSPlayer/12.0.7680.0\r\nConnection: keep-alive\r\n"
	probe := "GET /list HTTP/1.1\r\n" + head + "Pragma: no-cache, pipeline-request=1\r\n\r\n"
	io.WriteString(c, probe+probe)
	for i := range 2 {
		r, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		if p, _ := ParsePragma(r.Header.Values("Pragma")); i == 1 && p.PipelineResult != 1 {
			t.Fatalf("probe: %s, pipeline-result %d", r.Status, p.PipelineResult)
		}
	}
	io.WriteString(c, "GET /list HTTP/1.1\r\n"+head+"Supported: com.microsoft.wm.sswitch\r\n"+
		"Pragma: no-cache, xPlayStrm=1, version11-enabled=1, stream-time=0\r\n\r\n"+
		"OPTIONS * HTTP/1.1\r\n"+head+"Pragma: no-cache\r\n\r\n")
	play, err := http.ReadResponse(br, nil)
	if err != nil || play.StatusCode != 200 {
		t.Fatalf("Play: %v %v", play, err)
	}
	rd := NewReader(play.Body)
	var p Packet
	var seq []byte
	for len(seq) < 3 || string(seq[len(seq)-3:]) != "CMH" {
		if err := rd.Next(&p); err != nil {
			t.Fatalf("Play body after %q: %v", seq, err)
		}
		if len(seq) == 0 || seq[len(seq)-1] != p.Type {
			seq = append(seq, p.Type)
		}
	}
	if string(seq) != "MHDECMH" {
		t.Fatalf("Play body %q, want $M $H $D.. $E $C $M $H", seq)
	}
	io.WriteString(c, "GET /list HTTP/1.1\r\n"+head+"Pragma: no-cache, xPlayNextEntry=1, version11-enabled=1\r\n"+
		"Pragma: stream-switch-entry=ffff:1:0\r\n\r\n")
	if err := rd.Next(&p); err != io.EOF {
		t.Fatalf("Play body after the entry's header: %v ($%c), want its end", err, p.Type)
	}
	ka, err := http.ReadResponse(br, nil)
	if err != nil || ka.StatusCode != 200 || ka.Header.Get("Allow") != "OPTIONS" {
		t.Fatalf("KeepAlive response: %v %v", ka, err)
	}
	io.Copy(io.Discard, ka.Body)
	pne, err := http.ReadResponse(br, nil)
	if err != nil || pne.StatusCode != 200 || pne.Header.Get("Content-Type") != "application/x-mms-framed" {
		t.Fatalf("PlayNextEntry response: %v %v", pne, err)
	}
	rd = NewReader(pne.Body)
	n := 0
	for {
		if err := rd.Next(&p); err != nil {
			t.Fatalf("PlayNextEntry body: %v", err)
		}
		if p.Type == TypeEnd {
			break
		}
		if p.Type != TypeData {
			t.Fatalf("PlayNextEntry body: $%c", p.Type)
		}
		n++
	}
	if _, wb := sourcePackets(t, b); n != len(wb) || p.Reason != EndOK {
		t.Fatalf("PlayNextEntry: %d $D and $E 0x%x, want %d and 0", n, p.Reason, len(wb))
	}
}
