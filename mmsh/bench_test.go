package mmsh

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestNoGoroutineLeak: a session that is read to the end or closed early
// leaves no goroutine behind.
func TestNoGoroutineLeak(t *testing.T) {
	src := clip(t, fixture.WMV2())
	addr := serve(t, &Handler{Dir: filepath.Dir(src), Rate: 0.5})
	url := "mmsh://" + addr + "/" + filepath.Base(src)
	before := runtime.NumGoroutine()
	for range 3 {
		s := dial(t, url, Options{})
		if _, err := s.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // server handlers notice the closed connections
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		if bytes.Contains(buf, []byte("mmsh.(*Session)")) || bytes.Contains(buf, []byte("net/http.(*persistConn)")) {
			t.Errorf("%d goroutines, %d before:\n%s", n, before, buf)
		}
	}
}

// BenchmarkReader measures parsing $D packets of 3200 bytes.
func BenchmarkReader(b *testing.B) {
	var stream []byte
	for i := range 64 {
		stream, _ = AppendPacket(stream, &Packet{Type: TypeData, LocationID: uint32(i), Payload: make([]byte, 3200)})
	}
	r := bytes.NewReader(stream)
	rd := NewReader(r)
	var p Packet
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(stream)
		for {
			if err := rd.Next(&p); err != nil {
				if !errors.Is(err, io.EOF) {
					b.Fatal(err)
				}
				break
			}
		}
	}
}

// BenchmarkParsePragma measures a Play request's Pragma headers.
func BenchmarkParsePragma(b *testing.B) {
	v := []string{"no-cache,rate=1.000,stream-time=0,stream-offset=4294967295:4294967295,packet-num=4294967295,max-duration=0",
		"xPlayStrm=1", "client-id=2338761264", "xClientGUID={BFE16E37-55EC-4AE4-A5A9-0B0D307F4B72}",
		"stream-switch-count=2", "stream-switch-entry=ffff:1:0 ffff:2:0"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePragma(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoopback measures a whole unpaced session over loopback: the
// Handler writing and the client reading and restoring packets.
func BenchmarkLoopback(b *testing.B) {
	src := clip(b, fixture.WMV2())
	srv := httptest.NewServer(&Handler{Dir: filepath.Dir(src), Unpaced: true})
	defer srv.Close()
	url := "mmsh://" + strings.TrimPrefix(srv.URL, "http://") + "/" + filepath.Base(src)
	var total int64
	b.ReportAllocs()
	for b.Loop() {
		s, err := Dial(context.Background(), url, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for {
			it, err := s.Next(context.Background())
			if err != nil {
				break
			}
			total += int64(len(it.Packet))
		}
		s.Close()
	}
	b.SetBytes(total / int64(max(b.N, 1)))
}
