// Command fanout measures how many HLS requests per second the gateway
// serves to N concurrent viewers of one channel, beside nginx serving the
// same playlist and segments from disk in the same run, and the
// click-to-first-frame time of an idle on-demand channel.
//
//	go run ./bench/fanout -viewers 2000 -duration 10s
//
// The gateway runs in-process with an in-process MMS server looping an
// H.264+AAC clip; nginx (if installed) gets a copy of the playlist and its
// segments. Each viewer is a goroutine with its own keep-alive connection
// that fetches the media playlist and then its newest segment, in a loop.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mmsgate/mmsgate/app"
	"github.com/mmsgate/mmsgate/internal/fixture"
	"github.com/mmsgate/mmsgate/mmsserver"
)

func main() {
	viewers := flag.Int("viewers", 2000, "concurrent HLS viewers")
	duration := flag.Duration("duration", 10*time.Second, "load duration per target")
	nginxPath := flag.String("nginx", "nginx", "nginx binary; empty to skip the comparison")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the gateway load phase here")
	flag.Parse()
	profile = *cpuProfile
	if err := run(*viewers, *duration, *nginxPath); err != nil {
		log.Fatal(err)
	}
}

var profile string

func run(viewers int, duration time.Duration, nginxPath string) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "mmsgate-fanout-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	spec := fixture.H264()
	spec.Duration = 10 * time.Second
	clip, err := fixture.Generate(ctx, filepath.Join(os.TempDir(), "mmsgate-fixtures"), spec)
	if err != nil {
		return err
	}
	up := &mmsserver.Server{}
	if err := up.AddLive("live", clip); err != nil {
		return err
	}
	upLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go up.Serve(upLn)
	defer up.Shutdown(ctx)

	a, err := app.New(ctx, app.Config{DataDir: filepath.Join(tmp, "data"), NoDemo: true, APIToken: "bench",
		AllowUpstream: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:        slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer a.Close(ctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: a.Handler()}
	go srv.Serve(ln)
	defer srv.Close()
	base := "http://" + ln.Addr().String()

	for _, c := range []string{`{"name":"bench","url":"mms://` + upLn.Addr().String() + `/live","on_demand":false,"transport":"tcp"}`,
		`{"name":"cold","url":"mms://` + upLn.Addr().String() + `/live","on_demand":true,"transport":"tcp"}`} {
		req, _ := http.NewRequest("POST", base+"/api/v1/channels", strings.NewReader(c))
		req.Header.Set("Authorization", "Bearer bench")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != 201 {
			return fmt.Errorf("create channel: %d", resp.StatusCode)
		}
	}

	// Click to first frame of the idle on-demand channel: the playlists,
	// the init section and the first segment.
	start := time.Now()
	if _, err := fetchFirstSegment(base + "/hls/cold/"); err != nil {
		return fmt.Errorf("cold start: %w", err)
	}
	fmt.Printf("click-to-first-frame (idle on-demand channel): %v (goal <= 2s)\n", time.Since(start).Round(time.Millisecond))

	media, err := fetchFirstSegment(base + "/hls/bench/")
	if err != nil {
		return err
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
	}
	gw := load(base+"/hls/bench/", media, viewers, duration)
	if profile != "" {
		pprof.StopCPUProfile()
	}
	fmt.Printf("gateway: %d viewers, %.0f req/s, %d errors, %.1f MB/s\n", viewers, gw.rps, gw.errors, gw.mbps)

	if nginxPath == "" {
		return nil
	}
	if _, err := exec.LookPath(nginxPath); err != nil {
		fmt.Println("nginx: not installed (apt-get install -y nginx), comparison skipped")
		return nil
	}
	root := filepath.Join(tmp, "www")
	if err := snapshot(base+"/hls/bench/", media, filepath.Join(root, "hls", "bench")); err != nil {
		return err
	}
	// A Go static file server on the same snapshot: what net/http itself
	// costs, apart from the gateway.
	gln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	gsrv := &http.Server{Handler: http.FileServer(http.Dir(root))}
	go gsrv.Serve(gln)
	gs := load("http://"+gln.Addr().String()+"/hls/bench/", media, viewers, duration)
	gsrv.Close()
	fmt.Printf("Go file server: %d viewers, %.0f req/s, %d errors, %.1f MB/s\n", viewers, gs.rps, gs.errors, gs.mbps)
	nbase, stop, err := startNginx(nginxPath, tmp, root)
	if err != nil {
		return err
	}
	defer stop()
	ng := load(nbase+"/hls/bench/", media, viewers, duration)
	fmt.Printf("nginx:   %d viewers, %.0f req/s, %d errors, %.1f MB/s\n", viewers, ng.rps, ng.errors, ng.mbps)
	if ng.rps > 0 {
		fmt.Printf("gateway/nginx: %.2fx (goal >= 0.5x), Go file server/nginx: %.2fx\n", gw.rps/ng.rps, gs.rps/ng.rps)
	}
	return nil
}

// playlistURIs returns the non-comment lines of a playlist.
func playlistURIs(pl string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(pl))
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
		if i := strings.Index(l, `URI="`); i >= 0 {
			if j := strings.IndexByte(l[i+5:], '"'); j >= 0 {
				out = append(out, l[i+5:i+5+j])
			}
		}
	}
	return out
}

