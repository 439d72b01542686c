package remux

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/internal/fixture"
)

// firstVideoFrame returns what ffprobe says of a file's first video frame.
func firstVideoFrame(t *testing.T, path string) string {
	t.Helper()
	p := ffprobe(t, path, "-select_streams", "v", "-read_intervals", "%+#1", "-show_entries", "frame=key_frame,pict_type")
	if len(p.Frames) == 0 {
		return "none"
	}
	return fmt.Sprintf("key_frame=%d", p.Frames[0].KeyFrame)
}

// TestPassthroughTenViewers: ten viewers join at different times; each gets
// the header and then packets from a key frame on, which ffprobe reads.
func TestPassthroughTenViewers(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 6 * time.Second
	path := clip(t, spec)
	p, err := New(Options{Outputs: Outputs{ASF: true}})
	if err != nil {
		t.Fatal(err)
	}
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	src := NewFileSource(3, false, path)
	first, err := src.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.WriteHeader(first.Header); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var wg sync.WaitGroup
	files := make([]string, 10)
	errs := make(chan error, 10)
	joined := make(chan struct{}, 10)
	for i := range files {
		files[i] = filepath.Join(dir, fmt.Sprintf("viewer%d.asf", i))
		wg.Add(1)
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(i) * 150 * time.Millisecond)
			res, err := http.Get(srv.URL + "/asf")
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			joined <- struct{}{}
			if res.StatusCode != 200 || res.Header.Get("Content-Type") != "video/x-ms-asf" {
				errs <- fmt.Errorf("viewer %d: %s %s", i, res.Status, res.Header.Get("Content-Type"))
				return
			}
			f, err := os.Create(files[i])
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := io.Copy(f, res.Body); err != nil {
				errs <- fmt.Errorf("viewer %d: %w", i, err)
			}
		}()
	}
	n := 0
	for {
		it, err := src.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := p.WritePacket(it.Packet); err != nil {
			t.Fatal(err)
		}
		n++
	}
	for range files {
		<-joined
	}
	waitFor(t, "viewers", func() bool { return p.Viewers() == 10 })
	// a new header ends every response: the players come back for it
	if err := p.WriteHeader(first.Header); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for i, f := range files {
		pr := ffprobe(t, f)
		st, _ := os.Stat(f)
		kf := firstVideoFrame(t, f)
		t.Logf("viewer %d: %d bytes, %s, %v, first video frame %s", i, st.Size(), pr.codecs(), pr.duration(), kf)
		if pr.codecs() != "audio:wmav2,video:wmv2" {
			t.Errorf("viewer %d: codecs %s", i, pr.codecs())
		}
		if kf != "key_frame=1" {
			t.Errorf("viewer %d: first video frame %s", i, kf)
		}
		decodeCheck(t, f)
		// the stream is the live header and whole packets, nothing else
		data, _ := os.ReadFile(f)
		rs := NewReaderSource(strings.NewReader(string(data)))
		it, err := rs.Next(ctx)
		if err != nil || it.Header == nil {
			t.Fatalf("viewer %d: %v", i, err)
		}
		h, _ := asf.ParseHeader(it.Header)
		if !h.FileProperties.Broadcast {
			t.Errorf("viewer %d: header without the Broadcast flag", i)
		}
		if (len(data)-len(it.Header))%h.PacketSize() != 0 {
			t.Errorf("viewer %d: %d bytes after the header, not whole packets", i, len(data)-len(it.Header))
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestPassthroughSlowViewerDropped: a viewer that stops reading is dropped
// once its queue is full; a viewer that reads gets every packet.
func TestPassthroughSlowViewerDropped(t *testing.T) {
	path := clip(t, fixture.WMV2())
	p, err := New(Options{Outputs: Outputs{ASF: true}, ViewerQueue: 256})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	ctx := context.Background()
	src := NewFileSource(0, false, path)
	first, _ := src.Next(ctx)
	if err := p.WriteHeader(first.Header); err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for {
		it, err := src.Next(ctx)
		if err != nil {
			break
		}
		pkts = append(pkts, bytes.Clone(it.Packet))
	}

	// the slow one: sends its request and never reads
	conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /asf HTTP/1.1\r\nHost: x\r\n\r\n")
	if _, err := http.ReadResponse(bufio.NewReader(conn), nil); err != nil {
		t.Fatal(err)
	}
	// the good one
	res, err := http.Get(srv.URL + "/asf")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan int64, 1)
	go func() {
		n, _ := io.Copy(io.Discard, res.Body)
		got <- n
	}()
	waitFor(t, "two viewers", func() bool { return p.Viewers() == 2 })

	// ~40 MB: far beyond what socket buffers hold for the slow viewer
	rounds := 40 << 20 / (len(pkts) * len(pkts[0]))
	sent := 0
	for r := 0; r < rounds; r++ {
		for _, pk := range pkts {
			if err := p.WritePacket(pk); err != nil {
				t.Fatal(err)
			}
			sent++
		}
		time.Sleep(20 * time.Millisecond) // the reading viewer keeps up; the other cannot
		if p.Viewers() == 1 {
			break
		}
	}
	waitFor(t, "the slow viewer dropped", func() bool { return p.Viewers() == 1 })
	p.Close()
	n := <-got
	res.Body.Close()
	want := int64(len(liveHeader(mustHeader(t, first.Header)))) + int64(sent*len(pkts[0]))
	if n != want {
		t.Errorf("reading viewer got %d bytes, want %d", n, want)
	}
}

func mustHeader(t *testing.T, b []byte) *asf.Header {
	t.Helper()
	h, err := asf.ParseHeader(append([]byte(nil), b...))
	if err != nil {
		t.Fatal(err)
	}
	return h
}
