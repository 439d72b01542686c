package remux

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestPassthroughVLC: VLC plays the progressive ASF (live header: Broadcast
// flag, Data Object of unknown size) and transcodes what it demuxes into a
// file that ffprobe reads.
func TestPassthroughVLC(t *testing.T) {
	for _, tool := range []string{"cvlc", "setpriv"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	unlock, err := fixture.LockVLC() // one VLC at a time across packages
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	spec := fixture.WMV2()
	spec.Duration = 6 * time.Second
	hdr, pkts := readClip(t, clip(t, spec))
	p, err := New(Options{Outputs: Outputs{ASF: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	if err := p.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o777)
	for d := filepath.Dir(dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // VLC runs as nobody
	}
	out := filepath.Join(dir, "vlc.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	vlc := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"cvlc", "-I", "dummy", "--no-video-title-show", "--sout", "#std{access=file,mux=asf,dst="+out+"}",
		srv.URL+"/asf", "vlc://quit")
	log, _ := os.Create(filepath.Join(dir, "vlc.log"))
	vlc.Stdout, vlc.Stderr = log, log
	if err := vlc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "VLC to connect", func() bool { return p.Viewers() == 1 })
	for _, pk := range pkts {
		if err := p.WritePacket(pk); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.Close() // ends the response: VLC finishes its file and quits
	if err := vlc.Wait(); err != nil {
		b, _ := os.ReadFile(filepath.Join(dir, "vlc.log"))
		t.Fatalf("vlc: %v\n%s", err, b)
	}
	pr := ffprobe(t, out)
	if pr.codecs() != "audio:wmav2,video:wmv2" {
		b, _ := os.ReadFile(filepath.Join(dir, "vlc.log"))
		t.Errorf("VLC recorded %q\n%s", pr.codecs(), b)
	}
	cnt, err := exec.Command("ffprobe", "-v", "error", "-count_packets", "-select_streams", "v",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(cnt)))
	t.Logf("VLC recorded %d video frames of %d", n, 6*25)
	if n < 6*25*9/10 {
		t.Errorf("VLC recorded %d video frames of %d", n, 6*25)
	}
}
