package mmsserver

import (
	"context"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// clip returns a fixture clip, made once per machine.
func clip(t *testing.T, spec fixture.Spec) string {
	t.Helper()
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		t.Skip("ffmpeg not installed")
	}
	return fixture.Clip(t, spec)
}

func testLogger(testing.TB) *slog.Logger {
	if os.Getenv("MMSD_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// serve starts srv on a loopback port and shuts it down at the end of the
// test, checking that no goroutine of the server is left.
func serve(t *testing.T, srv *Server) string {
	t.Helper()
	if srv.Logger == nil {
		srv.Logger = testLogger(t)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-done; err != ErrServerClosed {
			t.Errorf("Serve returned %v", err)
		}
	})
	return ln.Addr().String()
}

// checkGoroutines fails the test if goroutines started during it are still
// running once it ends (after the server's cleanup).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, buf)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// packets lists what ffprobe sees: one "stream,pts,hash" line per packet.
// Packets without a time (attached pictures) are left out.
func packets(t *testing.T, path string, extra ...string) []string {
	t.Helper()
	args := append([]string{"-v", "error", "-show_packets", "-show_data_hash", "md5",
		"-show_entries", "packet=stream_index,pts,data_hash", "-of", "csv"}, extra...)
	args = append(args, path)
	out, err := exec.Command("ffprobe", args...).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if l != "" && !strings.Contains(l, ",N/A,") {
			lines = append(lines, l)
		}
	}
	return lines
}

// remux is what `ffmpeg -c copy -f asf` makes of a local file: the
// reference for what the same command makes of the stream.
func remux(t *testing.T, src string, args ...string) string {
	t.Helper()
	out := t.TempDir() + "/ref.asf"
	a := append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", src}, args...) // args: output options
	a = append(a, "-c", "copy", "-map", "0", "-f", "asf", out)
	if b, err := exec.Command("ffmpeg", a...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg remux %s: %v\n%s", src, err, b)
	}
	return out
}

func samePackets(t *testing.T, want, got []string) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("reference has no packets")
	}
	if len(got) != len(want) {
		t.Errorf("got %d packets, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("packet %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
