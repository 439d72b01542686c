package mmsclient

import (
	"context"
	"errors"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// closedAddr returns a loopback address where nothing listens (dial refused).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serveMMSH serves srv's MMSH side (mmsh.Handler) on a loopback port and
// returns the port.
func serveMMSH(t *testing.T, srv *mmsserver.Server) int {
	t.Helper()
	ts := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().(*net.TCPAddr).Port
}

// dialLog records the addresses that a DialContext hook was asked for.
type dialLog struct {
	mu    sync.Mutex
	addrs []string
}

func (d *dialLog) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	d.mu.Lock()
	d.addrs = append(d.addrs, addr)
	d.mu.Unlock()
	var nd net.Dialer
	return nd.DialContext(ctx, network, addr)
}

func attemptSummary(as []Attempt) string {
	var b []string
	for _, a := range as {
		b = append(b, a.Transport+":"+a.Outcome)
	}
	return strings.Join(b, " ")
}

func eventSummary(evs []event.Event) string {
	var b []string
	for _, e := range evs {
		if o := e.Fields["outcome"]; o != "start" {
			b = append(b, e.Fields["transport"].(string)+":"+o.(string))
		}
	}
	return strings.Join(b, " ")
}

// An mms:// URL whose MMS port refuses connections plays through MMSH on
// HTTPPort (issue 9 item 4), after a failed UDP and a failed TCP attempt,
// every rung through the caller's AllowHost and DialContext hooks.
func TestRolloverToMMSH(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.WMV2())
	srv := &mmsserver.Server{Dir: dirWith(t, map[string]string{"a.wmv": src}), Rate: 20}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	port := serveMMSH(t, srv)
	mmsAddr := closedAddr(t)
	var evs eventLog
	var dials dialLog
	var hostsMu sync.Mutex
	var hosts []string
	allow := func(h string) error {
		hostsMu.Lock()
		hosts = append(hosts, h)
		hostsMu.Unlock()
		return nil
	}
	s := playAndCompare(t, "mms://"+mmsAddr+"/a.wmv", src, Options{HTTPPort: port, OnEvent: evs.add,
		AllowHost: allow, DialContext: dials.dial})
	if s.Transport() != TransportHTTP {
		t.Errorf("transport %q, want http", s.Transport())
	}
	st := s.Stats()
	if got := attemptSummary(st.Attempts); got != "udp:failed tcp:failed http:ok" {
		t.Errorf("stats attempts %q", got)
	}
	for _, a := range st.Attempts[:2] {
		if !strings.Contains(a.Reason, "refused") {
			t.Errorf("%s attempt reason %q does not say why", a.Transport, a.Reason)
		}
	}
	if st.Transport != "http" || st.PacketsReceived == 0 {
		t.Errorf("stats %+v", st)
	}
	if got := eventSummary(evs.kinds(event.Attempt)); got != "udp:failed tcp:failed http:ok" {
		t.Errorf("attempt events %q", got)
	}
	if n := len(evs.kinds(event.Error)); n != 0 {
		t.Errorf("%d error events for a session that plays", n)
	}
	// MMSH: Describe and Play on one connection, then the Log request
	// after $E on a new one (MS-WMSP 3.1.5.13, non-pipelined mode).
	httpAddr := "127.0.0.1:" + strconv.Itoa(port)
	want := []string{mmsAddr, mmsAddr, httpAddr, httpAddr}
	dials.mu.Lock()
	if strings.Join(dials.addrs, " ") != strings.Join(want, " ") {
		t.Errorf("dialed %v, want %v", dials.addrs, want)
	}
	dials.mu.Unlock()
	hostsMu.Lock()
	if len(hosts) < 2 {
		t.Errorf("AllowHost asked for %v: not for the MMSH rung", hosts)
	}
	hostsMu.Unlock()
	s.Close()
	if len(evs.kinds(event.Stats)) != 1 {
		t.Errorf("%d stats events after Close", len(evs.kinds(event.Stats)))
	}
}