func get(c *http.Client, u string) ([]byte, error) {
	resp, err := c.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return b, fmt.Errorf("%s: %d", u, resp.StatusCode)
	}
	return b, err
}

// fetchFirstSegment loads the multivariant playlist and the first video
// media playlist, then its init section and first segment; it returns the
// media playlist's name.
func fetchFirstSegment(base string) (string, error) {
	mv, err := get(http.DefaultClient, base+"index.m3u8")
	if err != nil {
		return "", err
	}
	var media string
	for _, u := range playlistURIs(string(mv)) {
		if strings.HasSuffix(u, ".m3u8") && strings.Contains(u, "video") || media == "" && strings.HasSuffix(u, ".m3u8") {
			media = u
		}
	}
	if media == "" {
		return "", errors.New("no media playlist")
	}
	pl, err := get(http.DefaultClient, base+media)
	if err != nil {
		return "", err
	}
	uris := playlistURIs(string(pl))
	if len(uris) == 0 {
		return "", errors.New("empty media playlist")
	}
	for _, u := range uris[:min(2, len(uris))] { // init section, first segment
		if _, err := get(http.DefaultClient, base+u); err != nil {
			return "", err
		}
	}
	return media, nil
}

// snapshot copies the playlists and the segments they name to dir.
func snapshot(base, media, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	pl, err := get(http.DefaultClient, base+media)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, media), pl, 0o644); err != nil {
		return err
	}
	for _, u := range playlistURIs(string(pl)) {
		b, err := get(http.DefaultClient, base+u)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(u)), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func startNginx(bin, tmp, root string) (string, func(), error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	conf := filepath.Join(tmp, "nginx.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`daemon off;
worker_processes auto;
pid %[1]s/nginx.pid;
error_log %[1]s/nginx-error.log;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path %[1]s;
  proxy_temp_path %[1]s;
  fastcgi_temp_path %[1]s;
  uwsgi_temp_path %[1]s;
  scgi_temp_path %[1]s;
  keepalive_requests 1000000;
  sendfile on;
  types { application/vnd.apple.mpegurl m3u8; video/mp4 mp4; }
  default_type application/octet-stream;
  server {
    listen %[2]s;
    root %[3]s;
    add_header Access-Control-Allow-Origin *;
  }
}
`, tmp, addr, root)), 0o644)
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command(bin, "-c", conf, "-p", tmp)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	// SIGTERM makes the master stop its workers too (a SIGKILL would
	// orphan them).
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return "http://" + addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, errors.New("nginx did not start")
}

type result struct {
	rps    float64
	mbps   float64
	errors int64
}

// load runs viewers goroutines for d: each fetches the media playlist and
// then the newest segment it names, on its own keep-alive connection.
func load(base, media string, viewers int, d time.Duration) result {
	var reqs, bytes, errs atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var wg sync.WaitGroup
	for i := 0; i < viewers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
			fetch := func(u string) []byte {
				req, _ := http.NewRequestWithContext(ctx, "GET", u, nil)
				resp, err := c.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
					}
					return nil
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if ctx.Err() != nil {
					return nil
				}
				if err != nil || resp.StatusCode != 200 {
					errs.Add(1)
					return nil
				}
				reqs.Add(1)
				bytes.Add(int64(len(b)))
				return b
			}
			for ctx.Err() == nil {
				pl := fetch(base + media)
				uris := playlistURIs(string(pl))
				if len(uris) > 0 {
					fetch(base + uris[len(uris)-1])
				}
			}
		}()
	}
	start := time.Now()
	wg.Wait()
	el := time.Since(start).Seconds()
	return result{rps: float64(reqs.Load()) / el, mbps: float64(bytes.Load()) / el / 1e6, errors: errs.Load()}
}
