package imagetest

import (
	"bufio"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

func TestMain(m *testing.M) {
	MaybeHelper()
	code := m.Run()
	if buildDir != "" && os.Getenv("MMSGATE_IMAGETEST_KEEP") == "" {
		os.RemoveAll(buildDir)
	} else if buildDir != "" {
		fmt.Fprintln(os.Stderr, "imagetest: kept the stage roots in", buildDir)
	}
	os.Exit(code)
}

// logFile collects RUN and container output; a failing test shows its end.
type logFile struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logFile) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := strings.Split(strings.TrimRight(l.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// debianMirrors reads this machine's apt sources: the Debian mirror and the
// security mirror that the emulated images use.
func debianMirrors() (mirror, security string) {
	mirror, security = "http://deb.debian.org/debian", "http://deb.debian.org/debian-security"
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*")
	files = append([]string{"/etc/apt/sources.list"}, files...)
	var found, foundSec bool
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			var uri string
			if f := strings.Fields(line); len(f) >= 3 && f[0] == "deb" {
				uri = f[1]
				if strings.HasPrefix(uri, "[") && len(f) >= 4 {
					uri = f[2]
				}
			} else if strings.HasPrefix(line, "URIs:") {
				uri = strings.TrimSpace(strings.TrimPrefix(line, "URIs:"))
			}
			uri = strings.TrimRight(uri, "/")
			switch {
			case strings.HasSuffix(uri, "/debian") && !found:
				mirror, found = uri, true
			case strings.HasSuffix(uri, "/debian-security") && !foundSec:
				security, foundSec = uri, true
			}
		}
	}
	return mirror, security
}

// requireFacilities skips when this machine cannot build the image at
// all; anything else that goes wrong fails.
func requireFacilities(t *testing.T, mirror, security string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: chroot, mounts and namespaces")
	}
	for _, bin := range []string{"debootstrap", "tar", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (apt-get install debootstrap ffmpeg)", bin)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, u := range []string{mirror + "/dists/bookworm/Release", security + "/dists/bookworm-security/Release"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Skipf("the Debian mirror %s is not reachable: %v", u, err)
		}
		resp.Body.Close()
	}
	// Namespaces may be forbidden in some sandboxes.
	if err := exec.Command("unshare", "--mount", "--pid", "--net", "--fork", "true").Run(); err != nil {
		t.Skipf("cannot create mount, PID and network namespaces: %v", err)
	}
}

func goEnv(t *testing.T, name string) string {
	t.Helper()
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", name, err)
	}
	return strings.TrimSpace(string(out))
}

// image builds deploy/Dockerfile once for every test of the package.
var image struct {
	once  sync.Once
	img   *Image
	err   error
	log   logFile // RUN output and steps
	steps logFile // steps only
	took  time.Duration
}

func buildImage(t *testing.T) *Image {
	t.Helper()
	mirror, security := debianMirrors()
	requireFacilities(t, mirror, security)
	image.once.Do(func() {
		start := time.Now()
		image.img, image.err = build(t, mirror, security)
		image.took = time.Since(start)
		t.Logf("build steps:\n%s", image.steps.tail(100))
	})
	if image.err != nil {
		t.Fatalf("building deploy/Dockerfile: %v\n--- output (end) ---\n%s", image.err, image.log.tail(60))
	}
	t.Logf("image built in %v (root %s)", image.took.Round(time.Second), image.img.Root)
	return image.img
}

// buildDir holds the stage roots of the package's build, shared by its
// tests; TestMain removes it.
var buildDir string

func build(t *testing.T, mirror, security string) (*Image, error) {
	f, err := os.Open("../Dockerfile")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	stages, err := Parse(f)
	if err != nil {
		return nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir() // no HOME: a cache that lasts until reboot
	}
	removeStale(os.TempDir())
	buildDir, err = os.MkdirTemp("", "mmsgate-imagetest-")
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(io.MultiWriter(&image.log, &image.steps), nil))
	// The build context is the working tree, as docker build . at the
	// repository root; MMSGATE_IMAGETEST_CONTEXT names another (a clean
	// export of HEAD while the working tree is mid-edit, say).
	buildContext := "../.."
	if c := os.Getenv("MMSGATE_IMAGETEST_CONTEXT"); c != "" {
		buildContext = c
	}
	b := &Builder{Context: buildContext, Dir: buildDir, Log: log, Output: &image.log,
		Bases: &Bases{CacheDir: filepath.Join(cache, "mmsgate", "imagetest"), Mirror: mirror, Security: security,
			GoRoot: goEnv(t, "GOROOT"), GoModCache: goEnv(t, "GOMODCACHE"), MaxAge: 7 * 24 * time.Hour,
			Log: log, Output: &image.log}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	return b.Build(ctx, stages)
}