// Prefer puts the rung that worked last first; a failing preferred MMSH
// rung falls back to the MMS rungs.
func TestRolloverPrefer(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.WMV2())
	srv, base := serveDir(t, dirWith(t, map[string]string{"a.wmv": src}), func(s *mmsserver.Server) { s.Unpaced = true })
	port := serveMMSH(t, srv)
	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"http first", Options{Prefer: "http", HTTPPort: port}, "http:ok"},
		{"tcp first", Options{Prefer: "tcp", HTTPPort: port}, "tcp:ok"},
		{"http policy", Options{Transport: "http", HTTPPort: port}, "http:ok"},
		{"dead http first", Options{Prefer: "http", HTTPPort: closedPort(t)}, "http:failed udp:ok"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var evs eventLog
			c.opts.OnEvent = evs.add
			s := playAndCompare(t, base+"a.wmv", src, c.opts)
			if got := attemptSummary(s.Stats().Attempts); got != c.want {
				t.Errorf("attempts %q, want %q", got, c.want)
			}
			if got := eventSummary(evs.kinds(event.Attempt)); got != c.want {
				t.Errorf("attempt events %q, want %q", got, c.want)
			}
			if n := len(evs.kinds(event.Error)); n != 0 {
				t.Errorf("%d error events for a session that plays", n)
			}
		})
	}
}

func closedPort(t *testing.T) int {
	_, p, _ := net.SplitHostPort(closedAddr(t))
	n, _ := strconv.Atoi(p)
	return n
}

// mmsh:// and http:// URLs play over MMSH through Dial.
func TestDialMMSHURL(t *testing.T) {
	checkNoLeak(t)
	src := clip(t, fixture.WMV2())
	srv := &mmsserver.Server{Dir: dirWith(t, map[string]string{"a.wmv": src}), Unpaced: true}
	t.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	port := serveMMSH(t, srv)
	for _, scheme := range []string{"mmsh", "http"} {
		s := playAndCompare(t, scheme+"://127.0.0.1:"+strconv.Itoa(port)+"/a.wmv", src, Options{})
		if s.Transport() != "http" || s.HTTP() == nil || attemptSummary(s.Stats().Attempts) != "http:ok" {
			t.Errorf("%s: transport %q, attempts %q", scheme, s.Transport(), attemptSummary(s.Stats().Attempts))
		}
		if err := s.SwitchStreams(context.Background(), []uint16{1}); err == nil {
			t.Errorf("SwitchStreams over MMSH did not fail")
		}
		s.Close()
	}
}

// When every rung fails, the error names each rung's reason and one error
// event is reported.
func TestRolloverAllFail(t *testing.T) {
	var evs eventLog
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := Dial(ctx, "mms://"+closedAddr(t)+"/a.wmv", Options{HTTPPort: closedPort(t), OnEvent: evs.add})
	if err == nil {
		t.Fatal("Dial succeeded")
	}
	for _, w := range []string{"UDP: ", "TCP: ", "refused"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q lacks %q", err, w)
		}
	}
	if got := eventSummary(evs.kinds(event.Attempt)); got != "udp:failed tcp:failed http:failed" {
		t.Errorf("attempt events %q", got)
	}
	if n := len(evs.kinds(event.Error)); n != 1 {
		t.Errorf("%d error events, want 1", n)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("error %v does not wrap the dial error", err)
	}
	// Every rung's error is visible to errors.Is, not just the last one's.
	mmsAddr, errMMS := closedAddr(t), errors.New("no MMS here")
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == mmsAddr {
			return nil, errMMS
		}
		var nd net.Dialer
		return nd.DialContext(ctx, network, addr)
	}
	_, err = Dial(ctx, "mms://"+mmsAddr+"/a.wmv", Options{HTTPPort: closedPort(t), DialContext: dial})
	if !errors.Is(err, errMMS) || !strings.HasPrefix(err.Error(), "mmsh:") {
		t.Errorf("error %q: want the MMSH rung's, wrapping the MMS rungs' too", err)
	}
}

func TestTransportPlan(t *testing.T) {
	for _, c := range []struct{ policy, scheme, prefer, want string }{
		{"", "", "", "udp tcp http"},
		{"auto", "", "tcp", "tcp udp http"},
		{"auto", "", "http", "http udp tcp"},
		{"", "tcp", "http", "tcp"},
		{"auto", "tcp", "http", "udp tcp"},
		{"udp", "", "http", "udp"},
		{"http", "", "", "http"},
	} {
		if got := strings.Join(transportPlan(c.policy, c.scheme, c.prefer), " "); got != c.want {
			t.Errorf("plan(%q, %q, prefer %q) = %q, want %q", c.policy, c.scheme, c.prefer, got, c.want)
		}
	}
	if err := (&Options{Prefer: "rtsp"}).setDefaults(); err == nil {
		t.Error("Prefer rtsp accepted")
	}
}
