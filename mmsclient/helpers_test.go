package mmsclient

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/asf"
	"github.com/mmsgate/mmsgate/event"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// clip returns a short fixture clip, made with ffmpeg once and cached.
func clip(t testing.TB, spec fixture.Spec) string {
	t.Helper()
	return fixture.Clip(t, spec)
}

// serveDir starts an mmsserver on a loopback port serving dir, configured by
// cfg, and returns its mms:// base URL.
func serveDir(t testing.TB, dir string, cfg func(*mmsserver.Server)) (*mmsserver.Server, string) {
	t.Helper()
	srv := &mmsserver.Server{Dir: dir}
	if cfg != nil {
		cfg(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return srv, "mms://" + ln.Addr().String() + "/"
}

// dirWith makes a directory holding the given files under the given names.
func dirWith(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// eventLog collects events safely.
type eventLog struct {
	mu  sync.Mutex
	evs []event.Event
}

func (l *eventLog) add(e event.Event) {
	l.mu.Lock()
	l.evs = append(l.evs, e)
	l.mu.Unlock()
}

func (l *eventLog) kinds(k event.Kind) []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event.Event
	for _, e := range l.evs {
		if e.Kind == k {
			out = append(out, e)
		}
	}
	return out
}

// readAll reads every item of a session until EOF.
func readAll(t testing.TB, s *Session) (headers [][]byte, packets [][]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for {
		it, err := s.Next(ctx)
		if err == io.EOF {
			return headers, packets
		}
		if err != nil {
			t.Fatalf("Next after %d packets: %v", len(packets), err)
		}
		if it.Header != nil {
			headers = append(headers, it.Header)
		} else {
			packets = append(packets, it.Packet)
		}
	}
}

// sourcePackets reads the data packets of an ASF file.
func sourcePackets(t testing.TB, path string) (*asf.File, [][]byte) {
	t.Helper()
	return fixture.Packets(t, path)
}

// checkNoLeak fails when goroutines of this package's sessions outlive the test.
func checkNoLeak(t *testing.T) {
	t.Cleanup(func() {
		var stacks string
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			buf := make([]byte, 1<<20)
			stacks = string(buf[:runtime.Stack(buf, true)])
			if !strings.Contains(stacks, "mmsclient.(*Session)") {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Errorf("session goroutines leaked:\n%s", stacks)
	})
}

// objectKey names a media object; object numbers wrap (often 8 bits), so
// the presentation time is part of the key.
type objectKey struct {
	stream uint8
	number uint32
	pts    uint32
}

// mediaObjects returns the media objects that the packets carry completely.
func mediaObjects(t testing.TB, packets [][]byte) map[objectKey]bool {
	t.Helper()
	got := map[objectKey]uint32{}
	size := map[objectKey]uint32{}
	var p asf.Packet
	for _, b := range packets {
		if err := p.Unmarshal(b); err != nil {
			t.Fatalf("packet does not parse: %v", err)
		}
		for _, pl := range p.Payloads {
			k := objectKey{pl.StreamNumber, pl.MediaObjectNumber, pl.PresentationTime}
			if pl.Compressed {
				got[k], size[k] = 1, 1
				continue
			}
			got[k] += uint32(len(pl.Data))
			size[k] = pl.MediaObjectSize
		}
	}
	out := map[objectKey]bool{}
	for k, n := range got {
		if n == size[k] {
			out[k] = true
		}
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
