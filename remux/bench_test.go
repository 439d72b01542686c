package remux

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// benchClip is a 20 s WMV2+WMA2 clip at 320x240 (what legacy streams look like).
func benchClip(b *testing.B) string {
	spec := fixture.WMV2()
	spec.Duration = 20 * time.Second
	return clip(b, spec)
}

func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkTranscoderCPU compares the CPU that the pipeline (this process
// plus its ffmpeg) spends to make HLS from a file with the CPU of a bare
// ffmpeg doing the same conversion from the same file: to MPEG-TS thrown
// away (ffmpeg-cpu-s, cpu-ratio), and to fMP4 HLS with its own HLS muxer
// (ffmpeg-hls-cpu-s, cpu-ratio-vs-ffmpeg-hls). Goal: ratio <= 1.05.
func BenchmarkTranscoderCPU(b *testing.B) {
	path := benchClip(b)
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	hdr, _ := readClip(b, path)
	es, err := pickStreams(mustHeader2(b, hdr), nil)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{SegmentDuration: time.Second, Outputs: Outputs{HLS: true}}.withDefaults()
	out := chooseOutParams(opts, es)
	args := ffmpegArgs(out, keyOf(es))
	for i, a := range args {
		if a == "pipe:0" {
			args[i] = path
		}
	}
	args[len(args)-1] = "-" // same output on stdout, thrown away
	// the same conversion with ffmpeg's own HLS muxer (fMP4 segments to disk)
	cut := slices.Index(args, "mpegts") - 1 // "-f mpegts ...": the output options
	hlsArgs := slices.Clone(args[:cut])
	hlsDir := b.TempDir()
	hlsArgs = append(hlsArgs, "-f", "hls", "-hls_time", "1", "-hls_segment_type", "fmp4", "-hls_list_size", "0",
		hlsDir+"/index.m3u8")
	var ours, theirs, theirsHLS, child time.Duration
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command("ffmpeg", args...)
		cmd.Stdout = io.Discard
		if err := cmd.Run(); err != nil {
			b.Fatal(err)
		}
		theirs += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		cmd = exec.Command("ffmpeg", hlsArgs...)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		theirsHLS += cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()

		self, ch := transcodeFile(b, opts, path)
		ours += self + ch
		child += ch
	}
	b.ReportMetric(ours.Seconds()/float64(b.N), "pipeline-cpu-s")
	b.ReportMetric(theirs.Seconds()/float64(b.N), "ffmpeg-cpu-s")
	b.ReportMetric(child.Seconds()/float64(b.N), "its-ffmpeg-cpu-s")
	// the Go side alone: ffmpeg's own CPU varies by a few percent from run to
	// run, which moves cpu-ratio more than this does
	b.ReportMetric(float64((ours-child).Microseconds())/1000/float64(b.N), "go-cpu-ms")
	b.ReportMetric(float64(ours)/float64(theirs), "cpu-ratio")
	b.ReportMetric(theirsHLS.Seconds()/float64(b.N), "ffmpeg-hls-cpu-s")
	b.ReportMetric(float64(ours)/float64(theirsHLS), "cpu-ratio-vs-ffmpeg-hls")
}

// transcodeFile runs a file through a transcoding pipeline and returns the
// CPU this process spent meanwhile and the CPU of the pipeline's ffmpeg.
func transcodeFile(b *testing.B, opts Options, path string) (self, child time.Duration) {
	p, err := New(opts)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	start := selfCPU()
	if err := Feed(context.Background(), NewFileSource(0, false, path), p); err != nil {
		b.Fatal(err)
	}
	// until the last run ended and its media reached HLS; waiting on the
	// run keeps this loop's own wakeups out of the measurement
	tc := p.tcPtr.Load()
	for {
		r := tc.current()
		if r == nil && len(tc.in) == 0 {
			break
		}
		if r != nil {
			<-r.done
		}
		time.Sleep(5 * time.Millisecond)
	}
	return selfCPU() - start, time.Duration(tc.childCPU.Load())
}

