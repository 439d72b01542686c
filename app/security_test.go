package app

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/gateway"
	"github.com/mmsgate/mmsgate/mmsproto"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// TestPasswordNeverLeaks plays a channel from an upstream that requires
// Basic authentication, then one with a wrong password, and searches every
// API answer, the SSE streams and every log line for the password in each
// encoding.
func TestPasswordNeverLeaks(t *testing.T) {
	clip := h264Clip(t)
	const user, password = "viewer", "Pa55-wörd-never-shown"
	for _, scheme := range []string{"basic", "ntlm"} {
		t.Run(scheme, func(t *testing.T) {
			up := serveUpstream(t, &mmsserver.Server{Auth: &mmsserver.Auth{Scheme: scheme, Username: user, Password: password}},
				clip, "127.0.0.1:0")
			e := startApp(t, Config{})
			var answers strings.Builder
			record := func(code int, b []byte) { fmt.Fprintf(&answers, "%d %s\n", code, b) }
			// Follow the events stream all along.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/api/v1/events", nil)
			req.Header.Set("Authorization", "Bearer "+e.app.APIToken())
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			events := make(chan string, 1)
			go func() { b, _ := io.ReadAll(resp.Body); events <- string(b) }()

			for _, c := range []struct{ name, pw string }{{"good", password}, {"bad", password + "x"}} {
				code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": c.name,
					"url": "mms://" + up.addr + "/live", "username": user, "password": c.pw, "transport": "tcp"})
				record(code, b)
				if code != 201 {
					t.Fatalf("create: %d %s", code, b)
				}
			}
			r, err := http.Get(e.srv.URL + "/hls/good/index.m3u8")
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, r.Body)
			r.Body.Close()
			if r.StatusCode != 200 {
				_, b := e.call(t, "GET", "/api/v1/channels/good/status", nil)
				t.Fatalf("good channel (%s): %d %s", scheme, r.StatusCode, b)
			}
			r, _ = http.Get(e.srv.URL + "/hls/bad/index.m3u8")
			b, _ := io.ReadAll(r.Body)
			r.Body.Close()
			record(r.StatusCode, b)
			if r.StatusCode != 503 {
				t.Fatalf("bad password: %d %s", r.StatusCode, b)
			}
			for _, p := range []string{"/api/v1/channels", "/api/v1/channels/good", "/api/v1/channels/bad/status",
				"/api/v1/channels/good/sessions", "/api/v1/channels/bad/sessions"} {
				code, b := e.call(t, "GET", p, nil)
				record(code, b)
			}
			for _, name := range []string{"good", "bad"} {
				_, b := e.call(t, "GET", "/api/v1/channels/"+name+"/sessions", nil)
				var l struct{ Items []struct{ ID int64 } }
				json.Unmarshal(b, &l)
				for _, s := range l.Items {
					code, b := e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d", s.ID), nil)
					record(code, b)
					code, b = e.call(t, "GET", fmt.Sprintf("/api/v1/sessions/%d/log", s.ID), nil)
					record(code, b)
				}
			}
			code, b := e.call(t, "GET", "/metrics", nil)
			record(code, b)
			// A failed session with the reason.
			_, b = e.call(t, "GET", "/api/v1/channels/bad/status", nil)
			if !strings.Contains(string(b), `"state":"failed"`) || !strings.Contains(strings.ToLower(string(b)), "auth") {
				t.Errorf("bad password status: %s", b)
			}
			ctxc, cancelc := context.WithTimeout(context.Background(), 20*time.Second)
			e.app.Close(ctxc)
			cancelc()
			cancel()
			all := answers.String() + "\n" + <-events + "\n" + e.logs.String()
			for _, sp := range gateway.Spellings(user, password) {
				if strings.Contains(all, sp) {
					t.Errorf("password spelling %q found", sp)
				}
			}
			if !strings.Contains(e.logs.String(), "good") {
				t.Fatal("the log recorded nothing")
			}
		})
	}
}

// dnsServer answers every A query with addr and every other query with no
// records: a name that resolves to a denied address.
func dnsServer(t *testing.T, addr [4]byte) *net.Resolver {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			q := buf[:n]
			if n < 12 {
				continue
			}
			// Question: after the 12-byte header, labels then type and class.
			i := 12
			for i < n && q[i] != 0 {
				i += int(q[i]) + 1
			}
			if i+5 > n {
				continue
			}
			qtype := binary.BigEndian.Uint16(q[i+1:])
			resp := append([]byte(nil), q[:i+5]...)
			resp[2], resp[3] = 0x81, 0x80 // response, recursion available, no error
			binary.BigEndian.PutUint16(resp[6:], 0)
			binary.BigEndian.PutUint16(resp[8:], 0)
			binary.BigEndian.PutUint16(resp[10:], 0)
			if qtype == 1 {
				binary.BigEndian.PutUint16(resp[6:], 1)
				resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4)
				resp = append(resp, addr[:]...)
			}
			pc.WriteTo(resp, from)
		}
	}()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", pc.LocalAddr().String())
	}}
}

