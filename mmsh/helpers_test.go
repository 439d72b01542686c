package mmsh

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// clip returns a short fixture clip, made with ffmpeg once and cached.
func clip(t testing.TB, spec fixture.Spec) string {
	t.Helper()
	return fixture.Clip(t, spec)
}

// serve starts h on a loopback port and returns its host:port.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		srv.Close()
	})
	return ln.Addr().String()
}

// probe lists the media packets ffprobe finds: stream, size, flags and an
// MD5 of the data.
func probe(t testing.TB, path string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_data_hash", "md5",
		"-show_entries", "packet=stream_index,pts,size,flags,data_hash", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// samePackets compares two probe listings line by line.
func samePackets(t testing.TB, want, got []string) {
	t.Helper()
	if len(want) < 10 {
		t.Fatalf("source has only %d packets", len(want))
	}
	if len(want) != len(got) {
		t.Errorf("%d packets, want %d", len(got), len(want))
	}
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Fatalf("packet %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

func needTool(t testing.TB, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			t.Skipf("%s not installed", n)
		}
	}
}

func runCmd(t testing.TB, timeout time.Duration, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, out.String())
	}
	return out.Bytes()
}
