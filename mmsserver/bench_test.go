package mmsserver

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsproto"
)

// spec300k is a clip of about 300 kbit/s (WMV2 video and WMA2 audio).
func spec300k() fixture.Spec {
	s := fixture.WMV2()
	s.VideoBitrate, s.AudioBitrate, s.Duration = 236_000, 64_000, 3*time.Second
	return s
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// playAll plays name once over TCP and returns the Data packet bytes read.
func playAll(tb testing.TB, addr, name string, streams []uint16) int64 {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	tc := &tclient{t: &testing.T{}, c: c}
	send := func(m mmsproto.Message) { mmsproto.WriteMessage(c, m, tc.seq, 0); tc.seq++ }
	send(&mmsproto.LinkViewerToMacConnect{SubscriberName: nsplayer})
	send(&mmsproto.LinkViewerToMacConnectFunnel{FunnelMode: 2, FunnelName: `\\127.0.0.1\TCP\1755`})
	send(&mmsproto.LinkViewerToMacOpenFile{PlayIncarnation: 1, FileName: name})
	send(&mmsproto.LinkViewerToMacReadBlock{OpenFileID: 1, PlayIncarnation: 2})
	send(&mmsproto.LinkViewerToMacStreamSwitch{Entries: all(streams...)})
	send(&mmsproto.LinkViewerToMacStartPlaying{OpenFileID: 1, ASFOffset: 0xFFFFFFFF, LocationID: 0xFFFFFFFF, PlayIncarnation: 3})
	var n int64
	for {
		m, err := tc.next()
		if err != nil {
			tb.Errorf("client: %v", err)
			return n
		}
		switch m := m.(type) {
		case *mmsproto.DataPacket:
			if m.PlayIncarnation == 3 {
				n += int64(m.Size())
			}
		case *mmsproto.LinkMacToViewerReportEndOfStream:
			return n
		}
	}
}

// BenchmarkStreamTCP streams a file to clients as fast as they read. Its
// figures: server and client CPU per streamed MB (both run in this
// process, so it is an upper bound for the server), and how many 300 kbit/s
// clients one core could feed at that cost.
func BenchmarkStreamTCP(b *testing.B) {
	dir := b.TempDir()
	src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec300k())
	if err != nil {
		b.Skip(err)
	}
	tb := &testing.T{}
	copyFile(tb, src, filepath.Join(dir, "c.wmv"))
	m, err := openMedia(filepath.Join(dir, "c.wmv"))
	if err != nil {
		b.Fatal(err)
	}
	streams := m.streams
	m.Close()
	srv := &Server{Dir: dir, Unpaced: true, Logger: testLogger(nil)}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	addr := ln.Addr().String()
	per := playAll(b, addr, "c.wmv", streams)
	b.SetBytes(per)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var total int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := playAll(b, addr, "c.wmv", streams)
			mu.Lock()
			total += n
			mu.Unlock()
		}
	})
	cpu := cpuTime() - cpu0
	mb := float64(total) / 1e6
	if mb > 0 {
		b.ReportMetric(cpu.Seconds()*1000/mb, "cpu-ms/MB")
		b.ReportMetric(mb/cpu.Seconds()/(300e3/8/1e6), "clients/core@300kbps")
	}
}

// BenchmarkConcurrent300k plays a 3 s, 300 kbit/s clip in real time to 200
// clients at once and reports the CPU they cost: cores used and how many
// such clients one core serves (paced delivery, timers included). Run with
// -benchtime 1x.
func BenchmarkConcurrent300k(b *testing.B) {
	const clients = 200
	dir := b.TempDir()
	src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec300k())
	if err != nil {
		b.Skip(err)
	}
	copyFile(&testing.T{}, src, filepath.Join(dir, "c.wmv"))
	m, err := openMedia(filepath.Join(dir, "c.wmv"))
	if err != nil {
		b.Fatal(err)
	}
	streams := m.streams
	m.Close()
	srv := &Server{Dir: dir, Rate: 1, MaxConns: 10 * clients, Logger: testLogger(nil)}
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	addr := ln.Addr().String()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cpu0, t0 := cpuTime(), time.Now()
		var wg sync.WaitGroup
		var total int64
		var mu sync.Mutex
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := playAll(b, addr, "c.wmv", streams)
				mu.Lock()
				total += n
				mu.Unlock()
			}()
		}
		wg.Wait()
		cores := (cpuTime() - cpu0).Seconds() / time.Since(t0).Seconds()
		b.ReportMetric(cores, "cores")
		if cores > 0 {
			b.ReportMetric(clients/cores, "clients/core")
		}
		b.ReportMetric(float64(total)*8/time.Since(t0).Seconds()/clients, "bit/s/client")
	}
}

// BenchmarkStreamMMSH is BenchmarkStreamTCP over the MMSH side: plain
// HTTP Play requests (xPlayStrm=1) read to the end as fast as possible;
// the figures count the framed response bytes.
func BenchmarkStreamMMSH(b *testing.B) {
	dir := b.TempDir()
	src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec300k())
	if err != nil {
		b.Skip(err)
	}
	copyFile(&testing.T{}, src, filepath.Join(dir, "c.wmv"))
	srv := &Server{Dir: dir, Unpaced: true, Logger: testLogger(nil)}
	defer srv.Shutdown(context.Background())
	ts := httptest.NewServer(srv.HTTPHandler())
	defer ts.Close()
	play := func() int64 {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+"/c.wmv", nil)
		req.Header.Set("User-Agent", "NSPlayer/12.0.7601.17514")
		req.Header.Set("Pragma", "xPlayStrm=1")
		resp, err := ts.Client().Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		defer resp.Body.Close()
		n, err := io.Copy(io.Discard, resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Errorf("play: %d %v", resp.StatusCode, err)
		}
		return n
	}
	b.SetBytes(play())
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	var total int64
	var mu sync.Mutex
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			n := play()
			mu.Lock()
			total += n
			mu.Unlock()
		}
	})
	cpu := cpuTime() - cpu0
	if mb := float64(total) / 1e6; mb > 0 {
		b.ReportMetric(cpu.Seconds()*1000/mb, "cpu-ms/MB")
		b.ReportMetric(mb/cpu.Seconds()/(300e3/8/1e6), "clients/core@300kbps")
	}
}
