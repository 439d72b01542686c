package mmsh

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// rawServer answers each request on a loopback port with fn, which writes
// whatever it likes to the connection.
func rawServer(t *testing.T, fn func(c net.Conn, req string)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { close(done); ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				go func() { <-done; c.Close() }()
				br := bufio.NewReader(c)
				for {
					var req strings.Builder
					for {
						line, err := br.ReadString('\n')
						if err != nil {
							return
						}
						req.WriteString(line)
						if line == "\r\n" {
							break
						}
					}
					fn(c, req.String())
				}
			}()
		}
	}()
	return ln.Addr().String()
}

const okHead = "HTTP/1.1 200 OK\r\nContent-Type: application/x-mms-framed\r\nServer: hostile\r\nConnection: close\r\n\r\n"

// validDescribe writes a real describe answer for header.
func validDescribe(c net.Conn, header []byte) {
	body := AppendHeaderPackets(nil, TypeHeader, header, 0)
	fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.ms.wms-hdr.asfv1\r\nPragma: client-id=7, features=\"seekable\"\r\nContent-Length: %d\r\n\r\n", len(body))
	c.Write(body)
}

func TestHostileServers(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	header := f.hd
	hugeHeader := append([]byte(nil), header[:24]...)
	binary.LittleEndian.PutUint64(hugeHeader[16:], 1<<40)
	block := func(c net.Conn) { time.Sleep(time.Minute) }
	play := func(fn func(c net.Conn)) func(net.Conn, string) {
		return func(c net.Conn, req string) {
			if !strings.Contains(req, "xPlayStrm=1") {
				validDescribe(c, header)
				return
			}
			fn(c)
		}
	}
	cases := []struct {
		name string
		fn   func(net.Conn, string)
		want error
	}{
		{"silent", func(c net.Conn, _ string) { block(c) }, ErrTimeout},
		{"stalls after headers", func(c net.Conn, _ string) { c.Write([]byte(okHead)); block(c) }, ErrTimeout},
		{"garbage", func(c net.Conn, _ string) { c.Write([]byte(okHead + "GARBAGE GARBAGE GARBAGE")) }, ErrProtocol},
		{"huge header", func(c net.Conn, _ string) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, hugeHeader, 0))
			block(c)
		}, ErrProtocol},
		{"endless metadata", func(c net.Conn, _ string) {
			c.Write([]byte(okHead))
			pkt := AppendHeaderPackets(nil, TypeMetadata, []byte("x"), 0)
			for range maxControlPackets + 10 {
				if _, err := c.Write(pkt); err != nil {
					return
				}
			}
		}, ErrProtocol},
		{"huge response header", func(c net.Conn, _ string) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nX-Junk: " + strings.Repeat("a", 1<<20) + "\r\n\r\n"))
		}, nil},
		{"not found", func(c net.Conn, _ string) {
			c.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"))
		}, ErrNotFound},
		{"html", func(c net.Conn, _ string) {
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>"))
		}, ErrNotMMSH},
		{"redirect loop", func(c net.Conn, req string) {
			c.Write([]byte("HTTP/1.1 302 Found\r\nLocation: /again\r\nContent-Length: 0\r\n\r\n"))
		}, ErrRedirects},
		{"data before header", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			b, _ := AppendPacket(nil, &Packet{Type: TypeData, Payload: make([]byte, 100)})
			c.Write(b)
			block(c)
		}), ErrProtocol},
		{"oversized data", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, header, 0))
			b, _ := AppendPacket(nil, &Packet{Type: TypeData, Payload: make([]byte, 60000)})
			c.Write(b)
			block(c)
		}), ErrProtocol},
		{"stalls while playing", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, header, 0))
			block(c)
		}), ErrTimeout},
		{"cut in a packet", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, header, 0))
			c.Write([]byte{0x24, 'D', 0x10, 0x00, 1, 2})
		}), nil},
		{"trickles a packet", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, header, 0))
			b, _ := AppendPacket(nil, &Packet{Type: TypeData, Payload: make([]byte, 2000)})
			for _, x := range b {
				if _, err := c.Write([]byte{x}); err != nil {
					return
				}
				time.Sleep(200 * time.Millisecond) // always within IdleTimeout
			}
		}), ErrTimeout},
		{"error HRESULT", play(func(c net.Conn) {
			c.Write([]byte(okHead))
			c.Write(AppendHeaderPackets(nil, TypeHeader, header, 0))
			b, _ := AppendPacket(nil, &Packet{Type: TypeEnd, Reason: 0x80070005})
			c.Write(b)
		}), ErrServer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			addr := rawServer(t, tc.fn)
			opts := Options{StepTimeout: 500 * time.Millisecond, IdleTimeout: 500 * time.Millisecond}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			start := time.Now()
			err := func() error {
				s, err := Dial(ctx, "mmsh://"+addr+"/x", opts)
				if err != nil {
					return err
				}
				defer s.Close()
				for {
					if _, err := s.Next(ctx); err != nil {
						return err
					}
				}
			}()
			if err == nil || ctx.Err() != nil {
				t.Fatalf("err %v after %v (context: %v)", err, time.Since(start), ctx.Err())
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("err %v, want %v", err, tc.want)
			}
			t.Logf("%v after %v", err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestHandlerRefusesBadRequests checks the server side against bad input.
func TestHandlerRefusesBadRequests(t *testing.T) {
	src := clip(t, fixture.AudioOnly())
	h := &Handler{Dir: strings.TrimSuffix(src, "/"+lastElem(src))}
	addr := serve(t, h)
	get := func(path string, pragma ...string) int {
		req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
		for _, p := range pragma {
			req.Header.Add("Pragma", p)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := get("/../../etc/passwd"); c != http.StatusNotFound {
		t.Errorf("path escape: %d", c)
	}
	if c := get("/missing.asf"); c != http.StatusNotFound {
		t.Errorf("missing: %d", c)
	}
	many := strings.Repeat("a=1,", maxPragmaTokens+1)
	if c := get("/"+lastElem(src), many); c != http.StatusBadRequest {
		t.Errorf("too many tokens: %d", c)
	}
	if c := get("/"+lastElem(src), "xPlayStrm=1", "stream-time=99999999"); c != http.StatusOK {
		t.Errorf("play beyond the end: %d", c)
	}
	if _, err := os.Stat(src); err != nil {
		t.Fatal(err)
	}
}

func lastElem(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

// recordHandler passes log messages to a channel.
type recordHandler struct{ ch chan string }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.ch <- r.Message:
	default:
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

// TestHandlerDropsStalledViewer: a viewer that stops reading is dropped
// after WriteTimeout instead of holding its session forever.
func TestHandlerDropsStalledViewer(t *testing.T) {
	src := clip(t, fixture.WMV2())
	f, err := OpenFile(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	logs := make(chan string, 100)
	h := &Handler{WriteTimeout: 300 * time.Millisecond, Logger: slog.New(recordHandler{logs})}
	h.Add("live", NewLiveFile(f, 50))
	addr := serve(t, h)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	fmt.Fprintf(c, "GET /live HTTP/1.0\r\nUser-Agent: NSPlayer/12.0\r\nPragma: xPlayStrm=1\r\n\r\n")
	deadline := time.After(60 * time.Second)
	for {
		select {
		case m := <-logs:
			if m == "mmsh play ended" {
				return // the handler returned: the viewer is gone
			}
		case <-deadline:
			t.Fatal("stalled viewer never dropped")
		}
	}
}
