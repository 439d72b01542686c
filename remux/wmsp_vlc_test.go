package remux

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestPassthroughWMSPVLC: VLC's mmsh access plays the passthrough across a
// playlist change (WriteHeader of entry A, its packets, WriteHeader of
// entry B, its packets) and its dump holds every media object of both
// entries. Timestamps restart at the change, so objects are compared
// without their pts, in any order.
func TestPassthroughWMSPVLC(t *testing.T) {
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
	specA, specB := fixture.WMV2(), fixture.MSMPEG4()
	specA.Duration, specB.Duration = 3*time.Second, 3*time.Second
	a, b := clip(t, specA), clip(t, specB)
	ha, pa := readClip(t, a)
	hb, pb := readClip(t, b)
	p, err := New(Options{Outputs: Outputs{ASF: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	srv := hlsServer(t, p.ServeHLS, p.ServeASF)
	if err := p.WriteHeader(ha); err != nil {
		t.Fatal(err)
	}

	dir, err := os.MkdirTemp("", "remux-vlc-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil { // VLC runs as nobody
		t.Fatal(err)
	}
	out := filepath.Join(dir, "dump.asf")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	url := "mmsh://" + strings.TrimPrefix(srv.URL, "http://") + "/asf"
	vlc := exec.CommandContext(ctx, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"cvlc", "-I", "dummy", "--no-lua", "--demux=dump", "--demuxdump-file="+out, url, "vlc://quit")
	log := &strings.Builder{}
	vlc.Stdout, vlc.Stderr = log, log
	if err := vlc.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "VLC to play", func() bool { return p.Viewers() == 1 })
	write := func(pkts [][]byte) {
		for _, pk := range pkts {
			if err := p.WritePacket(pk); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	write(pa)
	if err := p.WriteHeader(hb); err != nil {
		t.Fatal(err)
	}
	write(pb)
	if n := p.Viewers(); n != 1 {
		t.Errorf("%d viewers after the entry change, want VLC kept", n)
	}
	p.Close() // End: VLC finishes its dump and quits
	if err := vlc.Wait(); err != nil {
		t.Fatalf("vlc: %v\n%s", err, log)
	}
	want := mediaObjects(t, a)
	want = append(want, mediaObjects(t, b)...)
	slices.Sort(want)
	got := mediaObjects(t, out)
	slices.Sort(got)
	if len(got) != len(want) {
		t.Errorf("VLC dumped %d media objects, want %d", len(got), len(want))
	}
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			t.Fatalf("media object %d: got %s, want %s\n%s", i, got[i], want[i], log)
		}
	}
}

// mediaObjects lists a file's packets as "stream,md5 of payload", as
// ffprobe reads them.
func mediaObjects(t *testing.T, path string) []string {
	t.Helper()
	b, err := exec.Command("ffprobe", "-v", "error", "-show_packets", "-show_data_hash", "md5",
		"-show_entries", "packet=stream_index,data_hash", "-of", "csv=p=0", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("ffprobe found no packets in %s", path)
	}
	return lines
}