// TestUpstreamDenied: literal spellings of the metadata address are refused
// at creation; a name that resolves to it and a redirect to it fail at dial
// time with the reason.
func TestUpstreamDenied(t *testing.T) {
	resolver := dnsServer(t, [4]byte{169, 254, 169, 254})
	// The redirecting upstream is on loopback, which this gateway allows.
	ln := redirector(t, map[string]string{"jump": "mms://169.254.169.254/latest", "jump2": "mms://metadata.example/x"})
	e := startApp(t, Config{Resolver: resolver})
	for _, u := range []string{"mms://169.254.169.254/x", "mms://2852039166/x", "mms://[::ffff:169.254.169.254]/x",
		"mms://0xa9.0xfe.0xa9.0xfe/x", "mmsh://169.254.169.254:80/x"} {
		code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "lit", "url": u})
		if code != 403 || !strings.Contains(string(b), "upstream_denied") {
			t.Errorf("%s: %d %s", u, code, b)
		}
	}
	for _, c := range []struct{ name, url string }{
		{"byname", "mms://metadata.example/latest"},
		{"redirect", "mms://" + ln.Addr().String() + "/jump"},
		{"redirect2", "mms://" + ln.Addr().String() + "/jump2"},
	} {
		code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": c.name, "url": c.url, "transport": "tcp"})
		if code != 201 {
			t.Fatalf("%s: %d %s", c.name, code, b)
		}
		r, err := http.Get(e.srv.URL + "/hls/" + c.name + "/index.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != 503 || !strings.Contains(string(b), "upstream denied") {
			t.Errorf("%s: %d %s", c.name, r.StatusCode, b)
		}
		// The public answer says why, not where the upstream is.
		if strings.Contains(string(b), "169.254") || strings.Contains(string(b), "metadata.example") ||
			strings.Contains(string(b), "127.0.0.1") {
			t.Errorf("%s: the public answer names the upstream: %s", c.name, b)
		}
		_, b = e.call(t, "GET", "/api/v1/channels/"+c.name+"/sessions", nil)
		var l struct {
			Items []struct {
				Outcome, Reason string
			}
		}
		json.Unmarshal(b, &l)
		if len(l.Items) == 0 || l.Items[0].Outcome != "failed" || !strings.Contains(l.Items[0].Reason, "169.254.169.254") ||
			!strings.Contains(l.Items[0].Reason, "upstream denied") {
			t.Errorf("%s: sessions %s", c.name, b)
		}
	}
}

