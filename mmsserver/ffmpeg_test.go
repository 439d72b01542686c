package mmsserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// sharedMedia holds the Microsoft-made files: in git under asf/testdata,
// and in the workspace's shared folder.
var sharedMedia = func() string {
	for _, d := range []string{"../asf/testdata/media", "../../shared/media"} {
		if _, err := os.Stat(filepath.Join(d, "glass.wmv")); err == nil {
			return d
		}
	}
	return "../asf/testdata/media"
}()

// ffmpegPlay runs `ffmpeg -i mmst://addr/name -c copy -f asf out`.
func ffmpegPlay(t *testing.T, addr, name string, extra ...string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "out.asf")
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y", "-i", "mmst://" + addr + "/" + name}
	args = append(args, extra...)
	args = append(args, "-c", "copy", "-map", "0", "-f", "asf", out)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	b, err := exec.CommandContext(ctx, "ffmpeg", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg %s: %v\n%s", name, err, b)
	}
	return out
}

// TestFFmpegTCP is the acceptance test: FFmpeg plays over mmst and the
// packets it records are those it records from the file itself.
func TestFFmpegTCP(t *testing.T) {
	checkGoroutines(t)
	dir := t.TempDir()
	short := func(s fixture.Spec) fixture.Spec { s.Duration = 4 * time.Second; return s }
	files := map[string]string{
		"wmv2.wmv":    clip(t, short(fixture.WMV2())),
		"msmpeg4.wmv": clip(t, short(fixture.MSMPEG4())),
		"audio.wma":   clip(t, short(fixture.AudioOnly())),
	}
	for name, src := range files {
		copyFile(t, src, filepath.Join(dir, name))
	}
	// Microsoft-made files.
	for _, name := range []string{"glass.wmv", "jeanne.wma", "Sire.wma"} {
		if _, err := os.Stat(filepath.Join(sharedMedia, name)); err == nil {
			copyFile(t, filepath.Join(sharedMedia, name), filepath.Join(dir, name))
			files[name] = filepath.Join(dir, name)
		}
	}
	srv := &Server{Dir: dir, Unpaced: true, EndIdleTimeout: time.Second}
	addr := serve(t, srv)
	for name, src := range files {
		t.Run(name, func(t *testing.T) {
			got := packets(t, ffmpegPlay(t, addr, name))
			samePackets(t, packets(t, remux(t, src)), got)
		})
	}
	// laure_multi.wma (MP3 in ASF): FFmpeg's demuxer does not stop at the
	// end of its Data Object and its mmst keeps reading after EndOfStream
	// (it retries a read that returned 0 forever), so only 60 s are taken.
	if _, err := os.Stat(filepath.Join(sharedMedia, "laure_multi.wma")); err == nil {
		t.Run("laure_multi.wma", func(t *testing.T) {
			src := filepath.Join(dir, "laure_multi.wma")
			copyFile(t, filepath.Join(sharedMedia, "laure_multi.wma"), src)
			got := packets(t, ffmpegPlay(t, addr, "laure_multi.wma", "-t", "60"))
			samePackets(t, packets(t, remux(t, src, "-t", "60")), got)
		})
	}
}

// TestFFmpegPaddingPolicies: every policy gives FFmpeg the same packets
// except "all", which FFmpeg cannot read back (see StripMulti).
func TestFFmpegPaddingPolicies(t *testing.T) {
	dir := t.TempDir()
	copyFile(t, clip(t, fixture.AudioOnly()), filepath.Join(dir, "a.wma"))
	want := packets(t, remux(t, filepath.Join(dir, "a.wma")))
	for _, mode := range []string{StripMulti, StripNone} {
		t.Run(mode, func(t *testing.T) {
			addr := serve(t, &Server{Dir: dir, Unpaced: true, StripPadding: mode, EndIdleTimeout: time.Second})
			samePackets(t, want, packets(t, ffmpegPlay(t, addr, "a.wma")))
		})
	}
}

// TestFFmpegPaced: pacing by send time at rate 4 takes about a quarter of
// the clip's duration after the fast-start burst, and loses nothing.
func TestFFmpegPaced(t *testing.T) {
	dir := t.TempDir()
	spec := fixture.WMV2()
	spec.Duration = 4 * time.Second
	copyFile(t, clip(t, spec), filepath.Join(dir, "c.wmv"))
	addr := serve(t, &Server{Dir: dir, Rate: 4, FastStart: time.Second, EndIdleTimeout: time.Second})
	start := time.Now()
	got := packets(t, ffmpegPlay(t, addr, "c.wmv"))
	if el := time.Since(start); el < 500*time.Millisecond {
		t.Errorf("4 s clip at rate 4 with 1 s burst took %v: not paced", el)
	}
	samePackets(t, packets(t, remux(t, filepath.Join(dir, "c.wmv"))), got)
}

// TestFFmpegLive: a looped broadcast recorded for 8 s starts at a key
// frame and decodes without errors across the loop point.
func TestFFmpegLive(t *testing.T) {
	checkGoroutines(t)
	spec := fixture.WMV2()
	spec.Duration = 3 * time.Second
	spec.GOP = 25
	// Rate 2, not faster: a live broadcast does not wait for a slow reader,
	// and an FFmpeg starved of CPU on a busy CI machine would miss packets.
	srv := &Server{Rate: 2, EndIdleTimeout: time.Second}
	if err := srv.AddLive("live", clip(t, spec)); err != nil {
		t.Fatal(err)
	}
	addr := serve(t, srv)
	time.Sleep(700 * time.Millisecond) // join mid-stream
	out := ffmpegPlay(t, addr, "live", "-t", "8")
	// the first video packet is a key frame
	b, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time,flags",
		"-of", "csv", out).Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) < 100 || !strings.Contains(lines[0], "K") {
		t.Fatalf("recording has %d video packets, first %q", len(lines), lines[0])
	}
	// decodes without errors
	dec, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(dec))) > 0 {
		t.Fatalf("decoding the recording: %v\n%s", err, dec)
	}
	// the header says broadcast: FFmpeg sees no duration
	d, _ := exec.Command("ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
		"mmst://"+addr+"/live").Output()
	if s := strings.TrimSpace(string(d)); s != "N/A" && s != "" {
		t.Errorf("live duration %q, want none", s)
	}
}
