package mmsh

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/mmsgate/mmsgate/internal/fixture"
)

// TestFFmpegPlays has FFmpeg's mmsh client play a file from Handler and
// checks that every media packet arrives intact.
func TestFFmpegPlays(t *testing.T) {
	needTool(t, "ffmpeg", "ffprobe")
	src := clip(t, fixture.WMV2())
	h := &Handler{Dir: filepath.Dir(src), Rate: 20}
	addr := serve(t, h)
	out := filepath.Join(t.TempDir(), "out.asf")
	runCmd(t, 2*time.Minute, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
		"-i", "mmsh://"+addr+"/"+filepath.Base(src), "-c", "copy", "-f", "asf", out)
	if st, err := os.Stat(out); err != nil || st.Size() == 0 {
		t.Fatalf("no output: %v", err)
	}
	samePackets(t, probe(t, src), probe(t, out))
}

// TestVLCPlays has VLC's mmsh access dump a file served by Handler.
func TestVLCPlays(t *testing.T) {
	needTool(t, "cvlc", "setpriv", "ffprobe")
	src := clip(t, fixture.WMV2())
	h := &Handler{Dir: filepath.Dir(src), Rate: 20}
	addr := serve(t, h)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	// t.TempDir's parent is private to root; VLC runs as nobody.
	for d := filepath.Dir(dir); d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	out := filepath.Join(dir, "out.asf")
	log := runCmd(t, 2*time.Minute, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"cvlc", "-I", "dummy", "--demux=dump", "--demuxdump-file="+out,
		"mmsh://"+addr+"/"+filepath.Base(src), "vlc://quit")
	if _, err := os.Stat(out); err != nil {
		t.Fatalf("VLC wrote nothing: %v\n%s", err, log)
	}
	samePackets(t, probe(t, src), probe(t, out))
}