// TestHostileRequests sends thousands of malformed, oversized and hostile
// requests: only 4xx (or 2xx where the request is fine), never 5xx, and no
// goroutines left behind.
func TestHostileRequests(t *testing.T) {
	clip := h264Clip(t)
	up := startUpstream(t, clip, "127.0.0.1:0")
	e := startApp(t, Config{WaitTimeout: 10 * time.Second})
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "ok", "url": "mms://" + up.addr + "/live",
		"on_demand": false, "transport": "tcp"}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	// Warm up: the channel is live and one HLS client has its playlist.
	r, err := http.Get(e.srv.URL + "/hls/ok/index.m3u8")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("warm-up: %v %v", err, r)
	}
	r.Body.Close()
	if code, b := e.call(t, "POST", "/api/v1/channels", map[string]any{"name": "victim", "url": "mms://" + up.addr + "/live"}); code != 201 {
		t.Fatalf("%d %s", code, b)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	time.Sleep(100 * time.Millisecond)
	before := countGoroutines()
	paths := []string{
		"/api/v1/channels/%00", "/api/v1/channels/..%2f..%2fetc", "/api/v1/channels/" + strings.Repeat("a", 5000),
		"/api/v1/sessions/-1", "/api/v1/sessions/99999999999999999999999", "/api/v1/sessions/0/log", "/api/v1/sessions/1e3",
		"/api/v1/channels?limit=-1", "/api/v1/channels?limit=abc", "/api/v1/channels?offset=99999999999999",
		"/api/v1/channels/ok/sessions?limit=100000", "/hls/ok/../../etc/passwd", "/hls/ok/%2e%2e/x", "/hls/ok/nope.m3u8",
		"/hls/ok/", "/hls/missing/index.m3u8", "/hls/ok/" + strings.Repeat("s", 300), "/hls/ok/.hidden", "/asf/missing",
		"/asf/" + strings.Repeat("z", 100), "/embed/<script>", "/nowhere", "/api/v2/x", "/api/v1/", "/static/../../x",
		"/hls/ok/index.m3u8?_HLS_msn=999999999&_HLS_part=0", "/hls/ok/index.m3u8?_HLS_msn=abc", "/hls/a%00b/index.m3u8",
	}
	bodies := []string{"", "{", "[]", "null", `{"name":1}`, `{"name":"x","url":"` + strings.Repeat("a", 70000) + `"}`,
		`{"name":"x","url":"mms://a/b","outputs":"hls"}`, `{"name":"x","url":"javascript:alert(1)"}`,
		`{"name":"x","url":"mms://[::1/x"}`, `{"name":"x","url":"mms://a/b","password":"` + strings.Repeat("p", 300) + `"}`,
		`{"name":"x","url":"mms://a/b","username":"a\u0000b"}`, `{"name":"x","url":"mms://a/b","max_bandwidth":1e100}`,
		strings.Repeat(`{"a":`, 10000), "\xff\xfe\x00", `{"name":"ok","url":"mms://a/b"}`}
	methods := []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD", "TRACE"}
	targets := []string{"/api/v1/channels", "/api/v1/channels/ok", "/api/v1/channels/x", "/api/v1/channels/ok/start",
		"/api/v1/sessions/1", "/hls/ok/index.m3u8", "/asf/ok", "/api/v1/openapi.json"}
	auths := []string{"", "Bearer wrong", "Bearer " + e.app.APIToken(), "Basic Zm9vOmJhcg==", "Bearer " + strings.Repeat("t", 3000)}
	n := 0
	check := func(req *http.Request) {
		n++
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", req.Method, req.URL, err)
		}
		io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode >= 500 {
			t.Errorf("%s %s: %d", req.Method, req.URL, resp.StatusCode)
		}
	}
	for _, p := range paths {
		for _, a := range auths {
			req, err := http.NewRequest("GET", e.srv.URL+p, nil)
			if err != nil {
				continue
			}
			if a != "" {
				req.Header.Set("Authorization", a)
			}
			check(req)
		}
	}
	for _, m := range methods {
		for _, tgt := range targets {
			for _, b := range bodies {
				for _, a := range auths[:3] {
					if tgt == "/asf/ok" && m == "GET" {
						continue // a streaming viewer; played below with a deadline
					}
					target := tgt
					if strings.Contains(a, e.app.APIToken()) && m != "GET" && m != "HEAD" && m != "OPTIONS" {
						// Authorized writes go to another channel: "ok" keeps
						// playing, so that its media answers must all be 2xx/4xx.
						target = strings.Replace(target, "/channels/ok", "/channels/victim", 1)
					}
					req, _ := http.NewRequest(m, e.srv.URL+target, strings.NewReader(b))
					req.Header.Set("Content-Type", "application/json")
					if a != "" {
						req.Header.Set("Authorization", a)
					}
					check(req)
				}
			}
		}
	}
	// Raw garbage on the socket.
	for _, raw := range []string{"GET /hls/ok/index.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST /api/v1/channels HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"GET /" + strings.Repeat("a", 100000) + " HTTP/1.1\r\nHost: x\r\n\r\n", "\x16\x03\x01\x00\xa5garbage\r\n\r\n"} {
		c, err := net.Dial("tcp", strings.TrimPrefix(e.srv.URL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, raw)
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		n++
		if strings.Contains(line, " 5") && !strings.Contains(line, " 4") {
			t.Errorf("raw %q: %q", raw[:20], line)
		}
	}
	// Streaming ASF viewers that hang up at once.
	for i := 0; i < 20; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.srv.URL+"/asf/ok", nil)
		if resp, err := client.Do(req); err == nil {
			if resp.StatusCode >= 500 {
				t.Errorf("asf: %d", resp.StatusCode)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		n++
	}
	client.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	t.Logf("%d hostile requests", n)
	if n < 2000 {
		t.Errorf("only %d requests", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	after := countGoroutines()
	for after > before+5 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		after = countGoroutines()
	}
	if after > before+5 {
		t.Errorf("goroutines grew from %d to %d", before, after)
	}
}

// redirector is a scripted MMS server (MS-MMSP 4.x handshake) that answers
// OpenFile of a path in to with LinkMacToViewerReportRedirect (2.2.4.9) and
// hangs up.
func redirector(t *testing.T, to map[string]string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(30 * time.Second))
				var seq uint16
				send := func(m mmsproto.Message) {
					c.Write(mmsproto.Marshal(m, seq, 0))
					seq++
				}
				for {
					m, err := mmsproto.ReadMessage(c, 1<<16)
					if err != nil {
						return
					}
					switch m := m.(type) {
					case *mmsproto.LinkViewerToMacConnect:
						send(mmsproto.NewReportConnectedEX(mmsproto.MMSDisablePacketPair, "9.1.1.3814", ""))
					case *mmsproto.LinkViewerToMacFunnelInfo:
						send(mmsproto.NewReportFunnelInfo(mmsproto.MMSDisablePacketPair, 7, nil))
					case *mmsproto.LinkViewerToMacConnectFunnel:
						send(&mmsproto.LinkMacToViewerReportConnectedFunnel{FunnelName: mmsproto.FunnelOfTheGods})
					case *mmsproto.LinkViewerToMacOpenFile:
						name := strings.TrimPrefix(strings.ReplaceAll(m.FileName, "\\", "/"), "/")
						if loc, ok := to[name]; ok {
							send(&mmsproto.LinkMacToViewerReportRedirect{RedirectType: mmsproto.RedirectURL, Location: loc})
						}
						return
					}
				}
			}()
		}
	}()
	return ln
}
