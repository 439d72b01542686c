package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

// serveBoth serves dir over MMS and MMSH (the server's mmsh.Handler on a
// port of its own) and returns the mms:// base URL and the MMSH port.
func serveBoth(t *testing.T, dir string) (string, int) {
	t.Helper()
	srv := &mmsserver.Server{Dir: dir, Rate: 50}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	ts := httptest.NewServer(srv.HTTPHandler())
	t.Cleanup(func() {
		ts.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		<-done
	})
	return "mms://" + ln.Addr().String() + "/", ts.Listener.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port where nothing listens.
func closedPort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return p
}

func mediaDir(t *testing.T) (string, map[string]string) {
	t.Helper()
	wmv, err := fixture.Generate(context.Background(), fixture.CacheDir(), fixture.WMV2())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"wmv2.wmv": wmv}
	if p, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "media", "glass.wmv")); err == nil {
		if _, err := os.Stat(p); err == nil {
			files["glass.wmv"] = p
		}
	}
	dir := t.TempDir()
	for name, src := range files {
		if err := os.Symlink(src, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

func samePackets(t *testing.T, src, out string) {
	t.Helper()
	want, got := probe(t, src), probe(t, out)
	if len(got) != len(want) {
		t.Fatalf("%d media packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("media packet %d: %s, want %s", i, got[i], want[i])
		}
	}
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

// -transport http (an mms:// URL played over MMSH on -http-port) and
// mmsh:// URLs write the source's media packets (ffprobe md5s).
func TestMMSHIdentity(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	dir, files := mediaDir(t)
	base, port := serveBoth(t, dir)
	for name, src := range files {
		for _, form := range []string{"transport-http", "mmsh-url"} {
			t.Run(form+"/"+name, func(t *testing.T) {
				out := filepath.Join(t.TempDir(), "out.asf")
				statsPath := filepath.Join(t.TempDir(), "stats.json")
				c := &config{transport: "http", httpPort: port, out: out, url: base + name, stats: statsPath,
					quiet: true, streams: allStreams(t, src)}
				if form == "mmsh-url" {
					c.transport, c.httpPort = "auto", 80
					c.url = "mmsh://127.0.0.1:" + strconv.Itoa(port) + "/" + name
				}
				if err := run(context.Background(), c, os.Stdout, os.Stderr); err != nil {
					t.Fatal(err)
				}
				samePackets(t, src, out)
				st := readReport(t, statsPath)
				if st.Transport != "http" || st.PacketsReceived == 0 || len(st.Attempts) != 1 || st.Attempts[0].Transport != "http" {
					t.Errorf("stats: %+v", st.Stats)
				}
			})
		}
	}
}

// An ASX metafile whose first reference is dead and whose second is the
// server plays the second (issue 9 item 5); the statistics carry the
// metafile's title and the failed reference.
func TestASXMetafile(t *testing.T) {
	if _, err := exec.LookPath("ffprobe"); err != nil {
		t.Skip("ffprobe not installed")
	}
	dir, files := mediaDir(t)
	base, _ := serveBoth(t, dir)
	dead := fmt.Sprintf("mms://127.0.0.1:%d/wmv2.wmv", closedPort(t))
	asxBody := `<ASX VERSION="3.0"><TITLE>Test Radio</TITLE><AUTHOR>mmsgate</AUTHOR>
<ENTRY><REF HREF="` + dead + `"/><REF HREF="` + base + `wmv2.wmv"/></ENTRY></ASX>`
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "video/x-ms-asf")
		_, _ = w.Write([]byte(asxBody))
	}))
	defer web.Close()
	out := filepath.Join(t.TempDir(), "out.asf")
	statsPath := filepath.Join(t.TempDir(), "stats.json")
	c := &config{transport: "auto", httpPort: closedPort(t), out: out, url: web.URL + "/radio.asx", stats: statsPath,
		quiet: true, udpTimeout: 3 * time.Second, streams: allStreams(t, files["wmv2.wmv"])}
	if err := run(context.Background(), c, os.Stdout, os.Stderr); err != nil {
		t.Fatal(err)
	}
	samePackets(t, files["wmv2.wmv"], out)
	st := readReport(t, statsPath)
	if st.Title != "Test Radio" || st.Author != "mmsgate" || st.Metafile == "" {
		t.Errorf("metafile in stats: %q %q %q", st.Metafile, st.Title, st.Author)
	}
	if len(st.Refs) != 2 || st.Refs[0].URL != dead || !strings.Contains(st.Refs[0].Error, "refused") || st.Refs[1].Error != "" {
		t.Errorf("refs in stats: %+v", st.Refs)
	}
	if st.Transport != "udp" {
		t.Errorf("second reference played over %q", st.Transport)
	}
}