// BenchmarkTranscoderGoCPU is BenchmarkTranscoderCPU's pipeline alone, for
// profiling the Go side: go-cpu-ms is what this process spends per 20 s
// clip besides its ffmpeg (the budget is about 5% of ffmpeg-cpu-s).
func BenchmarkTranscoderGoCPU(b *testing.B) {
	path := benchClip(b)
	opts := Options{SegmentDuration: time.Second, Outputs: Outputs{HLS: true}}.withDefaults()
	var self, child time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s, c := transcodeFile(b, opts, path)
		self += s
		child += c
	}
	b.ReportMetric(float64(self.Microseconds())/1000/float64(b.N), "go-cpu-ms")
	b.ReportMetric(child.Seconds()/float64(b.N), "its-ffmpeg-cpu-s")
}

func mustHeader2(b *testing.B, hdr []byte) *asfHeader {
	h, err := parseHeaderCopy(hdr)
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// rss returns this process's resident set size in bytes.
func rss() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// BenchmarkPassthrough100Viewers measures the memory one passthrough
// channel costs with 100 progressive viewers reading it over loopback HTTP,
// while 10 MB of packets flow through at about 16 Mbit/s (goal: at most 20 MB). The
// figure includes the 100 client connections, which live in this process.
func BenchmarkPassthrough100Viewers(b *testing.B) {
	hdr, pkts := readClip(b, benchClip(b))
	runtime.GC()
	before, beforeHeap := rss(), heapInuse()
	var peak, peakHeap int64
	for range b.N {
		p, _ := New(Options{Outputs: Outputs{ASF: true}})
		srv := hlsServer(b, p.ServeHLS, p.ServeASF)
		if err := p.WriteHeader(hdr); err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		for range 100 {
			res, err := http.Get(srv.URL + "/asf")
			if err != nil {
				b.Fatal(err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}()
		}
		for p.Viewers() < 100 {
			time.Sleep(time.Millisecond)
		}
		sent := 0
		// 10 MB at about 16 Mbit/s: a live pace, ten times a rich 2000s stream
		for i := 0; sent < 10<<20; i++ {
			pk := pkts[i%len(pkts)]
			if err := p.WritePacket(pk); err != nil {
				b.Fatal(err)
			}
			sent += len(pk)
			if i%32 == 31 {
				time.Sleep(50 * time.Millisecond)
				peak, peakHeap = max(peak, rss()), max(peakHeap, heapInuse())
			}
		}
		if v := p.Viewers(); v != 100 {
			b.Errorf("%d viewers left: the fan-out dropped readers", v)
		}
		p.Close()
		wg.Wait()
		srv.Close()
		b.SetBytes(int64(sent))
	}
	// peaks over every round, against the process before the first
	b.ReportMetric(float64(peak-before)/(1<<20), "MB-RSS")
	b.ReportMetric(float64(peakHeap-beforeHeap)/(1<<20), "MB-heap")
}

func heapInuse() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapInuse)
}

// BenchmarkWritePacketPassthrough: the per-packet cost of parsing and
// fanning out to 10 viewers that keep up (queues drained in the benchmark).
func BenchmarkWritePacketPassthrough(b *testing.B) {
	hdr, pkts := readClip(b, benchClip(b))
	p, _ := New(Options{Outputs: Outputs{ASF: true}})
	defer p.Close()
	if err := p.WriteHeader(hdr); err != nil {
		b.Fatal(err)
	}
	var vs []*viewer
	for range 10 {
		v := &viewer{q: make(chan qitem, 1024), end: make(chan struct{}), started: true}
		p.pass.viewers[v] = struct{}{}
		vs = append(vs, v)
	}
	b.SetBytes(int64(len(pkts[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := p.WritePacket(pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
		for _, v := range vs {
			<-v.q
		}
	}
}

type asfHeader = asf.Header

func parseHeaderCopy(b []byte) (*asf.Header, error) {
	return asf.ParseHeader(append([]byte(nil), b...))
}
