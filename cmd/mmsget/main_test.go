package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsclient"
	"github.com/mmsgate/mmsgate/mmsserver"
)

func serve(t *testing.T, dir string, cfg func(*mmsserver.Server)) string {
	t.Helper()
	srv := &mmsserver.Server{Dir: dir, Rate: 50}
	if cfg != nil {
		cfg(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "mms://" + ln.Addr().String() + "/"
}

// probe lists the media packets ffprobe finds: stream, time, size, flags
// and an MD5 of the data.
func probe(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_data_hash", "md5",
		"-show_entries", "packet=stream_index,pts,dts,size,flags,data_hash", "-of", "csv=p=0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", path, err, out)
	}
	if bytes.Contains(out, []byte("invalid")) || bytes.Contains(out, []byte("rror")) {
		t.Errorf("ffprobe complains about %s:\n%s", path, out)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func TestMediaIdentity(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	ctx := context.Background()
	wmv, err := fixture.Generate(ctx, fixture.CacheDir(), fixture.WMV2())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"wmv2.wmv": wmv}
	for _, f := range []string{"glass.wmv", "jeanne.wma", "Sire.wma", "laure_multi.wma"} {
		p := filepath.Join("..", "..", "..", "shared", "media", f)
		if _, err := os.Stat(p); err == nil {
			files[f] = p
		}
	}
	dir := t.TempDir()
	for name, src := range files {
		abs, _ := filepath.Abs(src)
		if err := os.Symlink(abs, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, strip := range []string{mmsserver.StripMulti, mmsserver.StripAll} {
		base := serve(t, dir, func(s *mmsserver.Server) { s.StripPadding = strip })
		for _, transport := range []string{"tcp", "udp"} {
			for name, src := range files {
				t.Run(strip+"/"+transport+"/"+name, func(t *testing.T) {
					out := filepath.Join(t.TempDir(), "out.asf")
					statsPath := filepath.Join(t.TempDir(), "stats.json")
					// All streams: the source's packets must come back unchanged.
					c := &config{transport: transport, out: out, url: base + name, stats: statsPath, quiet: true,
						streams: allStreams(t, src)}
					if err := run(ctx, c, os.Stdout, os.Stderr); err != nil {
						t.Fatal(err)
					}
					want, got := probe(t, src), probe(t, out)
					if len(got) != len(want) {
						t.Fatalf("%d media packets, want %d", len(got), len(want))
					}
					for i := range want {
						if got[i] != want[i] {
							t.Fatalf("media packet %d: %s, want %s", i, got[i], want[i])
						}
					}
					var st mmsclient.Stats
					b, err := os.ReadFile(statsPath)
					if err != nil {
						t.Fatal(err)
					}
					if err := json.Unmarshal(b, &st); err != nil {
						t.Fatal(err)
					}
					if st.Transport != transport || st.PacketsReceived == 0 || len(st.Attempts) == 0 {
						t.Errorf("stats: %s", b)
					}
				})
			}
		}
	}
}

func allStreams(t *testing.T, path string) []uint16 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	af, err := asfOpen(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	var n []uint16
	for _, s := range af.Header.Streams {
		n = append(n, s.StreamNumber)
	}
	return n
}

func TestFlags(t *testing.T) {
	c, err := parseFlags(strings.Fields("-transport udp -o x.asf -duration 30s -bandwidth 300000 -streams 1,2 -lang en -start 10s -user U -password P -stats s.json mms://h/p.wmv"), os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	if c.transport != "udp" || c.out != "x.asf" || c.duration != 30*time.Second || c.bandwidth != 300000 ||
		len(c.streams) != 2 || c.lang != "en" || c.start != 10*time.Second || c.user != "U" || c.pass != "P" || c.stats != "s.json" {
		t.Errorf("%+v", c)
	}
	if c, _ := parseFlags([]string{"mms://h/dir/live"}, os.Stderr); c.out != "live.asf" || c.transport != "auto" {
		t.Errorf("defaults: %+v", c)
	}
	if c, _ := parseFlags([]string{"-transport", "http", "http://h/radio/listen.asx"}, os.Stderr); c.out != "listen.asf" || c.transport != "http" || c.httpPort != 80 {
		t.Errorf("http: %+v", c)
	}
	for _, bad := range []string{"-transport rtsp mms://h/x", "-http-port 0 mms://h/x", "-streams 0 mms://h/x", "-streams a mms://h/x", ""} {
		if _, err := parseFlags(strings.Fields(bad), &bytes.Buffer{}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDurationAndPartialFile(t *testing.T) {
	spec := fixture.WMV2()
	spec.Duration = 10 * time.Second
	src, err := fixture.Generate(context.Background(), fixture.CacheDir(), spec)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	_ = os.Symlink(src, filepath.Join(dir, "a.wmv"))
	base := serve(t, dir, nil)
	out := filepath.Join(t.TempDir(), "part.asf")
	c := &config{transport: "tcp", out: out, url: base + "a.wmv", duration: 3 * time.Second, quiet: true}
	if err := run(context.Background(), c, os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
	pk := probe(t, out)
	if len(pk) < 10 {
		t.Fatalf("only %d packets in the partial file", len(pk))
	}
	full := probe(t, src)
	if len(pk) >= len(full) {
		t.Errorf("partial file has %d packets, the whole %d", len(pk), len(full))
	}
}