// removeStale removes the build directories of runs that were killed
// before TestMain could (a build directory is about a gigabyte).
func removeStale(tmp string) {
	dirs, _ := filepath.Glob(filepath.Join(tmp, "mmsgate-imagetest-*"))
	for _, d := range dirs {
		if st, err := os.Stat(d); err == nil && st.IsDir() && time.Since(st.ModTime()) > 6*time.Hour {
			os.RemoveAll(d)
		}
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// eventually polls f (an HTTP service has no signal to wait on) until it
// returns "" or the deadline passes; the last complaint is the failure.
func eventually(t *testing.T, what string, d time.Duration, c *Container, f func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	last := ""
	for time.Now().Before(deadline) {
		if last = f(); last == "" {
			return
		}
		select {
		case <-c.Exited():
			code, err := c.Wait(context.Background())
			t.Fatalf("%s: the container exited (code %d, %v): %s", what, code, err, last)
		case <-time.After(500 * time.Millisecond):
		}
	}
	t.Fatalf("%s: not after %v: %s", what, d, last)
}

func ffprobeStreams(t *testing.T, url string) string {
	t.Helper()
	return fixture.ProbeCodecs(t, url, 90*time.Second)
}

// TestDockerRun is docker run -p 8080 with the image's defaults: the
// embedded demo, HLS and ASF of it, the data volume written by the
// non-root user, and a clean exit on STOPSIGNAL.
func TestDockerRun(t *testing.T) {
	img := buildImage(t)
	c := img.Config
	// A numeric USER, not root, known to the image's passwd (for HOME).
	uid, _, _ := strings.Cut(c.User, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Fatalf("USER %q: want a numeric non-root uid (Kubernetes' runAsNonRoot cannot check a name)", c.User)
	}
	u, err := lookupUser(img.Root, c.User)
	if err != nil {
		t.Fatal(err)
	}
	if u.home != "/data" {
		t.Fatalf("USER %s: home %q, want the data directory", c.User, u.home)
	}
	if len(c.Exposed) != 1 || c.Exposed[0] != "8080/tcp" {
		t.Fatalf("EXPOSE %v, want 8080/tcp (the port of MMSGATE_ADDR)", c.Exposed)
	}
	if addr, _ := lookup(c.Env, "MMSGATE_ADDR"); addr != ":8080" {
		t.Fatalf("MMSGATE_ADDR=%q, want :8080 to match EXPOSE", addr)
	}
	data, _ := lookup(c.Env, "MMSGATE_DATA")
	if !contains(c.Volumes, data) {
		t.Fatalf("VOLUME %v does not hold MMSGATE_DATA=%q", c.Volumes, data)
	}
	sig, err := ParseSignal(c.StopSignal)
	if err != nil || sig != syscall.SIGTERM {
		t.Fatalf("STOPSIGNAL %q: the gateway shuts down gracefully on SIGTERM", c.StopSignal)
	}

	// Multi-stage: the final image has the binary, static as the
	// Dockerfile says, and neither the toolchain nor the sources.
	bin, err := resolveIn(img.Root, c.Entrypoint[0])
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("ENTRYPOINT %s: %v", c.Entrypoint[0], err)
	}
	for _, p := range ef.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("ENTRYPOINT %s is dynamically linked", c.Entrypoint[0])
		}
	}
	ef.Close()
	for _, p := range []string{"/src", "/usr/local/go", "/go"} {
		if _, err := os.Stat(filepath.Join(img.Root, p)); err == nil {
			t.Errorf("the final image has %s", p)
		}
	}
	t.Logf("final image: %d MB", treeSize(t, img.Root)>>20)

	var out logFile
	ct, err := img.Start(RunOptions{Publish: 8080, VolumeDir: t.TempDir(), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			ct.Kill()
		}
		if t.Failed() {
			t.Logf("--- container output (end) ---\n%s", out.tail(40))
		}
	})
	base := "http://" + ct.Addr()
	for _, p := range []string{"/healthz", "/readyz"} {
		eventually(t, p, 2*time.Minute, ct, func() string {
			if code, body := get(t, base+p); code != http.StatusOK {
				return fmt.Sprintf("%d %s", code, body)
			}
			return ""
		})
	}
	// The demo: ffmpeg in the image makes the clip, the gateway plays it.
	// The gateway creates the channel before it listens, or never.
	if code, body := get(t, base+"/api/v1/channels/demo"); code != http.StatusOK {
		t.Fatalf("no demo channel: %d %s", code, body)
	}
	eventually(t, "demo channel live", 4*time.Minute, ct, func() string {
		code, body := get(t, base+"/api/v1/channels/demo/status")
		var st struct {
			State string `json:"state"`
		}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.State != "live" {
			return fmt.Sprintf("%d %s", code, body)
		}
		return ""
	})
	eventually(t, "HLS playlist", time.Minute, ct, func() string {
		code, body := get(t, base+"/hls/demo/index.m3u8")
		if code != http.StatusOK || !strings.HasPrefix(body, "#EXTM3U") {
			return fmt.Sprintf("%d %.200s", code, body)
		}
		return ""
	})
	for _, url := range []string{base + "/hls/demo/index.m3u8", base + "/asf/demo"} {
		streams := ffprobeStreams(t, url)
		if !strings.Contains(streams, "h264") || !strings.Contains(streams, "aac") {
			t.Fatalf("ffprobe %s: streams %q, want h264 and aac", url, streams)
		}
	}
	st := procStatus(t, ct.Pid())
	if uid := strings.Fields(st["Uid"]); len(uid) == 0 || uid[0] != strconv.Itoa(u.uid) {
		t.Fatalf("the gateway runs as uid %q, want %d", st["Uid"], u.uid)
	}
	if st["CapEff"] != "0000000000000000" {
		t.Fatalf("the gateway has capabilities %s", st["CapEff"])
	}
	vol := ct.Volumes[data]
	for _, name := range []string{"mmsgate.db", "api-token"} {
		uid, _, err := owner(filepath.Join(vol, name))
		if err != nil {
			t.Fatalf("the data volume: %v", err)
		}
		if uid != u.uid {
			t.Fatalf("%s/%s is owned by uid %d, want the image's user %d", data, name, uid, u.uid)
		}
	}

	if err := ct.Signal(sig); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, err := ct.Wait(ctx)
	stopped = err == nil
	if err != nil {
		t.Fatalf("no exit %v after %s: %v", time.Since(start), c.StopSignal, err)
	}
	if code != 0 {
		t.Fatalf("exit code %d after %s, want 0", code, c.StopSignal)
	}
	t.Logf("exited 0 %v after %s", time.Since(start).Round(time.Millisecond), c.StopSignal)
}

// helpFlags runs gateway --help in the image and returns its flags and
// their environment variables.
func helpFlags(t *testing.T, img *Image) (flags, envs map[string]bool) {
	t.Helper()
	var out logFile
	ct, err := img.Start(RunOptions{Args: []string{"-help"}, VolumeDir: t.TempDir(), Output: &out})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if code, err := ct.Wait(ctx); err != nil || code != 0 {
		ct.Kill()
		t.Fatalf("gateway -help: exit %d, %v\n%s", code, err, out.tail(40))
	}
	flags, envs = map[string]bool{}, map[string]bool{}
	re := regexp.MustCompile(`^\s+-([a-z0-9-]+) \((MMSGATE_[A-Z0-9_]+)\)`)
	sc := bufio.NewScanner(strings.NewReader(out.buf.String()))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			flags[m[1]], envs[m[2]] = true, true
		}
	}
	if len(flags) < 5 {
		t.Fatalf("gateway -help listed %d flags:\n%s", len(flags), out.tail(40))
	}
	return flags, envs
}

// treeSize is the size of the files under root, hard links counted once
// (Mesa's drivers are one file under many names).
func treeSize(t *testing.T, root string) int64 {
	t.Helper()
	var n int64
	seen := map[uint64]bool{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			n += info.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
